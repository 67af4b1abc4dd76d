"""The storm's emulated phones upload over TFTP with a real write request.

``bench/storm_phones.py``'s TFTP phone sends a WRQ (RFC 1350, octet, no options) and
its DATA blocks to plugtone's TFTP server (the in-process one of
``tests/test_tftp_server.py``); what the server stores is what was sent, a body that is
a multiple of 512 bytes ends with an empty block, and a refused name fails the step
instead of being retried.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import pytest

from tests.test_tftp_server import HOST, KNOWN, inproc  # noqa: F401 - the fixture

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from storm_phones import Mismatch, Outcome, PhonePlan, Put, TftpPhone


def upload(port: int, name: str, body: bytes) -> Outcome:
    outcome = Outcome()
    plan = PhonePlan(0, "test", "tftp", HOST, "", (Put(name, body),))

    async def run() -> None:
        phone = TftpPhone(plan, (HOST, port), outcome)
        try:
            await phone.put(name, body)
        finally:
            phone.close()

    asyncio.run(run())
    return outcome


@pytest.mark.parametrize("size", [0, 1700, 1024, 512 * 9 + 1])
def test_an_upload_is_stored_as_sent(inproc, tmp_path, size):  # noqa: F811
    running = inproc()
    body = random.Random(size).randbytes(size)
    outcome = upload(running.port, f"{KNOWN}-boot.log", body)
    assert outcome.timeouts == 0
    stored = tmp_path / "uploads" / KNOWN / f"{KNOWN}-boot.log"
    running.wait_for(stored.exists)
    assert stored.read_bytes() == body


def test_a_refused_upload_fails_at_once(inproc):  # noqa: F811
    running = inproc()
    with pytest.raises(Mismatch, match="TFTP error 2"):
        upload(running.port, "aastra.cfg", b"not mine")
