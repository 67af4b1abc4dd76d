"""Security headers on every UI response (everything outside ``/api`` and ``/metrics``).

The Content-Security-Policy allows only what plugtone serves itself: scripts and
styles from ``/static`` files (no inline script, no inline style, no ``eval``), images
from here or ``data:``, EventSource back to this origin; it forbids framing and forms
posting elsewhere. ``nosniff`` and ``same-origin`` referrers go with it (not
``no-referrer``: with it chromium sends ``Origin: null`` on same-origin form posts, which
the origin check refuses), and pages are never cached (they show the inventory as it is,
and a revealed file holds passwords).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
NOT_UI = ("/api/", "/api", "/metrics")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


def is_ui(path: str) -> bool:
    return not any(path == prefix or path.startswith(prefix + "/") for prefix in NOT_UI)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not is_ui(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [pair for pair in HEADERS if pair[0] not in names]
                if not static and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, add)
