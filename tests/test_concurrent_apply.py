"""Two admins applying at once, as a service provider's scripts will.

The write lock is held only for the final write, so a second ``plugtone apply``
started while a 10,000-phone apply runs waits its turn and lands; when the store
stays busy past the wait, it says so in one line. Never a traceback, never a
password, and nothing half-written either way.
"""

from __future__ import annotations

import subprocess

from sqlalchemy import func, select

from plugtone.inventory.models import Extension, Phone
from plugtone.inventory.store import Store
from tests.conftest import PLUGTONE, run_cli

SECRET = "Fleet-Secret-"


def fleet(phones: int) -> str:
    lines = ["sites:"]
    sites = (phones + 99) // 100
    lines += [
        f"  - {{name: s{site:03d}, sip_server: 10.1.{site % 250}.1}}" for site in range(sites)
    ]
    lines.append("extensions:")
    lines += [
        f'  - {{number: "{1000 + n}", site: s{n // 100:03d}, password: {SECRET}{n}}}'
        for n in range(phones)
    ]
    lines.append("phones:")
    lines += [
        f'  - {{mac: "00085D{n:06X}", model: 6757i, site: s{n // 100:03d}, lines: ["{1000 + n}"]}}'
        for n in range(phones)
    ]
    return "\n".join(lines) + "\n"


def small(index: int) -> str:
    return f"""
sites:
  - {{name: other, sip_server: 10.9.9.9}}
extensions:
  - {{number: "{index}", site: other, password: {SECRET}other{index}}}
phones:
  - {{mac: "0004F20000{index:02X}", model: IP650, site: other, lines: ["{index}"]}}
"""


SECOND = small(77)


def test_applies_during_a_10000_phone_apply_wait_their_turn(tmp_path):
    """Small applies, one after another while the big one parses, plans and writes."""
    data = tmp_path / "data"
    run_cli("init", data=data)
    big = tmp_path / "big.yaml"
    big.write_text(fleet(10_000))
    command = [*PLUGTONE, "apply", "--data", str(data)]
    first = subprocess.Popen([*command, str(big)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    others = []
    while first.poll() is None and len(others) < 12:
        sheet = tmp_path / f"small{len(others)}.yaml"
        sheet.write_text(small(10 + len(others)))
        others.append(subprocess.run([*command, str(sheet)], capture_output=True, text=True,
                                     timeout=120))  # fmt: skip
    out, err = first.communicate(timeout=180)
    assert len(others) >= 3  # the big apply took long enough to be overlapped
    for stdout, stderr, code in [(out, err, first.returncode)] + [
        (other.stdout, other.stderr, other.returncode) for other in others
    ]:
        assert "Traceback" not in stderr and SECRET not in stdout + stderr
        assert code == 0, stderr
    assert "applied 20100 change(s)" in out
    store = Store(f"sqlite:///{data / 'plugtone.db'}")
    try:
        with store.sessions() as session:
            phones = session.scalar(select(func.count()).select_from(Phone))
            extensions = session.scalar(select(func.count()).select_from(Extension))
    finally:
        store.dispose()
    assert phones == extensions == 10_000 + len(others)


def test_a_writer_the_store_keeps_busy_gets_one_line(tmp_path):
    """Another process holds the write lock past the wait: one line, exit 1, no change."""
    import sqlite3

    data = tmp_path / "data"
    run_cli("init", data=data)
    (tmp_path / "small.yaml").write_text(SECOND)
    holder = sqlite3.connect(data / "plugtone.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        refused = run_cli("apply", str(tmp_path / "small.yaml"), data=data, check=False,
                          env={"PLUGTONE_BUSY_TIMEOUT": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "Error: the store is busy (another change is being written); try again"
    ]
    assert SECRET not in refused.stdout + refused.stderr
    assert "0004F2000077" not in run_cli("export", data=data).stdout
