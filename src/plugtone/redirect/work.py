"""One unit of work of the redirection service, inside one account.

Built on the store's own :func:`~plugtone.services.unit_of_work.unit_of_work` (one
transaction, rolled back on any error, "store busy" mapped) but audited in the
service's own log (``rcs_audit``), per account: an account's people read their own
audit, never plugtone's. Nothing here bumps the inventory generation: the phone-facing
answer reads these tables at each request and caches nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.inventory.store import Store
from plugtone.redirect.actors import RcsActor
from plugtone.redirect.models import RcsAccount, RcsAudit
from plugtone.services.actors import Actor, Role
from plugtone.services.errors import Invalid, NotFound
from plugtone.services.unit_of_work import unit_of_work


@dataclass
class RcsWork:
    session: Session
    actor: RcsActor
    account: RcsAccount
    audits: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def audit(self, action: str, kind: str, key: str, summary: str | None = None) -> None:
        self.audits.append((action, kind, key, summary))


def _store_actor(actor: RcsActor) -> Actor:
    # the store's unit of work checks no role by itself; this service checks its own
    return Actor(f"rcs:{actor.name}", Role.VIEWER, actor.via)


def find_account(session: Session, actor: RcsActor, name: str | None) -> RcsAccount:
    """The account an actor works in: its own (a name given must be its own), or, for a
    plugtone admin, the one named. Any other name is "not found", as a name that is no
    account at all would be."""
    if actor.account_id is not None:
        account = session.get(RcsAccount, actor.account_id)
        if account is None or (name is not None and name.strip() != account.name):
            raise NotFound(f"no account {name!r}")
        return account
    if not name:
        raise Invalid([], "name the account (--account NAME)")
    account = session.scalar(select(RcsAccount).where(RcsAccount.name == name.strip()))
    if account is None:
        raise NotFound(f"no account {name!r}")
    return account


@contextmanager
def rcs_work(store: Store, actor: RcsActor, account: str | None) -> Iterator[RcsWork]:
    with unit_of_work(store, _store_actor(actor)) as base:
        work = RcsWork(base.session, actor, find_account(base.session, actor, account))
        yield work
        now = datetime.now(UTC)
        for action, kind, key, summary in work.audits:
            base.session.add(
                RcsAudit(
                    account_id=work.account.id,
                    time=now,
                    actor=actor.name[:254],
                    via=actor.via,
                    action=action,
                    kind=kind,
                    key=key[:255],
                    summary=summary,
                )
            )


@contextmanager
def rcs_reading(store: Store, actor: RcsActor, account: str | None) -> Iterator[RcsWork]:
    session = store.sessions()
    try:
        yield RcsWork(session, actor, find_account(session, actor, account))
    finally:
        session.rollback()
        session.close()
