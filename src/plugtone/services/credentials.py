"""Per-device provisioning logins, generated and shown once.

A phone with a login of its own (``phones.http_user`` / ``http_password``) proves who
it is on every request (HTTP Digest, Basic over TLS, FTP), so it gets its secrets
from anywhere, with no trusted network and no window. Typing 50 random passwords into
an inventory file is what nobody does, so plugtone makes them: the login defaults to
the phone's MAC in lower case (unique because MACs are, and what a person setting up
the phone can read off its label), the password is 20 random letters and digits from
:mod:`secrets` (about 119 bits; 20 is the most the strictest supported phone takes).

The password is handed back once, to be shown once; the store keeps it sealed
(``SecretText``), every read shows :data:`MASK`, and the audit entry says that a login
was made, never what it is.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.inventory.changes import record_narrow
from plugtone.inventory.document import MAX_HTTP_PASSWORD, Problem
from plugtone.inventory.models import Phone, Site
from plugtone.inventory.store import Store
from plugtone.macaddr import MacError, colon_mac, normalize_mac
from plugtone.services.actors import Actor
from plugtone.services.change_marks import mark_where
from plugtone.services.errors import Conflict, Invalid, NotFound
from plugtone.services.unit_of_work import MASK, unit_of_work

ALPHABET = string.ascii_letters + string.digits
"""Letters and digits only: every phone keypad and configuration file takes them."""
PASSWORD_LENGTH = MAX_HTTP_PASSWORD
CHUNK = 500
"""MACs per IN-list."""


@dataclass(frozen=True)
class IssuedLogin:
    """A login just made: the only time its password leaves the store in clear."""

    mac: str
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class CredentialsResult:
    issued: tuple[IssuedLogin, ...]
    skipped: tuple[str, ...]
    """Phones that have a login already (without ``replace``), by MAC."""
    generation: int | None


@dataclass(frozen=True)
class ClearResult:
    cleared: tuple[str, ...]
    without: tuple[str, ...]
    """Phones that had no login to clear."""
    generation: int | None


def new_password(length: int = PASSWORD_LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def default_user(mac: str) -> str:
    """The login a generated one gets: the MAC, 12 lower-case hex digits."""
    return mac.lower()


def generate_credentials(
    store: Store,
    actor: Actor,
    macs: Sequence[str] = (),
    *,
    site: str | None = None,
    replace: bool = False,
) -> CredentialsResult:
    """Make a login for each phone named (``macs``) or each phone of ``site``.

    Phones that have one already keep it and are listed as skipped, unless
    ``replace``. One transaction for all of them, audited per phone without the
    password; the inventory generation moves, so every transport checks the new
    logins at once.
    """
    with unit_of_work(store, actor) as work:
        work.authorize(["phone"])
        work.lock()
        phones = _targets(work.session, macs, site)
        chosen = [phone for phone in phones if replace or not phone.http_user]
        skipped = tuple(phone.mac for phone in phones if phone not in chosen)
        wanted = {phone.mac: default_user(phone.mac) for phone in chosen}
        _refuse_taken(work.session, wanted)
        for phone in chosen:  # let go first: two chosen phones may trade logins
            if phone.http_user is not None and phone.http_user != wanted[phone.mac]:
                phone.http_user = None
        work.session.flush()
        issued = []
        for phone in chosen:
            before = _fields(phone)
            phone.http_user = wanted[phone.mac]
            phone.http_password = new_password()
            issued.append(IssuedLogin(phone.mac, phone.http_user, phone.http_password))
            summary = "provisioning login replaced" if before["http_user"] else (
                "provisioning login generated"
            )  # fmt: skip
            work.audit("credentials", "phone", phone.mac, summary, before, _fields(phone))
        work.session.flush()
        generation = work.bump() if issued else None
        if generation is not None:
            mark_where(work.session, generation, [Phone.mac.in_([i.mac for i in issued])])
            record_narrow(work.session, generation)
        return CredentialsResult(tuple(issued), skipped, generation)


def clear_credentials(
    store: Store, actor: Actor, macs: Sequence[str] = (), *, site: str | None = None
) -> ClearResult:
    """Remove the login of each phone named: it is then trusted only by network or
    window again, as every phone without one is."""
    with unit_of_work(store, actor) as work:
        work.authorize(["phone"])
        work.lock()
        phones = _targets(work.session, macs, site)
        cleared = []
        for phone in phones:
            if not phone.http_user and not phone.http_password:
                continue
            before = _fields(phone)
            phone.http_user = None
            phone.http_password = None
            cleared.append(phone.mac)
            work.audit("credentials", "phone", phone.mac, "provisioning login cleared", before,
                       _fields(phone))  # fmt: skip
        work.session.flush()
        generation = work.bump() if cleared else None
        if generation is not None:
            mark_where(work.session, generation, [Phone.mac.in_(cleared)])
            record_narrow(work.session, generation)
        without = tuple(phone.mac for phone in phones if phone.mac not in cleared)
        return ClearResult(tuple(cleared), without, generation)


def _fields(phone: Phone) -> dict[str, str | None]:
    """What the audit log keeps of a login: the user, and whether there is a password."""
    return {"http_user": phone.http_user, "http_password": MASK if phone.http_password else None}


def _targets(session: Session, macs: Sequence[str], site: str | None) -> list[Phone]:
    """The phones named, in the order given (or the site's, by MAC); unknown ones refused,
    all named in one message."""
    if bool(macs) == (site is not None):
        raise Invalid([Problem("phones", "name phones by MAC, or a site (not both)")])
    if site is not None:
        site_id = session.scalar(select(Site.id).where(Site.name == site))
        if site_id is None:
            raise NotFound(f"no site {site}")
        return list(
            session.scalars(select(Phone).where(Phone.site_id == site_id).order_by(Phone.mac))
        )
    wanted = normalized_macs(macs)
    found: dict[str, Phone] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        found.update(
            (phone.mac, phone)
            for phone in session.scalars(select(Phone).where(Phone.mac.in_(chunk)))
        )
    missing = [mac for mac in wanted if mac not in found]
    if missing:
        raise NotFound(_not_phones(missing))
    return [found[mac] for mac in wanted]


def _not_phones(missing: Sequence[str]) -> str:
    shown = ", ".join(colon_mac(mac) for mac in missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    return f"not phones in the inventory: {shown}{more}"


def _refuse_taken(session: Session, wanted: dict[str, str]) -> None:
    """A login another phone (not among those getting one now) holds is refused."""
    users = list(wanted.values())
    holders: dict[str, str] = {}
    for start in range(0, len(users), CHUNK):
        chunk = users[start : start + CHUNK]
        holders.update(
            session.execute(
                select(Phone.http_user, Phone.mac).where(Phone.http_user.in_(chunk))
            ).all()
        )
    clashes = [
        f"{user!r} belongs to phone {colon_mac(holder)}"
        for mac, user in wanted.items()
        if (holder := holders.get(user)) is not None and holder != mac and holder not in wanted
    ]
    if clashes:
        raise Conflict("provisioning login " + "; ".join(clashes[:5]) + ": change that phone's"
                       " http_user first")  # fmt: skip


def normalized_macs(texts: Iterable[str]) -> list[str]:
    """MACs in any notation, normalised, each once; bad ones refused together, each
    named by its position (``macs[2]``)."""
    result: list[str] = []
    problems = []
    for index, text in enumerate(texts):
        try:
            mac = normalize_mac(text)
        except MacError as error:
            problems.append(Problem(f"macs[{index}]", str(error)))
            continue
        if mac not in result:
            result.append(mac)
    if problems:
        raise Invalid(problems)
    return result
