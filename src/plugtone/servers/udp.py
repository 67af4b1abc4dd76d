"""Non-blocking UDP sockets on the event loop, for servers that open a socket per peer.

asyncio's datagram transports are built for a few long-lived sockets; the TFTP server
opens one per transfer and tears it down a few milliseconds later, thousands of times a
second in a boot storm.  These two small classes do just what that needs: readiness
callbacks through one nested epoll set (:class:`Poller`) and sends that only queue when
the kernel's buffer is full (:class:`UdpEndpoint`).  Reading is left to the owner, which
knows what buffer to read into.
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import logging
import select
import socket
from collections import deque
from collections.abc import Callable
from typing import TypeAlias

__all__ = [
    "POLL_BATCH",
    "SEND_BACKLOG",
    "SOCK_NONBLOCK",
    "Address",
    "Poller",
    "UdpEndpoint",
    "new_udp_socket",
]

log = logging.getLogger(__name__)

POLL_BATCH = 256
"""Ready sockets handled per wake-up of the poller."""

SEND_BACKLOG = 1024
"""Datagrams a socket may queue while its send buffer is full; beyond that they are
dropped like any lost datagram, and the protocol's retransmission recovers."""

SOCK_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)
"""Linux makes a socket non-blocking in the call that creates it: one system call less."""

_WOULD_BLOCK = (BlockingIOError, InterruptedError)
_DISCARD = bytearray(1)
"""Where :meth:`UdpEndpoint.discard_input` reads a datagram to: a datagram read into a
buffer too short for it is consumed whole, its excess dropped by the kernel."""
_SOCK_DGRAM = socket.SOCK_DGRAM | SOCK_NONBLOCK | getattr(socket, "SOCK_CLOEXEC", 0)


def new_udp_socket(family: int) -> _socket.socket:
    """A non-blocking, close-on-exec UDP socket, for a socket that lives milliseconds.

    The C socket type itself, not :class:`socket.socket`: the wrapper's Python-level
    ``__init__`` and ``close`` (file-object bookkeeping a datagram socket never uses)
    cost a few microseconds per transfer, a tenth of what opening one costs in all.
    It has every method a datagram socket needs (``bind``, ``sendto``,
    ``recvfrom_into``, ``fileno``, ``close``)."""
    sock = _socket.socket(family, _SOCK_DGRAM)
    if not SOCK_NONBLOCK:
        sock.setblocking(False)
    return sock


Address: TypeAlias = tuple
"""A socket address as the socket module reports it: ``(host, port)`` or IPv6's 4-tuple."""


class Poller:
    """Readiness of many short-lived sockets through one epoll set that the loop watches.

    Registering a socket with the loop itself costs a selector-key object, a handle and
    several dictionary look-ups per transfer, and every datagram then pays a handle's
    trip through the loop; with one nested epoll set the loop wakes the poller once and
    it calls every ready socket's callback directly.  Without epoll (not Linux), sockets
    are registered with the loop one by one.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        if self._epoll is not None:
            loop.add_reader(self._epoll.fileno(), self._dispatch)

    def add(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever ``fd`` is readable (level-triggered)."""
        if self._epoll is None:
            self.loop.add_reader(fd, callback)
            return
        self._callbacks[fd] = callback
        self._epoll.register(fd, select.EPOLLIN)

    def rebind(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` instead for ``fd``, which stays registered: a socket handed
        from one owner to the next costs no system call."""
        if self._epoll is None:
            self.loop.add_reader(fd, callback)  # replaces the previous reader
        else:
            self._callbacks[fd] = callback

    def remove(self, fd: int) -> None:
        if self._epoll is None:
            self.loop.remove_reader(fd)
        elif self._callbacks.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    def forget(self, fd: int) -> None:
        """Stop calling back for ``fd``, which its owner closes next: closing a socket's
        last descriptor takes it out of every epoll set, so the ``epoll_ctl`` that
        :meth:`remove` makes would be one system call per transfer for nothing."""
        if self._epoll is None:
            self.loop.remove_reader(fd)
        else:
            self._callbacks.pop(fd, None)

    def _dispatch(self) -> None:
        callbacks = self._callbacks
        for fd, _ in self._epoll.poll(0, POLL_BATCH):  # type: ignore[union-attr]
            callback = callbacks.get(fd)
            if callback is None:
                continue
            try:
                callback()
            except Exception:
                log.exception("socket callback failed")

    def close(self) -> None:
        """Stop watching; sockets still registered are their owners' to close."""
        if self._epoll is not None:
            self.loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
            self._callbacks.clear()


class UdpEndpoint:
    """A non-blocking UDP socket watched by the event loop.

    Reads go to ``on_readable``; writes go straight to the socket and, only when its send
    buffer is full, to a bounded backlog flushed when the socket becomes writable.
    """

    __slots__ = ("_backlog", "_loop", "_poller", "closed", "fd", "sock")

    def __init__(
        self, poller: Poller, sock: socket.socket | _socket.socket, on_readable: Callable
    ) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self._poller = poller
        self._loop = poller.loop
        self._backlog: deque[tuple[bytes, Address]] | None = None
        self.closed = False
        poller.add(self.fd, on_readable)

    def sendto(self, datagram: bytes, address: Address) -> None:
        if self.closed:
            return
        if self._backlog is not None:
            if len(self._backlog) < SEND_BACKLOG:
                self._backlog.append((datagram, address))
            return
        try:
            self.sock.sendto(datagram, address)
        except _WOULD_BLOCK:
            self._backlog = deque([(datagram, address)])
            self._loop.add_writer(self.fd, self._flush)
        except OSError as problem:  # unreachable peer and the like: a lost datagram
            log.debug("UDP send to %s failed: %s", address, problem)

    def _flush(self) -> None:
        backlog = self._backlog
        while backlog:
            datagram, address = backlog[0]
            try:
                self.sock.sendto(datagram, address)
            except _WOULD_BLOCK:
                return
            except OSError as problem:
                log.debug("UDP send to %s failed: %s", address, problem)
            backlog.popleft()
        self._backlog = None
        self._loop.remove_writer(self.fd)

    @property
    def idle(self) -> bool:
        """Open, with nothing waiting to be sent: fit to be handed to a new owner."""
        return not self.closed and self._backlog is None

    def rebind(self, on_readable: Callable[[], None]) -> None:
        """Give the socket a new owner: reads go to ``on_readable`` from now on."""
        self._poller.rebind(self.fd, on_readable)

    def discard_input(self) -> None:
        """A reader for a socket between owners: what arrives is read and dropped, as a
        closed port would drop it (level-triggered readiness would otherwise repeat)."""
        with contextlib.suppress(OSError):  # nothing after all, or an ICMP error surfacing
            self.sock.recvfrom_into(_DISCARD)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._poller.forget(self.fd)  # the close below takes it out of the epoll set
        if self._backlog is not None:
            self._loop.remove_writer(self.fd)
        self.sock.close()
