"""Who is asking, and what their role lets them change.

Roles are checked here, in the service layer, for every caller: the CLI, the API and
the UI cannot forget a check they never make. Viewers read; operators change phones,
extensions, directory contacts and firmware pins, and arm provisioning windows; admins
change everything else too (sites, models, branding, releases, users, tokens, settings).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from plugtone.services.errors import Denied


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"{text!r} is not a role (admin, operator or viewer)") from None

    def __str__(self) -> str:
        return self.name.lower()


KIND_ROLES: dict[str, Role] = {
    "phone": Role.OPERATOR,
    "extension": Role.OPERATOR,
    "directory": Role.OPERATOR,
    "pin": Role.OPERATOR,
    "claim": Role.OPERATOR,
    "window": Role.OPERATOR,
    "site": Role.ADMIN,
    "model": Role.ADMIN,
    "branding": Role.ADMIN,
    "release": Role.ADMIN,
    "user": Role.ADMIN,
    "token": Role.ADMIN,
    "disclosure": Role.ADMIN,
}
"""The least role that may make a change of each kind; an unlisted kind needs admin."""


@dataclass(frozen=True)
class Actor:
    """A caller: a user name, its role, and the face it came through."""

    name: str
    role: Role
    via: str = "cli"

    def can(self, role: Role) -> bool:
        return self.role >= role


def local_admin() -> Actor:
    """Whoever runs the ``plugtone`` command on the server itself.

    Reaching the data directory or the database URL already gives them everything,
    so the CLI acts as an admin, audited under the operating-system user's name.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        user = "unknown"
    return Actor(f"cli:{user}", Role.ADMIN, "cli")


def require(actor: Actor, role: Role, what: str) -> None:
    if not actor.can(role):
        raise Denied(f"{what} needs the {role} role; {actor.name} is {actor.role}")


def authorize_kinds(actor: Actor, kinds: Iterable[str]) -> None:
    """Refuse a unit of work any of whose changes is beyond the actor's role."""
    for kind in sorted(set(kinds)):
        require(actor, KIND_ROLES.get(kind, Role.ADMIN), f"changing a {kind}")
