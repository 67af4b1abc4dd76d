"""The redirection service's pages for an account's people: login and logout, forgot
password, the Summary page and Preferences (``/rcs/...`` on the admin listener).

Sessions: ``rcs_sessions`` (a cookie of their own beside the admin UI's). Logins are
throttled as the admin UI's are and answer one message whether or not the address is
a user's. "Forgot Password?" answers the same page whatever the address, sends the
mail from a thread after the answer is decided (the SMTP server of ``[rcs]``), and the
link it carries works once and expires; a used, expired or made-up link reads the same.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from plugtone.redirect import mail, passwords
from plugtone.redirect import services as rcs
from plugtone.redirect.config import rcs_settings
from plugtone.services.errors import Invalid, Unauthenticated
from plugtone.web.ui import rcs_sessions, sessions
from plugtone.web.ui.auth import Refused, same_origin
from plugtone.web.ui.rcs_sessions import check_post, page, to_login, visit
from plugtone.web.ui.throttle import MESSAGE as THROTTLED

router = APIRouter()
WRONG = "Wrong username or password."
LOGGED_OUT = "Logout Successful."
"""What the vendor's service shows after a logout (seed 003, "Logging Out")."""
Field = Annotated[str, Form(max_length=1024)]


def _next(target: str | None) -> str:
    if target and target.startswith("/rcs") and not target.startswith("//") and "\\" not in target:
        return target
    return "/rcs"


