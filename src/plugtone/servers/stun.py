"""The STUN server on the event loop: :class:`plugtone.protocols.stun.StunServer` behind
asyncio datagram endpoints, reporting the bindings it learns through a callback.

A few long-lived sockets: the primary one (the address CPEs are given as
``STUNServerAddress``/``STUNServerPort``) and, when an alternate address is given, the
three others RFC 3489's CHANGE-REQUEST needs (primary IP with the alternate port, the
alternate IP with either port). UDP connection requests (TR-111) must leave from the
primary socket, the one the CPE's NAT binding was opened towards: :meth:`StunListener.sendto`
sends from it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from plugtone.protocols.stun import Address, AnswerBudget, BindingLearned, StunServer

__all__ = ["StunListener"]

log = logging.getLogger(__name__)


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, listener: StunListener, ip_index: int, port_index: int) -> None:
        self.listener = listener
        self.index = (ip_index, port_index)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.listener._received(self, data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:  # ICMP errors: the peer is gone
        log.debug("STUN socket error: %s", exc)


class StunListener:
    """A running STUN server; build it with :meth:`start`, stop it with :meth:`close`."""

    def __init__(self, on_binding: Callable[[BindingLearned], None] | None) -> None:
        self.on_binding = on_binding
        self.server: StunServer | None = None
        self._endpoints: dict[tuple[int, int], _Endpoint] = {}
        self.requests = 0
        self.dropped = 0
        """Datagrams given no answer (not STUN, not a request)."""
        self.limited = 0
        """Requests not answered because their source exceeded its :class:`AnswerBudget`."""
        self.budget = AnswerBudget()

    @classmethod
    async def start(
        cls,
        host: str,
        port: int,
        *,
        alternate: Address | None = None,
        on_binding: Callable[[BindingLearned], None] | None = None,
        password_for: Callable[[str], str | None] | None = None,
        require_integrity_on_change: bool = True,
    ) -> StunListener:
        """Bind and serve. Port 0 picks a free port (see :attr:`address`); an
        ``alternate`` (ip, port) enables CHANGE-REQUEST answers from the other sockets."""
        loop = asyncio.get_running_loop()
        listener = cls(on_binding)
        hosts = [host] if alternate is None else [host, alternate[0]]
        try:

            async def bind(ip_index: int, port_index: int, local: Address) -> int:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: _Endpoint(listener, ip_index, port_index), local_addr=local
                )
                listener._endpoints[(ip_index, port_index)] = protocol
                return transport.get_extra_info("sockname")[1]

            ports = [await bind(0, 0, (host, port))]
            if alternate is not None:
                ports.append(await bind(0, 1, (host, alternate[1])))
                await bind(1, 0, (alternate[0], ports[0]))
                await bind(1, 1, (alternate[0], ports[1]))
        except BaseException:
            listener.close()
            raise
        listener._hosts = hosts
        listener._ports = ports
        listener.server = StunServer(
            (host, ports[0]),
            alternate=(hosts[1], ports[1]) if alternate is not None else None,
            password_for=password_for,
            require_integrity_on_change=require_integrity_on_change,
        )
        return listener

    @property
    def address(self) -> Address:
        """The primary (host, port), as bound."""
        return self._hosts[0], self._ports[0]

    def sendto(self, datagram: bytes, address: Address) -> None:
        """Send from the primary socket (UDP connection requests go this way)."""
        transport = self._endpoints[(0, 0)].transport
        if transport is not None and not transport.is_closing():
            transport.sendto(datagram, address)

    def close(self) -> None:
        for endpoint in self._endpoints.values():
            if endpoint.transport is not None:
                endpoint.transport.close()
        self._endpoints.clear()

    def _received(self, endpoint: _Endpoint, data: bytes, source: Address) -> None:
        assert self.server is not None
        self.requests += 1
        if not self.budget.allow(source[0], time.monotonic()):
            self.limited += 1
            return
        ip_index, port_index = endpoint.index
        local = (self._hosts[ip_index], self._ports[port_index])
        reply = self.server.handle(data, source, local=local)
        if reply is None:
            self.dropped += 1
            return
        out = (ip_index ^ int(reply.change_ip), port_index ^ int(reply.change_port))
        sender = self._endpoints.get(out, endpoint)
        if sender.transport is not None and not sender.transport.is_closing():
            sender.transport.sendto(reply.datagram, reply.destination)
        if reply.binding is not None and self.on_binding is not None:
            try:
                self.on_binding(reply.binding)
            except Exception:
                log.exception("STUN binding callback failed for %s", reply.binding.address)
