"""Users, their passwords and their API tokens.

Passwords are kept as argon2 hashes (argon2-cffi's defaults, rehashed when those
change). API tokens are 256-bit random strings shown once; the store keeps their
SHA-256, so a stolen database yields no usable token and a request is checked with
one indexed lookup. Every change here is audited like an inventory change.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select

from plugtone.inventory.document import Problem
from plugtone.inventory.models import ApiToken, User
from plugtone.inventory.store import Store
from plugtone.services.actors import Actor, Role, require
from plugtone.services.errors import Conflict, Invalid, NotFound, Unauthenticated
from plugtone.services.unit_of_work import reading, unit_of_work

USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
TOKEN_PREFIX = "pt_"
FIRST_ADMIN = "admin"

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """What an unknown name's password is checked against. Made at the first login
    check, not at import: hashing costs as much as a login, and every ``plugtone``
    command imports this module."""
    return _hasher.hash("plugtone: no such user")


@dataclass(frozen=True)
class UserView:
    name: str
    role: str
    created_at: datetime
    password_changed_at: datetime
    tokens: int


@dataclass(frozen=True)
class TokenView:
    id: int
    user: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= datetime.now(UTC):
            return "expired"
        return "active"


def _check_name(name: str) -> None:
    if not USER_RE.match(name or ""):
        raise Invalid([Problem("name", f"{name!r} is not a user name (letters, digits, _.@-)")])


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(
            [Problem("password", f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")]
        )


def add_user(store: Store, actor: Actor, name: str, role: str | Role, password: str) -> UserView:
    _check_name(name)
    _check_password(password)
    wanted = role if isinstance(role, Role) else _role(role)
    with unit_of_work(store, actor) as work:
        work.require(Role.ADMIN, "adding a user")
        if work.session.scalar(select(User.id).where(User.name == name)) is not None:
            raise Conflict(f"user {name!r} already exists")
        now = datetime.now(UTC)
        user = User(name=name, role=str(wanted), password_hash=_hasher.hash(password),
                    created_at=now, password_changed_at=now)  # fmt: skip
        work.session.add(user)
        work.audit("create", "user", name, f"role {wanted}", None, {"role": str(wanted)})
        work.session.flush()
        return UserView(name, str(wanted), now, now, 0)


def _role(text: str) -> Role:
    try:
        return Role.parse(text)
    except ValueError as error:
        raise Invalid([Problem("role", str(error))]) from None


def list_users(store: Store, actor: Actor) -> list[UserView]:
    require(actor, Role.ADMIN, "listing users")
    with reading(store, actor) as session:
        counts = dict(
            session.execute(
                select(ApiToken.user_id, func.count(ApiToken.id))
                .where(ApiToken.revoked_at.is_(None))
                .group_by(ApiToken.user_id)
            ).all()
        )
        return [
            UserView(
                user.name,
                user.role,
                _aware(user.created_at),
                _aware(user.password_changed_at),
                counts.get(user.id, 0),
            )
            for user in session.scalars(select(User).order_by(User.name))
        ]


def remove_user(store: Store, actor: Actor, name: str) -> None:
    with unit_of_work(store, actor) as work:
        work.require(Role.ADMIN, "removing a user")
        user = _user(work.session, name)
        if user.role == str(Role.ADMIN):
            _keep_an_admin(work.session, name)
        work.session.delete(user)
        work.audit("delete", "user", name, None, {"role": user.role}, None)


def set_password(store: Store, actor: Actor, name: str, password: str) -> None:
    """An admin sets anyone's password; anyone may set their own."""
    _check_password(password)
    with unit_of_work(store, actor) as work:
        if actor.name != name:
            work.require(Role.ADMIN, "setting another user's password")
        user = _user(work.session, name)
        user.password_hash = _hasher.hash(password)
        user.password_changed_at = datetime.now(UTC)
        work.audit("update", "user", name, "password changed")


def set_role(store: Store, actor: Actor, name: str, role: str) -> None:
    wanted = _role(role)
    with unit_of_work(store, actor) as work:
        work.require(Role.ADMIN, "changing a user's role")
        user = _user(work.session, name)
        if user.role == str(wanted):
            return
        if user.role == str(Role.ADMIN):
            _keep_an_admin(work.session, name)
        before = user.role
        user.role = str(wanted)
        work.audit("update", "user", name, f"role {before} -> {wanted}",
                   {"role": before}, {"role": str(wanted)})  # fmt: skip


