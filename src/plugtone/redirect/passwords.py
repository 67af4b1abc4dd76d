"""Signing in to the redirection service, changing and resetting passwords, and the
account-scoped API tokens.

Passwords are argon2 hashes (as ``services.accounts`` keeps plugtone's own); an unknown
address costs one verification too, so timing does not tell which addresses exist. A
reset link carries a 256-bit random token of which only the SHA-256 is stored, works
once, and expires after ``reset_minutes``; asking for one answers the same whether or
not the address is a user's (the mail simply is not sent).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update

from plugtone.inventory.store import Store
from plugtone.redirect import validate
from plugtone.redirect.actors import RcsActor
from plugtone.redirect.models import RcsAccount, RcsApiToken, RcsAudit, RcsResetToken, RcsUser
from plugtone.redirect.services import _aware, hasher
from plugtone.redirect.work import rcs_work
from plugtone.services.errors import Invalid, Unauthenticated

TOKEN_PREFIX = "rcs_"
RESET_INVALID = "This link is not valid any more: it was used, it expired, or it was never sent."


@functools.cache
def _dummy() -> str:
    return hasher.hash("plugtone rcs: no such user")


def verify_login(store: Store, email: str, password: str, via: str = "ui") -> RcsActor | None:
    dummy = _dummy()
    address = (email or "").strip().lower()
    with store.sessions() as session:
        found = session.execute(
            select(RcsUser, RcsAccount.name)
            .join(RcsAccount, RcsAccount.id == RcsUser.account_id)
            .where(RcsUser.email == address)
        ).first()
        user, account = found if found else (None, None)
        try:
            hasher.verify(user.password_hash if user else dummy, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        if hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hasher.hash(password)
            session.commit()
        return RcsActor(user.email, user.role, user.account_id, account, via)


def fingerprint(key: bytes, password_hash: str) -> str:
    """A keyed digest of the stored hash, carried in the session cookie: a changed
    password ends every session opened before it."""
    return hmac.new(key, b"rcs session\x00" + password_hash.encode(), hashlib.sha256).hexdigest()[
        :32
    ]


def session_actor(store: Store, key: bytes, email: str, print_: str) -> RcsActor | None:
    with store.sessions() as session:
        found = session.execute(
            select(RcsUser, RcsAccount.name)
            .join(RcsAccount, RcsAccount.id == RcsUser.account_id)
            .where(RcsUser.email == email)
        ).first()
        if found is None:
            return None
        user, account = found
        if not hmac.compare_digest(fingerprint(key, user.password_hash), print_):
            return None
        return RcsActor(user.email, user.role, user.account_id, account, "ui")


def current_fingerprint(store: Store, key: bytes, email: str) -> str | None:
    with store.sessions() as session:
        stored = session.scalar(select(RcsUser.password_hash).where(RcsUser.email == email))
    return None if stored is None else fingerprint(key, stored)


def change_password(store: Store, actor: RcsActor, current: str, new: str) -> None:
    """One's own password, given the current one (Users cannot change their user name)."""
    validate.password(new)
    if verify_login(store, actor.name, current) is None:
        raise validate.fail("current", "this is not your current password")
    with rcs_work(store, actor, None) as work:
        user = work.session.scalar(select(RcsUser).where(RcsUser.email == actor.name))
        user.password_hash = hasher.hash(new)
        user.password_changed_at = datetime.now(UTC)
        work.audit("update", "user", user.email, "password changed")


# -- forgotten passwords


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_reset(store: Store, email: str, minutes: int = 30) -> tuple[str, str] | None:
    """A new reset token for ``email``: ``(address, token)`` to mail, or ``None`` when the
    address is no user's (the caller answers the same either way). Earlier unused
    tokens of the user stop working."""
    try:
        address = validate.email(email)
    except Invalid:
        return None
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with store.sessions() as session:
        user = session.scalar(select(RcsUser).where(RcsUser.email == address))
        if user is None:
            return None
        session.execute(
            update(RcsResetToken)
            .where(RcsResetToken.user_id == user.id, RcsResetToken.used_at.is_(None))
            .values(used_at=now)
        )
        session.add(
            RcsResetToken(
                user_id=user.id,
                token_sha256=_digest(token),
                created_at=now,
                expires_at=now + timedelta(minutes=minutes),
            )
        )
        session.commit()
    return address, token


def reset_valid(store: Store, token: str) -> bool:
    """Whether a reset link still works (for showing its form); uses nothing up."""
    with store.sessions() as session:
        return _live(session, token) is not None


def _live(session, token: str) -> RcsResetToken | None:
    if not token or len(token) > 128:
        return None
    row = session.scalar(select(RcsResetToken).where(RcsResetToken.token_sha256 == _digest(token)))
    if row is None or row.used_at is not None or _aware(row.expires_at) <= datetime.now(UTC):
        return None
    return row


def finish_reset(store: Store, token: str, new: str) -> str:
    """Set the password a reset link is for, using the link up; the user's address."""
    validate.password(new)
    now = datetime.now(UTC)
    with store.sessions() as session:
        row = _live(session, token)
        if row is None:
            raise Unauthenticated(RESET_INVALID)
        # single use even against a concurrent replay: the update must win the row
        used = session.execute(
            update(RcsResetToken)
            .where(RcsResetToken.id == row.id, RcsResetToken.used_at.is_(None))
            .values(used_at=now)
        )
        if used.rowcount != 1:
            session.rollback()
            raise Unauthenticated(RESET_INVALID)
        user = session.get(RcsUser, row.user_id)
        user.password_hash = hasher.hash(new)
        user.password_changed_at = now
        session.add(
            RcsAudit(
                account_id=user.account_id,
                time=now,
                actor=user.email,
                via="ui",
                action="update",
                kind="user",
                key=user.email,
                summary="password reset by e-mail link",
            )
        )
        session.commit()
        return user.email


# -- API tokens scoped to an account


@dataclass(frozen=True)
class TokenView:
    id: int
    prefix: str
    role: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


def create_token(
    store: Store, actor: RcsActor, role: str = "user", account: str | None = None
) -> tuple[str, TokenView]:
    """A token acting as a User (or, made by a Super User, a Super User) of the account;
    its text is shown once."""
    role = (role or "user").strip().lower()
    if role not in ("user", "super"):
        raise validate.fail("role", f"{role!r} is not a role (user or super)")
    if role == "super":
        actor.require_super("a Super User token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with rcs_work(store, actor, account) as work:
        row = RcsApiToken(
            account_id=work.account.id,
            role=role,
            prefix=token[:10],
            token_sha256=_digest(token),
            created_by=actor.name,
            created_at=datetime.now(UTC),
        )
        work.session.add(row)
        work.session.flush()
        work.audit("create", "token", f"{row.id} ({row.prefix}...)", f"role {role}")
        return token, TokenView(row.id, row.prefix, role, actor.name, row.created_at, None)


def authenticate_token(store: Store, token: str) -> RcsActor:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise Unauthenticated("a valid API token is needed")
    with store.sessions() as session:
        found = session.execute(
            select(RcsApiToken, RcsAccount.name)
            .join(RcsAccount, RcsAccount.id == RcsApiToken.account_id)
            .where(RcsApiToken.token_sha256 == _digest(token))
        ).first()
        if found is None or found[0].revoked_at is not None:
            raise Unauthenticated("a valid API token is needed")
        row, account = found
        return RcsActor(f"token {row.prefix}...", row.role, row.account_id, account, "api")
