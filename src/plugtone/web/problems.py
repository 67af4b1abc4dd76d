"""Every error the admin API answers, as RFC 9457 problem details.

One shape for all of them (``type``, ``title``, ``status``, ``detail``, and ``errors``
naming each field for a refused input), whatever raised it: a service refusal, a
request FastAPI could not validate, an unknown route or method, a body too large, or
a failure nobody foresaw. The last never shows its traceback or its message (an
engine error's message carries the statement's parameters, passwords included): the
client gets a generic 500 and the log gets the exception's type and the route.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from plugtone.inventory.store import StoreBusy
from plugtone.services.errors import Invalid, ServiceError, Unauthenticated
from plugtone.services.unit_of_work import BUSY_MESSAGE

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:plugtone:problem:"
RETRY_AFTER = "2"
"""Seconds a client should wait after a 503 (the store was busy or unreachable)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 406: "Not acceptable", 409: "Conflict",
    413: "Content too large", 415: "Unsupported media type", 422: "Invalid input",
    500: "Internal error", 503: "Service unavailable",
}  # fmt: skip


class BadBody(Exception):
    """The body is not one JSON document; answered 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    title = title or _TITLES.get(status, "Error")
    body: dict[str, Any] = {
        "type": TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    if status == 503:
        headers = {"Retry-After": RETRY_AFTER, **(headers or {})}
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def service_problem(error: ServiceError) -> JSONResponse:
    errors = None
    if isinstance(error, Invalid):
        errors = [{"field": p.where, "message": p.message} for p in error.problems]
    status = error.status if not isinstance(error, Unauthenticated) else 401
    return problem(status, error.message, title=error.title, errors=errors)


def _validation_problem(error: RequestValidationError) -> JSONResponse:
    """FastAPI's own validation (query, path, typed bodies): the field and pydantic's
    message, never the input (``input`` in pydantic's errors would echo a password)."""
    details = error.errors()
    if any(item.get("type") == "json_invalid" for item in details):
        return problem(400, "the body is not JSON")
    errors = []
    for item in details:
        location = [str(part) for part in item.get("loc", ()) if part not in ("body",)]
        if location and location[0] in ("query", "path", "header", "cookie"):
            location = location[1:]
        errors.append({"field": ".".join(location) or "(body)", "message": item.get("msg", "")})
    return problem(422, f"{len(errors)} problem(s); nothing was changed", errors=errors)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    @app.exception_handler(ServiceError)  # Busy too: 503 with Retry-After
    async def _service(_: Request, error: ServiceError) -> JSONResponse:
        return service_problem(error)

    @app.exception_handler(BadBody)
    async def _bad_body(_: Request, error: BadBody) -> JSONResponse:
        return problem(400, error.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        return _validation_problem(error)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else _TITLES.get(error.status_code)
        if error.status_code == 404 and detail == "Not Found":
            detail = "no such resource"
        if error.status_code == 405:
            detail = "this resource does not take that method"
        headers = dict(error.headers or {})
        return problem(error.status_code, detail or "error", headers=headers or None)

    @app.exception_handler(StoreBusy)
    async def _busy(_: Request, error: StoreBusy) -> JSONResponse:
        return problem(503, BUSY_MESSAGE)

    @app.exception_handler(SQLAlchemyError)
    async def _store(request: Request, error: SQLAlchemyError) -> JSONResponse:
        log.error("store error on %s %s: %s", request.method, _route(request), type(error).__name__)
        if isinstance(error, OperationalError):
            return problem(503, "the store is unavailable; try again")
        return problem(500, "the store could not answer this request")


def _route(request: Request) -> str:
    """The route's template (``/api/phones/{mac}``), not the path a client sent."""
    route = request.scope.get("route")
    return getattr(route, "path", None) or "(no route)"


class ProblemGuard:
    """The outermost layer: anything that escaped the handlers becomes a 500 problem.

    Starlette's own error middleware would re-raise the exception for uvicorn to log
    with its traceback and message; this one logs the type only.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:  # the point of this layer
            route = getattr(scope.get("route"), "path", None) or "(no route)"
            log.error("admin API failure on %s %s: %s", scope.get("method"), route,
                      type(error).__name__)  # fmt: skip
            if not started:
                response = problem(500, "the request failed on the server")
                await response(scope, receive, send)