def verify_password(store: Store, name: str, password: str, via: str = "ui") -> Actor | None:
    """The user's actor when ``password`` is right, else ``None``.

    An unknown name costs one argon2 verification too, so timing does not tell which
    names exist.
    """
    dummy = _dummy_hash()  # before the look-up: the first check costs the same either way
    with store.sessions() as session:
        user = session.scalar(select(User).where(User.name == name))
        stored = user.password_hash if user else dummy
        try:
            _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        if _hasher.check_needs_rehash(stored):
            user.password_hash = _hasher.hash(password)
            session.commit()
        return Actor(user.name, Role.parse(user.role), via)


def _keep_an_admin(session, name: str) -> None:
    """Refuse to remove or demote the only admin: nobody could manage users after."""
    admins = session.scalar(select(func.count(User.id)).where(User.role == str(Role.ADMIN)))
    if admins == 1:
        raise Conflict(f"{name!r} is the last admin; add another admin first")


def _user(session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def create_token(
    store: Store, actor: Actor, user_name: str, expires_days: int | None = None
) -> tuple[str, TokenView]:
    """A new token for ``user_name``: its text (shown once, never stored) and its record."""
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise Invalid([Problem("expires", "a token expires after 1 to 3650 days")])
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with unit_of_work(store, actor) as work:
        if actor.name != user_name:
            work.require(Role.ADMIN, "creating a token for another user")
        user = _user(work.session, user_name)
        now = datetime.now(UTC)
        row = ApiToken(
            user_id=user.id, prefix=token[: len(TOKEN_PREFIX) + 6],
            token_sha256=_digest(token), created_at=now,
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
        )  # fmt: skip
        work.session.add(row)
        work.session.flush()
        work.audit("create", "token", f"{row.id} ({row.prefix}...)", f"for {user_name}")
        return token, _token_view(row, user_name)


def list_tokens(store: Store, actor: Actor, user_name: str | None = None) -> list[TokenView]:
    with reading(store, actor) as session:
        if user_name != actor.name:
            require(actor, Role.ADMIN, "listing other users' tokens")
        query = select(ApiToken, User.name).join(User, User.id == ApiToken.user_id)
        if user_name:
            query = query.where(User.name == user_name)
        rows = session.execute(query.order_by(ApiToken.id))
        return [_token_view(row, name) for row, name in rows]


def revoke_token(store: Store, actor: Actor, which: str) -> TokenView:
    """Revoke a token named by its id or its shown prefix."""
    with unit_of_work(store, actor) as work:
        query = select(ApiToken, User.name).join(User, User.id == ApiToken.user_id)
        if which.isdigit():
            query = query.where(ApiToken.id == int(which))
        else:
            query = query.where(ApiToken.prefix == which.rstrip("."))
        found = work.session.execute(query).all()
        if len(found) != 1:
            what = "names several tokens" if found else "is no token"
            raise NotFound(f"{which!r} {what}")
        row, owner = found[0]
        if owner != actor.name:
            work.require(Role.ADMIN, "revoking another user's token")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            work.audit("revoke", "token", f"{row.id} ({row.prefix}...)", f"of {owner}")
        return _token_view(row, owner)


def authenticate_token(store: Store, token: str, via: str = "api") -> Actor:
    """The actor a bearer token stands for; :class:`Unauthenticated` otherwise."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise Unauthenticated("a valid API token is needed")
    now = datetime.now(UTC)
    with store.sessions() as session:
        found = session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_sha256 == _digest(token))
        ).first()
        if found is None:
            raise Unauthenticated("a valid API token is needed")
        row, user = found
        expires = _aware(row.expires_at)
        if row.revoked_at is not None or (expires is not None and expires <= now):
            raise Unauthenticated("this API token is revoked or expired")
        last = _aware(row.last_used_at)
        if last is None or now - last > timedelta(minutes=1):
            row.last_used_at = now
            session.commit()
        return Actor(user.name, Role.parse(user.role), via)


def ensure_first_admin(store: Store, password: str | None = None) -> str | None:
    """Create the user ``admin`` when there are no users; its password, or ``None``.

    With no ``password`` given, a random one is made: the caller shows it once.
    """
    with store.sessions() as session:
        if session.scalar(select(func.count(User.id))):
            return None
    chosen = password or secrets.token_urlsafe(12)
    system = Actor("plugtone init", Role.ADMIN, "cli")
    add_user(store, system, FIRST_ADMIN, Role.ADMIN, chosen)
    return chosen


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _token_view(row: ApiToken, user: str) -> TokenView:
    return TokenView(row.id, user, row.prefix, _aware(row.created_at), _aware(row.expires_at),
                     _aware(row.revoked_at), _aware(row.last_used_at))  # fmt: skip
