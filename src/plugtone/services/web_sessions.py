"""Who a browser session stands for, checked again at every request.

A UI session cookie names a user and carries a fingerprint of the password hash it
was opened with (:func:`password_fingerprint`); each request looks the user up, so a
removed user, a changed role or a changed password takes effect on the next click,
with no session table to keep: changing the password ends every other session.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select

from plugtone.inventory.models import User
from plugtone.inventory.store import Store
from plugtone.services.actors import Actor, Role


def password_fingerprint(key: bytes, password_hash: str) -> str:
    """A keyed digest of the stored hash: tells hashes apart, reveals nothing of one."""
    digest = hmac.new(key, b"ui session\x00" + password_hash.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def session_actor(store: Store, key: bytes, name: str, fingerprint: str,
                  via: str = "ui") -> Actor | None:  # fmt: skip
    """The actor of a session for ``name`` opened under ``fingerprint``; ``None`` when
    the user is gone or its password changed since."""
    with store.sessions() as session:
        found = session.execute(select(User.role, User.password_hash).where(User.name == name))
        row = found.first()
    if row is None:
        return None
    role, password_hash = row
    if not hmac.compare_digest(password_fingerprint(key, password_hash), fingerprint):
        return None
    return Actor(name, Role.parse(role), via)


def current_fingerprint(store: Store, key: bytes, name: str) -> str | None:
    """The fingerprint of ``name``'s password hash now (after a login or a change)."""
    with store.sessions() as session:
        password_hash = session.scalar(select(User.password_hash).where(User.name == name))
    return None if password_hash is None else password_fingerprint(key, password_hash)
