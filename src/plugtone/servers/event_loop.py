"""The event loop ``plugtone serve`` runs its servers on: uvloop when it is installed.

The architecture chose uvicorn with httptools and uvloop, and uvicorn picks uvloop only
when it starts the loop itself (``uvicorn.run``); plugtone starts it, so it picks here.
What it buys, measured with ``bench/http_vs_nginx.py`` (one process, loopback, 2 CPUs):
the loop's own work per connection (accepting, the transport, closing) and TLS are in
C rather than Python, which is most of what a request with ``Connection: close`` or
over HTTPS costs. Zero-copy firmware downloads work on both loops
(:func:`plugtone.servers.http._sendfile`).

``PLUGTONE_LOOP=asyncio`` runs the standard loop instead (to compare, or to debug with
asyncio's debug mode).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LOOP_VARIABLE = "PLUGTONE_LOOP"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop when installed and not turned off."""
    if os.environ.get(LOOP_VARIABLE, "").strip().lower() != "asyncio":
        try:
            import uvloop
        except ImportError:  # uvicorn[standard] brings it; a bare install may not have it
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)
