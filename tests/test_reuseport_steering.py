"""Steering a ``SO_REUSEPORT`` group by source address (the TFTP workers' listening
sockets): real sockets on loopback, datagrams from several client addresses, each from
new ports, and which socket of the group each one reached."""

from __future__ import annotations

import socket
import time
from collections import defaultdict

from plugtone.servers.reuseport_steering import steer_by_source_address

GROUP = 2
SENDS = 12
"""Datagrams per client address, each from a new port: without steering the kernel's
hash of address and port would spread them (all on one socket: 1 chance in 2,048)."""


def group(family: int, host: str) -> list[socket.socket]:
    """``GROUP`` sockets sharing one port, each with the steering program attached."""
    members: list[socket.socket] = []
    port = 0
    for _ in range(GROUP):
        member = socket.socket(family, socket.SOCK_DGRAM)
        member.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        member.bind((host, port))
        port = member.getsockname()[1]
        assert steer_by_source_address(member, GROUP)
        members.append(member)
    return members


def reached(members: list[socket.socket], clients: list[tuple[int, str]]) -> dict[str, set[int]]:
    """Which member each client address's datagrams reached (sent to loopback)."""
    port = members[0].getsockname()[1]
    for family, address in clients:
        target = ("127.0.0.1" if family == socket.AF_INET else "::1", port)
        for _ in range(SENDS):
            with socket.socket(family, socket.SOCK_DGRAM) as client:
                client.bind((address, 0))
                client.sendto(b"\x00\x01x\x00octet\x00", target)
    found: dict[str, set[int]] = defaultdict(set)
    received = 0
    deadline = time.monotonic() + 5
    while received < SENDS * len(clients) and time.monotonic() < deadline:
        for index, member in enumerate(members):
            member.setblocking(False)
            while True:
                try:
                    _, peer = member.recvfrom(64)
                except BlockingIOError:
                    break
                found[peer[0].removeprefix("::ffff:")].add(index)
                received += 1
        time.sleep(0.005)
    for member in members:
        member.close()
    assert received == SENDS * len(clients)
    return found


def test_every_datagram_from_one_ipv4_address_reaches_the_same_socket():
    clients = [(socket.AF_INET, f"127.0.0.{n}") for n in range(1, 5)]
    found = reached(group(socket.AF_INET, "127.0.0.1"), clients)
    assert found == {"127.0.0.1": {1}, "127.0.0.2": {0}, "127.0.0.3": {1}, "127.0.0.4": {0}}


def test_an_ipv6_socket_steers_ipv6_and_mapped_ipv4_clients():
    members = group(socket.AF_INET6, "::")
    clients = [(socket.AF_INET6, "::1")] + [(socket.AF_INET, f"127.0.0.{n}") for n in (1, 2)]
    found = reached(members, clients)
    assert found["127.0.0.1"] == {1} and found["127.0.0.2"] == {0}, found
    assert found["::1"] == {1}, found  # the low 32 bits of ::1, odd


def test_no_program_for_a_lone_socket():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as lone:
        lone.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        lone.bind(("127.0.0.1", 0))
        assert not steer_by_source_address(lone, 1)