def _pre_login(request: Request, template: str, status: int = 200, **values) -> Response:
    """A page with a form bound to a fresh pre-login cookie (CSRF before any session)."""
    signing = rcs_sessions.key(request)
    cookie, value = sessions.new_login_cookie(signing)
    response = page(
        request, None, template, status, login_csrf=sessions.csrf_token(signing, value), **values
    )
    response.set_cookie(
        rcs_sessions.LOGIN_COOKIE,
        cookie,
        max_age=sessions.LOGIN_LIFETIME,
        path="/rcs",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _check_pre_login(request: Request, csrf: str) -> None:
    signing = rcs_sessions.key(request)
    bound = sessions.login_nonce(signing, request.cookies.get(rcs_sessions.LOGIN_COOKIE))
    if not same_origin(request) or not sessions.csrf_ok(signing, bound, csrf):
        raise Refused(403, "This form is out of date; reload the page and try again.")


@router.get("/rcs/login")
def login_form(request: Request, next: str = "/rcs", out: str = "") -> Response:
    if visit(request) is not None:
        return RedirectResponse(_next(next), status_code=303)
    message = LOGGED_OUT if out else None
    return _pre_login(
        request, "rcs_login.html", error=None, email="", next=_next(next), message=message
    )


@router.post("/rcs/login")
def login(
    request: Request,
    email: Field = "",
    password: Field = "",
    csrf: Field = "",
    next: Field = "/rcs",
) -> Response:
    _check_pre_login(request, csrf)
    throttle = request.app.state.ui.throttle
    address = request.client.host if request.client else "?"
    name = email.strip().lower()[:254]
    if not throttle.allowed(f"rcs:{name}", address):
        return _pre_login(
            request, "rcs_login.html", 429, error=THROTTLED, email=name, next=_next(next)
        )
    store = request.app.state.store
    actor = passwords.verify_login(store, name, password) if name and password else None
    if actor is None:
        throttle.failed(f"rcs:{name}", address)
        return _pre_login(request, "rcs_login.html", 401, error=WRONG, email=name, next=_next(next))
    throttle.succeeded(f"rcs:{name}")
    response = RedirectResponse(_next(next), status_code=303)
    rcs_sessions.open_session(request, response, actor.name)
    response.delete_cookie(rcs_sessions.LOGIN_COOKIE, path="/rcs")
    return response


@router.post("/rcs/logout")
def logout(request: Request, csrf: Field = "") -> Response:
    check_post(request, csrf)
    response = RedirectResponse("/rcs/login?out=1", status_code=303)
    rcs_sessions.clear(request, response)
    return response


@router.get("/rcs/forgot")
def forgot_form(request: Request) -> Response:
    return _pre_login(request, "rcs_forgot.html", sent=False, minutes=0)


@router.post("/rcs/forgot")
def forgot(request: Request, email: Field = "", csrf: Field = "") -> Response:
    _check_pre_login(request, csrf)
    settings = rcs_settings(request.app.state.settings.data_dir)
    address = request.client.host if request.client else "?"
    throttle = request.app.state.ui.throttle
    name = email.strip().lower()[:254]
    if throttle.allowed(f"rcs-reset:{name}", address):
        throttle.failed(f"rcs-reset:{name}", address)  # each request counts, found or not
        started = passwords.start_reset(request.app.state.store, name, settings.reset_minutes)
        if started is not None:
            to, token = started
            base = (settings.public_url or str(request.base_url)).rstrip("/")
            message = mail.reset_message(
                settings, to, f"{base}/rcs/reset/{token}", settings.reset_minutes
            )
            threading.Thread(
                target=mail.send, args=(settings, message), daemon=True, name="rcs-reset-mail"
            ).start()
    return _pre_login(request, "rcs_forgot.html", sent=True, minutes=settings.reset_minutes)


@router.get("/rcs/reset/{token}")
def reset_form(request: Request, token: str) -> Response:
    if not passwords.reset_valid(request.app.state.store, token[:128]):
        return _pre_login(request, "rcs_reset.html", 410, invalid=passwords.RESET_INVALID)
    return _pre_login(request, "rcs_reset.html", invalid=None, token=token, error=None)


@router.post("/rcs/reset")
def reset(
    request: Request, token: Field = "", new: Field = "", again: Field = "", csrf: Field = ""
) -> Response:
    _check_pre_login(request, csrf)
    if new != again:
        return _pre_login(
            request,
            "rcs_reset.html",
            422,
            invalid=None,
            token=token,
            error="The two passwords differ.",
        )
    try:
        email = passwords.finish_reset(request.app.state.store, token[:128], new)
    except Invalid as error:
        return _pre_login(
            request, "rcs_reset.html", 422, invalid=None, token=token, error=error.message
        )
    except Unauthenticated as error:
        return _pre_login(request, "rcs_reset.html", 410, invalid=error.message)
    response = RedirectResponse("/rcs", status_code=303)
    rcs_sessions.open_session(request, response, email)
    return response


@router.get("/rcs")
def summary(request: Request) -> Response:
    found = visit(request)
    if found is None:
        return to_login(request)
    store = request.app.state.store
    return page(
        request,
        found,
        "rcs_summary.html",
        stats=rcs.stats(store, found.actor),
        audit=rcs.audit_log(store, found.actor, limit=20),
    )


@router.get("/rcs/preferences")
def preferences(request: Request, changed: str = "") -> Response:
    found = visit(request)
    if found is None:
        return to_login(request)
    me = rcs.preferences(request.app.state.store, found.actor)
    message = "Password changed." if changed else None
    return page(request, found, "rcs_preferences.html", me=me, message=message)


@router.post("/rcs/preferences")
def save_preferences(
    request: Request,
    name: Field = "",
    address: Field = "",
    phone1: Field = "",
    phone2: Field = "",
    csrf: Field = "",
) -> Response:
    found = check_post(request, csrf)
    store = request.app.state.store
    try:
        me = rcs.set_preferences(store, found.actor, name, address, phone1, phone2)
    except Invalid as error:
        me = rcs.UserView(found.actor.name, found.actor.role, name, address, phone1, phone2)
        return page(request, found, "rcs_preferences.html", 422, me=me, error=error.message)
    return page(request, found, "rcs_preferences.html", me=me, message="Preferences saved.")


@router.post("/rcs/password")
def change_password(
    request: Request, current: Field = "", new: Field = "", again: Field = "", csrf: Field = ""
) -> Response:
    found = check_post(request, csrf)
    store = request.app.state.store
    me = rcs.preferences(store, found.actor)
    throttle = request.app.state.ui.throttle
    address = request.client.host if request.client else "?"
    error = None
    if not throttle.allowed(f"rcs:{found.actor.name}", address):
        error = THROTTLED
    elif new != again:
        error = "The two new passwords differ."
    else:
        try:
            passwords.change_password(store, found.actor, current, new)
        except Invalid as refused:
            throttle.failed(f"rcs:{found.actor.name}", address)
            error = refused.message
    if error:
        return page(request, found, "rcs_preferences.html", 422, me=me, password_error=error)
    # the old session ended with the old password: a new one, as the admin UI does
    fresh = RedirectResponse("/rcs/preferences?changed=1", status_code=303)
    rcs_sessions.open_session(request, fresh, found.actor.name)
    return fresh
