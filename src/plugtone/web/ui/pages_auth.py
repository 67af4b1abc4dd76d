"""Signing in and out, and changing one's password.

The login form is bound to a pre-login cookie (CSRF before any session); failures are
throttled per account and per address (``throttle``) and answered with one message
whether or not the account exists. A password change asks for the current password,
opens a new session under the new password's fingerprint, and so ends every other.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from plugtone.services.accounts import set_password, verify_password
from plugtone.services.errors import Invalid
from plugtone.services.web_sessions import current_fingerprint
from plugtone.web.ui import sessions
from plugtone.web.ui.auth import (
    Refused,
    Visit,
    check_post,
    clear_session,
    key,
    same_origin,
    set_session,
    signed_in,
    visit,
)
from plugtone.web.ui.render import page
from plugtone.web.ui.sessions import LOGIN_COOKIE
from plugtone.web.ui.throttle import MESSAGE as THROTTLED

router = APIRouter()

WRONG = "Wrong user name or password."
Field = Annotated[str, Form(max_length=1024)]


def _next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_page(request: Request, status: int = 200, error: str | None = None,
                user: str = "", target: str = "/") -> Response:  # fmt: skip
    signing = key(request)
    cookie, value = sessions.new_login_cookie(signing)
    response = page(request, None, "login.html", status, login_csrf=sessions.csrf_token(
        signing, value), error=error, user=user, next=_next(target))  # fmt: skip
    response.set_cookie(LOGIN_COOKIE, cookie, max_age=sessions.LOGIN_LIFETIME, path="/login",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if visit(request) is not None:
        return RedirectResponse(_next(next), status_code=303)
    return _login_page(request, target=next)


@router.post("/login")
def login(request: Request, user: Field = "", password: Field = "", csrf: Field = "",
          next: Field = "/") -> Response:  # fmt: skip
    signing = key(request)
    bound = sessions.login_nonce(signing, request.cookies.get(LOGIN_COOKIE))
    if not same_origin(request) or not sessions.csrf_ok(signing, bound, csrf):
        raise Refused(403, "This login form is out of date; reload the page and try again.")
    throttle = request.app.state.ui.throttle
    address = request.client.host if request.client else "?"
    name = user.strip()[:64]
    if not throttle.allowed(name, address):
        return _login_page(request, 429, THROTTLED, name, next)
    store = request.app.state.store
    actor = verify_password(store, name, password, via="ui") if name and password else None
    if actor is None:
        throttle.failed(name, address)
        return _login_page(request, 401, WRONG, name, next)
    throttle.succeeded(name)
    fingerprint = current_fingerprint(store, signing, actor.name)
    assert fingerprint is not None
    response = RedirectResponse(_next(next), status_code=303)
    set_session(
        request, response, sessions.encode(signing, sessions.new_session(actor.name, fingerprint))
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf: Field = "") -> Response:
    check_post(request, csrf)
    response = RedirectResponse("/login", status_code=303)
    clear_session(request, response)
    return response


@router.get("/password")
def password_form(request: Request) -> Response:
    return page(request, signed_in(request), "password.html", errors={})


@router.post("/password")
def change_password(request: Request, current: Field = "", new: Field = "", again: Field = "",
                    csrf: Field = "") -> Response:  # fmt: skip
    found = check_post(request, csrf)
    store = request.app.state.store
    errors: dict[str, str] = {}
    throttle = request.app.state.ui.throttle
    address = request.client.host if request.client else "?"
    if not throttle.allowed(found.actor.name, address):
        errors["current"] = THROTTLED
    elif verify_password(store, found.actor.name, current, via="ui") is None:
        throttle.failed(found.actor.name, address)
        errors["current"] = "This is not your current password."
    elif new != again:
        errors["again"] = "The two new passwords differ."
    else:
        try:
            set_password(store, found.actor, found.actor.name, new)
        except Invalid as error:
            errors["new"] = "; ".join(problem.message for problem in error.problems)
    if errors:
        return page(request, found, "password.html", 422, errors=errors)
    signing = key(request)
    fingerprint = current_fingerprint(store, signing, found.actor.name)
    assert fingerprint is not None
    renewed = sessions.new_session(found.actor.name, fingerprint)
    fresh = Visit(
        found.actor,
        renewed,
        sessions.csrf_token(signing, renewed.sid),
        sessions.encode(signing, renewed),
    )  # sent back by page()
    response = page(request, fresh, "password.html", errors={}, changed=True)
    return response
