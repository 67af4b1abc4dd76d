"""Sessions of the redirection service's people on the admin listener.

An account's Users and Super Users are not plugtone users: they sign in at
``/rcs/login`` with their e-mail address, and their session is a cookie of its own,
``plugtone_rcs_session``, scoped to ``/rcs`` and signed under a key derived from (never
equal to) the admin UI's session key. The two kinds of session coexist in one browser
and never stand in for each other: the admin pages read only ``plugtone_session`` and
look its user up among plugtone's users, the ``/rcs`` pages read only this cookie and
look its user up among the accounts' users; a plugtone admin manages accounts through
the CLI and the API. The cookie's shape, lifetimes, CSRF binding and pre-login cookie
are the admin UI's own (``sessions``); its fingerprint is of the RCS user's password
hash, so a changed or reset password ends every session opened before.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from plugtone.redirect import passwords
from plugtone.redirect.actors import RcsActor
from plugtone.web.ui import sessions
from plugtone.web.ui.auth import Refused, same_origin

COOKIE = "plugtone_rcs_session"
LOGIN_COOKIE = "plugtone_rcs_login"
PATH = "/rcs"


def key(request: Request) -> bytes:
    return hmac.new(request.app.state.ui.key(), b"rcs ui session", hashlib.sha256).digest()


@dataclass
class RcsVisit:
    actor: RcsActor
    session: sessions.SessionData
    csrf: str
    renewed: str | None = None


def visit(request: Request) -> RcsVisit | None:
    cached = request.scope.get("plugtone.rcs_visit")
    if cached is not None:
        return cached or None
    signing = key(request)
    data = sessions.decode(signing, request.cookies.get(COOKIE))
    found = None
    now = time.time()
    if data is not None and not data.expired(now):
        actor = passwords.session_actor(
            request.app.state.store, signing, data.user, data.fingerprint
        )
        if actor is not None:
            renewed = None
            if data.stale(now):
                data = sessions.SessionData(data.user, data.fingerprint, data.sid, data.issued, now)
                renewed = sessions.encode(signing, data)
            found = RcsVisit(actor, data, sessions.csrf_token(signing, data.sid), renewed)
    request.scope["plugtone.rcs_visit"] = found or False
    return found


def to_login(request: Request) -> Response:
    from urllib.parse import quote

    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/rcs/login?next={quote(target, safe='/')}", status_code=303)


def check_post(request: Request, token: str | None) -> RcsVisit:
    if not same_origin(request):
        raise Refused(403, "This form was posted from another site.")
    found = visit(request)
    if found is None:
        raise Refused(403, "Your session has ended; sign in again.")
    if not sessions.csrf_ok(key(request), found.session.sid, token):
        raise Refused(
            403,
            "This form's security token is missing or out of date; reload the page and try again.",
        )
    return found


def open_session(request: Request, response: Response, email: str) -> None:
    signing = key(request)
    fingerprint = passwords.current_fingerprint(request.app.state.store, signing, email)
    assert fingerprint is not None
    value = sessions.encode(signing, sessions.new_session(email, fingerprint))
    set_cookie(request, response, value)


def set_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=sessions.ABSOLUTE,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def page(
    request: Request, found: RcsVisit | None, template: str, status: int = 200, **values: Any
) -> HTMLResponse:
    env = request.app.state.ui.templates
    html = env.get_template(template).render(
        request=request,
        rcs=found.actor if found else None,
        csrf=found.csrf if found else "",
        path=request.url.path,
        **values,
    )
    response = HTMLResponse(html, status_code=status)
    if found is not None and found.renewed:
        set_cookie(request, response, found.renewed)
    return response
