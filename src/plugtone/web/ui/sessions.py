"""Signed session cookies and the CSRF tokens bound to them.

No session table: the cookie is ``base64url(JSON) "." base64url(HMAC-SHA256)`` under a
key derived from the store's secret key (:func:`session_key`, as the phone side derives
its nonce key), so every node sharing the store accepts it and ``plugtone rotate-key``
ends every session. It carries:

``u``  the user name;
``f``  a fingerprint of the user's password hash (``services.web_sessions``): a changed
       password ends every session opened before;
``s``  a random session id, to which the CSRF token is bound (:func:`csrf_token`);
``i``  when it was issued (the absolute lifetime, :data:`ABSOLUTE`);
``a``  when it was last used (the idle lifetime, :data:`IDLE`), renewed at most once a
       minute.

The cookie is HttpOnly, SameSite=Strict, Secure when the admin listener speaks HTTPS,
and scoped to ``/``. Forms carry the CSRF token in a hidden field; the login form,
before any session, is bound to a short-lived pre-login cookie the same way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from plugtone.inventory.secret_keys import SecretKeyError
from plugtone.inventory.store import Store

COOKIE = "plugtone_session"
LOGIN_COOKIE = "plugtone_login"
IDLE = 30 * 60
"""Seconds of inactivity after which a session ends."""
ABSOLUTE = 12 * 3600
"""Seconds after login after which a session ends, however busy."""
RENEW = 60
"""A session's last-use stamp is renewed when older than this (one Set-Cookie a minute)."""
LOGIN_LIFETIME = 3600
LABEL = b"plugtone ui session v1"


def session_key(secret_key: bytes) -> bytes:
    """The key cookies are signed with: HMAC of the store's key and a fixed label, so it
    is never the key that seals secrets, and changes with ``rotate-key``."""
    return hmac.new(secret_key, LABEL, hashlib.sha256).digest()


class KeySource:
    """The session key of ``store``'s current secret key; a key of this process alone
    when the store has none (sessions then hold on this node only)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._fallback = secrets.token_bytes(32)

    def __call__(self) -> bytes:
        try:
            secret = self.store.keys.keyring().current
        except SecretKeyError:
            secret = self._fallback
        return session_key(secret)


@dataclass(frozen=True)
class SessionData:
    user: str
    fingerprint: str
    sid: str
    issued: float
    used: float

    def expired(self, now: float) -> bool:
        return now - self.issued > ABSOLUTE or now - self.used > IDLE or self.used > now + 60

    def stale(self, now: float) -> bool:
        """Whether its last-use stamp should be renewed now."""
        return now - self.used > RENEW


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: bytes) -> str:
    return _b64(hmac.new(key, b"cookie\x00" + payload, hashlib.sha256).digest())


def encode(key: bytes, data: SessionData) -> str:
    body = {"u": data.user, "f": data.fingerprint, "s": data.sid, "i": int(data.issued),
            "a": int(data.used)}  # fmt: skip
    payload = json.dumps(body, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_sign(key, payload)}"


def decode(key: bytes, cookie: str | None) -> SessionData | None:
    """The session a cookie holds, if it is one this key signed; never raises."""
    if not cookie or len(cookie) > 1024 or cookie.count(".") != 1:
        return None
    text, signature = cookie.split(".")
    try:
        payload = _unb64(text)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(_sign(key, payload), signature):
        return None
    try:
        body = json.loads(payload)
        return SessionData(str(body["u"]), str(body["f"]), str(body["s"]), float(body["i"]),
                           float(body["a"]))  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None


def new_session(user: str, fingerprint: str, now: float | None = None) -> SessionData:
    now = time.time() if now is None else now
    return SessionData(user, fingerprint, secrets.token_hex(16), now, now)


def csrf_token(key: bytes, bound_to: str) -> str:
    """The token forms carry for the session (or pre-login cookie) ``bound_to``."""
    return hmac.new(key, b"csrf\x00" + bound_to.encode(), hashlib.sha256).hexdigest()


def csrf_ok(key: bytes, bound_to: str | None, given: str | None) -> bool:
    if not bound_to or not given:
        return False
    return hmac.compare_digest(csrf_token(key, bound_to), given)


def login_nonce(key: bytes, cookie: str | None, now: float | None = None) -> str | None:
    """The pre-login value a login cookie carries, if it is ours and recent."""
    if not cookie or cookie.count(".") != 1 or len(cookie) > 256:
        return None
    value, signature = cookie.split(".")
    if not hmac.compare_digest(_sign(key, value.encode()), signature):
        return None
    stamp, _, _ = value.partition("-")
    now = time.time() if now is None else now
    if not stamp.isdigit() or not 0 <= now - int(stamp) <= LOGIN_LIFETIME:
        return None
    return value


def new_login_cookie(key: bytes, now: float | None = None) -> tuple[str, str]:
    """A fresh pre-login cookie and the value it carries."""
    now = time.time() if now is None else now
    value = f"{int(now)}-{secrets.token_hex(12)}"
    return f"{value}.{_sign(key, value.encode())}", value
