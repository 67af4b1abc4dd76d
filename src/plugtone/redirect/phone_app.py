"""The redirection service's phone-facing ASGI app: ``GET``/``HEAD`` only, answered by
:class:`~.answer.Redirector` in a worker thread (it reads the store).

Two mounts: under ``/rcs/`` of plugtone's phone-facing HTTP and HTTPS app (the one line
in ``servers/http.py`` hands such paths to :func:`rcs_answer`), and at the root of the
listener ``plugtone serve --rcs-port`` runs (:func:`rcs_root_app`). Headers carry no
``Server`` detail and no caching (an answer changes when the registration does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from plugtone.redirect.answer import Redirector, Served

PREFIX = "/rcs/"
CHUNK = 256 * 1024
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def redirector_of(provisioner) -> Redirector:
    """The provisioner's redirector, made once (same store, plug-ins and firmware files)."""
    found = getattr(provisioner, "rcs_redirector", None)
    if found is None:
        resolver = provisioner.resolver
        found = Redirector(resolver.store, resolver.registry, resolver.firmware_files)
        provisioner.rcs_redirector = found
    return found


async def rcs_answer(provisioner, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a ``/rcs/...`` request of the phone-facing app."""
    await serve(redirector_of(provisioner), scope["path"][len(PREFIX) :], scope, send)


def rcs_root_app(provisioner) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app of ``--rcs-port``: the same answers at the root."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        await serve(redirector_of(provisioner), scope["path"], scope, send)

    return app


async def serve(redirector: Redirector, path: str, scope: Scope, send: Send) -> None:
    method = scope["method"]
    if method not in ("GET", "HEAD"):
        await _reply(send, 405, b"text/plain", b"Method Not Allowed\n", [(b"allow", b"GET, HEAD")])
        return
    agent = None
    for name, value in scope.get("headers", ()):
        if name == b"user-agent":
            agent = value.decode("latin-1")[:512]
            break
    client = scope.get("client")
    address = client[0] if client else None
    served: Served = await asyncio.to_thread(redirector.answer, path, agent, address)
    head = method == "HEAD"
    if served.location is not None:
        where = [(b"location", served.location.encode("latin-1", "replace"))]
        await _reply(send, 302, served.media_type.encode(), served.body, where, head=head)
        return
    if served.path is None:
        await _reply(send, served.status, served.media_type.encode(), served.body, head=head)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", served.media_type.encode()),
                (b"content-length", b"%d" % served.size),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    if head:
        await send({"type": "http.response.body", "body": b""})
        return
    handle = await asyncio.to_thread(open, served.path, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        handle.close()
    await send({"type": "http.response.body", "body": b""})


async def _reply(
    send: Send,
    status: int,
    media_type: bytes,
    body: bytes,
    extra: list[tuple[bytes, bytes]] = (),
    head: bool = False,
) -> None:
    headers = [
        (b"content-type", media_type),
        (b"content-length", b"%d" % len(body)),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
