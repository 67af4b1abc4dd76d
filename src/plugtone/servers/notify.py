"""Sending SIP NOTIFYs over UDP: the asyncio face of ``protocols.sip_notify``.

One ephemeral UDP socket carries every transaction of a resync run; answers are handed
to the transaction whose Via branch they carry (the phone answers to the request's
source address and port, ``rport``). Everything SIP is in the sans-IO transaction;
this module only moves datagrams and wakes transactions when their timers are due.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from contextlib import suppress

from plugtone.protocols.sip_notify import (
    NotifyRequest,
    NotifyTransaction,
    Timers,
    parse_response,
)


def local_address_towards(host: str, port: int) -> str:
    """The local address the system would send from to reach ``host`` (for Via and
    Contact): a connected UDP socket sends nothing, it only picks the route."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((host, port))
            return probe.getsockname()[0]
        except OSError:
            return "::1" if family == socket.AF_INET6 else "127.0.0.1"


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, sender: NotifySender) -> None:
        self.sender = sender

    def datagram_received(self, data: bytes, addr) -> None:
        self.sender._received(data)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable: timer F decides
        pass


class NotifySender:
    """Runs NOTIFY transactions on one socket bound to an ephemeral port.

    ``async with NotifySender() as sender: tx = await sender.send(request_for(port))``;
    :attr:`port` is known once entered, so requests can name it in Via and Contact.
    """

    def __init__(self, timers: Timers | None = None, *, bind: str = "0.0.0.0") -> None:
        self.timers = timers or Timers()
        self.bind = bind
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._waiting: dict[str, tuple[NotifyTransaction, asyncio.Event]] = {}

    async def __aenter__(self) -> NotifySender:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.bind, 0), family=family
        )
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _received(self, data: bytes) -> None:
        parsed = parse_response(data)
        if parsed is None:
            return
        for via in parsed[2].get("via", [])[:1]:
            for part in via.split(";")[1:]:
                name, _, value = part.partition("=")
                if name.strip().lower() == "branch":
                    waiting = self._waiting.get(value.strip())
                    if waiting is not None:
                        transaction, wake = waiting
                        transaction.receive(data, asyncio.get_running_loop().time())
                        wake.set()

    async def send(self, request: NotifyRequest) -> NotifyTransaction:
        """Run one transaction to its end (final response or timer F) and return it."""
        if self._transport is None:
            raise RuntimeError("NotifySender is used as an async context manager")
        loop = asyncio.get_running_loop()
        transaction = NotifyTransaction(request, self.timers)
        wake = asyncio.Event()
        self._waiting[transaction.branch] = (transaction, wake)
        target = (_literal(request.host), request.port)
        try:
            for datagram in transaction.start(loop.time()):
                self._sendto(datagram, target)
            while not transaction.done:
                due = transaction.next_timer()
                if due is None:
                    break
                wake.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), max(0.0, due - loop.time()))
                if transaction.done:
                    break
                for datagram in transaction.on_timer(loop.time()):
                    self._sendto(datagram, target)
        finally:
            del self._waiting[transaction.branch]
        return transaction

    def _sendto(self, datagram: bytes, target: tuple[str, int]) -> None:
        if self._transport is not None:
            with suppress(OSError):  # an unreachable network is the same as no answer
                self._transport.sendto(datagram, target)


def _literal(host: str) -> str:
    with suppress(ValueError):
        return str(ipaddress.ip_address(host.strip("[]")))
    return host
