"""Who asks the redirection service, and what their role lets them do.

The vendor's table of functions (seed 003, "Using Basic RCS Features"): a *User* has
full access to the account (statistics, preferences, own password, servers, phones,
assigning brandings, firmware and servers) but cannot add, change or delete users nor
create or edit brandings; a *Super User* can do all of it. Above every account,
plugtone's own admins (role admin of ``services.actors``) act on any account they name.
An actor of an account never reaches another account: a name it gives that is not its
own is "not found", never "forbidden", so it learns nothing of other accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugtone.services.actors import Actor, Role
from plugtone.services.errors import Denied

USER = "user"
SUPER = "super"
ADMIN = "admin"
ROLES = (USER, SUPER)


@dataclass(frozen=True)
class RcsActor:
    name: str
    """The e-mail address of an account's user, or the plugtone user's name."""
    role: str
    """``user``, ``super`` or ``admin`` (a plugtone admin, over every account)."""
    account_id: int | None
    """The actor's account; ``None`` for a plugtone admin."""
    account: str | None = None
    via: str = "ui"

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def is_super(self) -> bool:
        return self.role in (SUPER, ADMIN)

    def require_super(self, what: str) -> None:
        if not self.is_super:
            raise Denied(f"{what} is for Super Users; {self.name} is a User")

    def require_admin(self, what: str) -> None:
        if not self.is_admin:
            raise Denied(f"{what} is for plugtone admins")


def from_plugtone(actor: Actor) -> RcsActor:
    """A plugtone user as an actor of the redirection service (admins only)."""
    if not actor.can(Role.ADMIN):
        raise Denied(
            f"the redirection service's accounts are for plugtone admins; "
            f"{actor.name} is {actor.role}"
        )
    return RcsActor(actor.name, ADMIN, None, None, actor.via)
