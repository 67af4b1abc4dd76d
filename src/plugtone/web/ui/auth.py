"""Who a UI request comes from, and the checks every form post passes.

:func:`visit` reads the session cookie, checks its signature and lifetimes, and asks
the service layer who the user is now (``services.web_sessions``): a gone user, a
changed password or an expired session is no visit. :func:`check_post` refuses (403) a
post without a session, with a CSRF token that is not the session's, or from another
origin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from plugtone.services.actors import Actor
from plugtone.services.web_sessions import session_actor
from plugtone.web.ui import sessions
from plugtone.web.ui.sessions import COOKIE, SessionData


class LoginNeeded(Exception):
    """A page was asked for without a valid session: off to the login page."""


class Refused(Exception):
    """A request the UI refuses, shown as a page with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Visit:
    actor: Actor
    session: SessionData
    csrf: str
    renewed: str | None = None
    """A cookie value to send back (the last-use stamp renewed), or ``None``."""


def key(request: Request) -> bytes:
    return request.app.state.ui.key()


def visit(request: Request) -> Visit | None:
    """The signed-in user of this request, or ``None``."""
    cached = request.scope.get("plugtone.visit")
    if cached is not None:
        return cached or None
    signing = key(request)
    data = sessions.decode(signing, request.cookies.get(COOKIE))
    found: Visit | None = None
    now = time.time()
    if data is not None and not data.expired(now):
        actor = session_actor(request.app.state.store, signing, data.user, data.fingerprint)
        if actor is not None:
            renewed = None
            if data.stale(now):
                data = SessionData(data.user, data.fingerprint, data.sid, data.issued, now)
                renewed = sessions.encode(signing, data)
            found = Visit(actor, data, sessions.csrf_token(signing, data.sid), renewed)
    request.scope["plugtone.visit"] = found or False
    return found


def signed_in(request: Request) -> Visit:
    """The visit, or :class:`LoginNeeded`."""
    found = visit(request)
    if found is None:
        raise LoginNeeded()
    return found


def same_origin(request: Request) -> bool:
    """A browser names the page's origin on a post; a post from another site is refused
    even before its (missing) token is looked at."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def check_post(request: Request, token: str | None) -> Visit:
    """The visit of a form post whose CSRF token and origin are right; 403 otherwise."""
    if not same_origin(request):
        raise Refused(403, "This form was posted from another site.")
    found = visit(request)
    if found is None:
        raise Refused(403, "Your session has ended; sign in again.")
    if not sessions.csrf_ok(key(request), found.session.sid, token):
        raise Refused(403, "This form's security token is missing or out of date; "
                      "reload the page and try again.")  # fmt: skip
    return found


def set_session(request: Request, response: Response, value: str) -> None:
    response.set_cookie(COOKIE, value, max_age=sessions.ABSOLUTE, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")  # fmt: skip


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")  # fmt: skip
