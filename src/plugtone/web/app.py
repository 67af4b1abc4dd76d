"""The admin listener's ASGI app: the REST API under ``/api``, its docs, its errors.

A separate app on its own port (``plugtone serve --admin-port``), never a route of the
phone app, so nothing a phone can reach answers for it. Every resource is a router
module of this package named in :data:`API_ROUTERS`; each exports
``router = APIRouter()`` with paths relative to ``/api`` (``@router.get("/phones")``
is ``/api/phones``) and takes its caller, store, plug-ins and settings from
``web.deps``. A module may also export ``BODY_LIMITS = {"/api/<prefix>": bytes}`` to
raise the 2 MiB body cap under its own paths.

Endpoints are synchronous ``def`` functions: FastAPI runs them in worker threads, so
their SQLAlchemy calls never block the event loop the phone servers share.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from plugtone.inventory.store import Store
from plugtone.settings import Settings
from plugtone.vendors import VendorRegistry
from plugtone.web import docs, metrics, openapi, problems, ui
from plugtone.web.limits import MAX_BODY, BodyLimit

PREFIX = "/api"
OPENAPI_URL = "/api/openapi.json"

API_ROUTERS = (
    "api_inventory",
    "api_guard",
    "api_sites",
    "api_extensions",
    "api_phones",
    "api_branding",
    "api_accounts",
    "api_audit",
    "api_firmware",
    "api_devices",
    "api_import",
    "api_security",
    "api_check",
    "api_dhcp",
    "api_resync",
    "api_status",
    "api_rcs",  # the redirection service (plugtone.redirect)
    "api_acs",  # the TR-069 ACS (plugtone.acs)
)
"""Router modules of ``plugtone.web``, included in this order."""

OPTIONAL_ROUTERS = frozenset(
    {"api_firmware", "api_devices", "api_dhcp", "api_resync", "api_status"}
)
"""Included when present: they are written separately and may not exist yet."""


def create_admin_app(store: Store, registry: VendorRegistry, settings: Settings) -> FastAPI:
    """The admin app over ``store``; the caller owns (and disposes of) the store."""
    app = FastAPI(
        title="plugtone admin API",
        version=_version(),
        description="Sites, extensions, phones, branding, users, tokens and the audit log. "
        "Bodies are the inventory file's entries (docs/inventory-format.md) as JSON; "
        "errors are RFC 9457 problem details.",
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.registry = registry
    app.state.settings = settings
    limits: dict[str, int] = {}
    for name in API_ROUTERS:
        module_name = f"plugtone.web.{name}"
        if name in OPTIONAL_ROUTERS and importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        app.include_router(module.router, prefix=PREFIX)
        if hasattr(module, "install"):  # state a router keeps on the app (counters)
            module.install(app)
        limits.update(getattr(module, "BODY_LIMITS", {}))
    problems.install(app)
    metrics.install(app)  # /metrics for Prometheus, outside /api
    openapi.install(app)
    docs.install(app, OPENAPI_URL)
    ui.install(app)  # the web UI at /, after the API's routes and error handlers
    limits.update(app.state.ui.body_limits)  # its upload pages' caps
    app.add_middleware(BodyLimit, default=MAX_BODY, prefixes=limits)
    app.add_middleware(problems.ProblemGuard)
    return app


def _version() -> str:
    try:
        return version("plugtone")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0"
