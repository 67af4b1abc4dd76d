"""Steer each client to one worker of a ``SO_REUSEPORT`` group by its source address.

Why: by default the kernel picks the socket of a reuse-port group by a hash of the
source address *and port*.  A phone asks for each file of its boot from a new port, so
its requests land on any worker; a worker that has not served that phone's ``<MAC>.cfg``
cannot tell which phone asks for a common file (a TFTP request carries no MAC or
User-Agent, only the client address the resolver last saw the phone at) and has to ask
the store.  Steering by the source address alone keeps a phone's whole boot on the
worker that learnt its address, as with one process.

How: a classic BPF program attached to the group (``SO_ATTACH_REUSEPORT_CBPF``, Linux
4.5) returns ``source address % group_size``, the index of the socket in the group.  For
a UDP socket the program runs with the packet's data past the UDP header, so the source
address is read relative to the network header (``SKF_NET_OFF``): offset 12 of an IPv4
header, the last four bytes of an IPv6 source (offset 20; an IPv6 socket may also be
handed IPv4 packets, told apart by the version nibble).  The index is the order sockets
joined the group, which need not be the workers' order: any fixed mapping keeps one
address on one socket.  An index beyond the sockets present (a worker not yet started,
or dead and being restarted) makes the kernel fall back to its hash, so nothing is lost
meanwhile.  The program belongs to the group; each worker attaching the same one is
harmless.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import sys

__all__ = ["steer_by_source_address"]

SO_ATTACH_REUSEPORT_CBPF = getattr(socket, "SO_ATTACH_REUSEPORT_CBPF", 51)
SKF_NET_OFF = -0x100000
"""Negative load offsets from here on are relative to the network header (linux/filter.h)."""

# Classic BPF opcodes (linux/bpf_common.h, linux/filter.h).
_LD_W_ABS = 0x20  # A = word at k
_LDB_ABS = 0x30  # A = byte at k
_RSH_K = 0x74  # A >>= k
_MOD_K = 0x94  # A %= k
_JEQ_K = 0x15  # pc += (A == k) ? jt : jf
_JA = 0x05  # pc += k
_RET_A = 0x16  # return A


def _program(family: int, group_size: int) -> list[tuple[int, int, int, int]]:
    """The instructions (code, jt, jf, k) returning ``source address % group_size``."""
    if family == socket.AF_INET:
        return [
            (_LD_W_ABS, 0, 0, SKF_NET_OFF + 12),
            (_MOD_K, 0, 0, group_size),
            (_RET_A, 0, 0, 0),
        ]
    return [
        (_LDB_ABS, 0, 0, SKF_NET_OFF),
        (_RSH_K, 0, 0, 4),
        (_JEQ_K, 0, 2, 4),  # IPv4 (an IPv6 socket's mapped peer)?
        (_LD_W_ABS, 0, 0, SKF_NET_OFF + 12),
        (_JA, 0, 0, 1),
        (_LD_W_ABS, 0, 0, SKF_NET_OFF + 20),  # the low 32 bits of the IPv6 source
        (_MOD_K, 0, 0, group_size),
        (_RET_A, 0, 0, 0),
    ]


def steer_by_source_address(sock: socket.socket, group_size: int) -> bool:
    """Attach to ``sock``'s reuse-port group (``SO_REUSEPORT`` set, and bound: before
    the bind it would make a group of its own that the others cannot join) the
    program that sends every datagram from one address to the same socket of the
    ``group_size`` sockets.  Whether it was attached: not with fewer than two sockets,
    nor off Linux, nor where the kernel refuses it (the kernel's hash then applies)."""
    if group_size < 2 or not sys.platform.startswith("linux"):
        return False
    code = b"".join(
        struct.pack("=HBBI", op, jt, jf, k & 0xFFFFFFFF)
        for op, jt, jf, k in _program(sock.family, group_size)
    )
    filters = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("@HP", len(code) // 8, ctypes.addressof(filters))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog)
    except OSError:
        return False
    return True
