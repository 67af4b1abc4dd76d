"""The admin web UI: server-rendered pages on the admin listener, beside ``/api``.

:func:`install` adds the UI's routes (``pages_*`` modules), its static files under
``/static`` (a stylesheet and a small script of plugtone's own: no build step, no
third-party script), the security headers of every UI response (``headers``), and
error pages for UI paths (the API keeps its problem documents). Pages call only the
service layer, as the API does; sessions and CSRF: ``sessions`` and ``auth``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from plugtone.services.errors import ServiceError, Unauthenticated
from plugtone.web.ui import pages_auth, pages_dashboard, pages_phones
from plugtone.web.ui.auth import LoginNeeded, Refused
from plugtone.web.ui.headers import SecurityHeaders, is_ui
from plugtone.web.ui.render import environment, page
from plugtone.web.ui.sessions import KeySource
from plugtone.web.ui.throttle import LoginThrottle

STATIC = Path(__file__).parent / "static"


class UiState:
    """What the UI keeps on the app: its signing key, login throttle and templates."""

    def __init__(self, app: FastAPI) -> None:
        self.key = KeySource(app.state.store)
        self.throttle = LoginThrottle()
        self.templates = environment()
        self.nav: list[tuple[str, str, object]] = []
        """Main-menu entries of the page modules: ``(label, href, minimum role)``."""
        self.streams = 0
        """Live event streams open now (bounded: ``pages_dashboard.MAX_STREAMS``)."""
        self.body_limits: dict[str, int] = {}
        """Larger body caps of page modules (``BODY_LIMITS``: uploads), for ``web.app``."""


MORE_PAGES = ("pages_inventory", "pages_firmware", "pages_import", "pages_admin",
              "pages_operations", "pages_phone_detail", "pages_branding")  # fmt: skip
"""Page modules of ``plugtone.web.ui`` included when present (written separately). Each
exports ``router`` and may export ``NAV``: ``[(label, href, minimum Role or None)]``
entries for the main menu, in this order after Dashboard and Phones, and ``BODY_LIMITS``
(``{"/path-prefix": bytes}``) to raise the 2 MiB body cap for its uploads."""
MORE_PAGES += ("pages_rcs", "pages_rcs_phones", "pages_rcs_admin", "pages_rcs_accounts")  # issue 15
MORE_PAGES += ("pages_acs",)  # the TR-069 ACS: /phones/{mac}/acs


def install(app: FastAPI) -> None:
    """Add the UI to the admin app; call after the API's routers and error handlers."""
    import importlib
    import importlib.util

    app.state.ui = UiState(app)
    modules = [pages_auth, pages_dashboard, pages_phones]
    for name in MORE_PAGES:
        module_name = f"plugtone.web.ui.{name}"
        if importlib.util.find_spec(module_name) is not None:
            modules.append(importlib.import_module(module_name))
    for module in modules:
        app.include_router(module.router, include_in_schema=False)
        app.state.ui.nav.extend(getattr(module, "NAV", ()))
        app.state.ui.body_limits.update(getattr(module, "BODY_LIMITS", {}))
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="ui-static")
    _error_pages(app)
    app.add_middleware(SecurityHeaders)


def _error_pages(app: FastAPI) -> None:
    """Errors on UI paths become pages; elsewhere the API's handlers answer as before."""
    handlers = app.exception_handlers

    def ui_or(kind: type[Exception]):
        previous = handlers.get(kind)

        async def handle(request: Request, error: Exception) -> Response:
            if is_ui(request.url.path):
                return _error_page(request, error)
            assert previous is not None
            return await previous(request, error)

        return handle

    for kind in (ServiceError, HTTPException, RequestValidationError):
        app.add_exception_handler(kind, ui_or(kind))

    @app.exception_handler(LoginNeeded)
    async def _login(request: Request, _: LoginNeeded) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, error: Refused) -> Response:
        return _error_page(request, error)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


def _error_page(request: Request, error: Exception) -> Response:
    if isinstance(error, Refused):
        status, message = error.status, error.message
    elif isinstance(error, ServiceError):
        status = 401 if isinstance(error, Unauthenticated) else error.status
        message = error.message
    elif isinstance(error, HTTPException):
        status = error.status_code
        message = {404: "There is no such page.", 405: "This page does not take that method."
                   }.get(status, "The request was refused.")  # fmt: skip
    else:  # RequestValidationError: a query or form field out of bounds
        status, message = 422, "A field of this request is not valid."
    known = request.scope.get("plugtone.visit") or None  # no store query on the event loop
    return page(request, known, "error.html", status, status_code=status, message=message)
