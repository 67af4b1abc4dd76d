"""The admin API's cap on request bodies: 2 MiB, checked twice.

A declared ``Content-Length`` over the cap is refused before a byte is read; a body
that arrives without one (chunked) or lies about it is counted while it is read and
refused as soon as it passes the cap, so no request makes the server hold more than
the cap in memory. An inventory of thousands of phones fits in 2 MiB of JSON; larger
ones go through ``plugtone apply``. A router whose bodies are larger (firmware
images) names its path prefix and cap in its module's ``BODY_LIMITS``.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException

from plugtone.web.problems import ASGIApp, Message, Receive, Scope, Send, problem

MAX_BODY = 2 * 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its cap.

    An ``HTTPException``, so FastAPI's body parsing passes it through (it turns any
    other exception into a 400) and the problem handlers answer 413.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than {_size(limit)}")


class BodyLimit:
    """ASGI middleware enforcing :data:`MAX_BODY`, or a larger cap under a prefix."""

    def __init__(self, app: ASGIApp, default: int = MAX_BODY,
                 prefixes: Mapping[str, int] | None = None) -> None:  # fmt: skip
        self.app = app
        self.default = default
        self.prefixes = sorted((prefixes or {}).items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.prefixes:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            if declared.isdigit():
                refusal = problem(413, f"the body is larger than {_size(limit)}")
            else:
                refusal = problem(400, "the Content-Length header is not a number")
            await refusal(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
