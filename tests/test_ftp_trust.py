"""FTP's side of trust, against a real ``plugtone serve`` driven by ftplib.

- A phone's own login (``http_user``/``http_password`` in the inventory) authenticates
  the session for that phone: its secrets, its uploads, its uploaded files read back;
  nothing of another phone's.
- The factory account is a gate, not authentication: a stranger behind it gets no
  secret, cannot upload, cannot read what the phone uploaded.
- Wrong passwords cannot be tried fast: each attempt past a few waits longer, an
  address that keeps failing is refused (421), many attempts at once share no wait;
  meanwhile a right login from elsewhere goes through at once, and a phone whose own
  login is being guessed at is only delayed, never locked out.

Nothing is trusted on this server (no trusted network, no window), and its login
thresholds are small (:data:`SETTINGS`); the defaults' figures are checked in
tests/test_sweep_guard.py.
"""

from __future__ import annotations

import ftplib
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from plugtone.inventory.models import ProvisioningEvent
from tests.conftest import EXAMPLE, RunningServer, run_cli, start_server, stop_server

SETTINGS = """
[security]
login_failures_before_delay = 3
login_delay_max = 4
login_block = 8
block_seconds = 600
"""
"""Three free failures, then 1, 2, 4, 4 ... s; an address refused at its 8th failure."""

PHONE_USER = "ip650-maxcs"
PHONE_PASSWORD = "Pw-650-x9"
POLYCOM = "0004f2000607"
FACTORY = ("PlcmSpIp", "PlcmSpIp")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> RunningServer:
    work = tmp_path_factory.mktemp("ftp-trust")
    data = work / "data"
    data.mkdir()
    (data / "plugtone.toml").write_text(SETTINGS)  # init keeps an existing settings file
    inventory = EXAMPLE.read_text().replace(
        "  - mac: 00:04:f2:00:06:07              # Polycom phones ask for 0004f2000607.cfg\n",
        "  - mac: 00:04:f2:00:06:07              # Polycom phones ask for 0004f2000607.cfg\n"
        f"    http_user: {PHONE_USER}\n    http_password: {PHONE_PASSWORD}\n",
    )
    assert PHONE_USER in inventory
    (work / "inventory.yaml").write_text(inventory)
    (work / "logo.png").write_bytes((EXAMPLE.parent / "logo.png").read_bytes())
    running = start_server(data, ftp=True, trusted=False)
    try:
        run_cli("apply", str(work / "inventory.yaml"), data=data)
        yield running
    finally:
        stop_server(running)


def connect(server: RunningServer, address: str) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect("127.0.0.1", server.ftp_port, timeout=30, source_address=(address, 0))
    return client


def login(server: RunningServer, address: str, user: str, password: str) -> ftplib.FTP:
    client = connect(server, address)
    client.login(user, password)
    return client


def fetch(client: ftplib.FTP, name: str) -> bytes | str:
    buffer = io.BytesIO()
    try:
        client.retrbinary(f"RETR {name}", buffer.write)
    except ftplib.error_perm as error:
        return str(error)
    return buffer.getvalue()


def store(client: ftplib.FTP, name: str, content: bytes) -> str:
    try:
        return client.storbinary(f"STOR {name}", io.BytesIO(content))
    except ftplib.error_perm as error:
        return str(error)


def attempt(server: RunningServer, address: str, user: str, password: str) -> str:
    """One login on a fresh connection: ``ok``, or the server's answer code."""
    client = connect(server, address)
    try:
        client.login(user, password)
        return "ok"
    except ftplib.Error as error:
        return str(error)[:3]
    finally:
        client.close()


def test_a_phones_own_login_authenticates_it_and_the_factory_login_does_not(server):
    phone = login(server, "127.0.1.20", PHONE_USER, PHONE_PASSWORD)
    master = fetch(phone, f"{POLYCOM}.cfg")
    assert f"{POLYCOM}-reg.cfg".encode() in master  # its own master, not the stranger's
    registration = fetch(phone, f"{POLYCOM}-reg.cfg")
    assert b'reg.1.auth.password="1212"' in registration
    assert phone.size(f"{POLYCOM}-reg.cfg") == len(registration)
    assert b"site maxcs7" in fetch(phone, f"{POLYCOM}-site.cfg")
    assert b"for phones plugtone does not know" in fetch(phone, "000000000000.cfg")  # common
    other = fetch(phone, "00085D000001.cfg")  # another phone's: as to any stranger
    assert isinstance(other, bytes) and b"22222" not in other and b"3003" not in other
    # its uploads are its own, and read back only by itself
    assert store(phone, f"{POLYCOM}-phone.cfg", b"<overrides/>\n").startswith("226")
    assert fetch(phone, f"{POLYCOM}-phone.cfg") == b"<overrides/>\n"
    assert (
        store(phone, "000000000000-phone.cfg", b"x") == "550 uploads of this name are not allowed"
    )
    phone.quit()

    stranger = login(server, "127.0.1.21", *FACTORY)
    for name in (f"{POLYCOM}-reg.cfg", f"{POLYCOM}.cfg", f"{POLYCOM}-phone.cfg"):
        answer = fetch(stranger, name)
        assert not isinstance(answer, bytes) or (b"1212" not in answer
                                                 and b"<overrides/>" not in answer), name  # fmt: skip
    assert len(fetch(stranger, f"{POLYCOM}.cfg")) == len(fetch(stranger, "0004f2000608.cfg"))
    for name in (f"{POLYCOM}-phone.cfg", "0004f2000608-phone.cfg", "nothing-declared.cfg"):
        assert store(stranger, name, b"<injected/>") == "550 uploads of this name are not allowed"
    stranger.quit()
    # the phone's file is still what it uploaded, not the stranger's
    phone = login(server, "127.0.1.20", PHONE_USER, PHONE_PASSWORD)
    assert fetch(phone, f"{POLYCOM}-phone.cfg") == b"<overrides/>\n"
    phone.quit()
    with pytest.raises(ftplib.error_perm, match="530"):
        login(server, "127.0.1.22", PHONE_USER, "wrong-password")

    store_ = server.store()
    try:
        deadline = time.monotonic() + 10
        while True:
            with store_.sessions() as session:
                rows = session.execute(
                    select(ProvisioningEvent.client_address, ProvisioningEvent.trust)
                    .where(ProvisioningEvent.path == f"/{POLYCOM}-reg.cfg")
                ).all()  # fmt: skip
            if len(rows) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        store_.dispose()
    assert ("127.0.1.20", "authenticated") in rows and ("127.0.1.21", "stranger") in rows


def test_ftp_passwords_cannot_be_guessed_fast(server):
    results: dict[str, object] = {}

    def one_by_one() -> None:  # 600 wrong factory passwords, one after the other
        started, codes, checked_at = time.monotonic(), [], []
        for index in range(600):
            code = attempt(server, "127.0.2.6", FACTORY[0], f"guess{index}")
            codes.append(code)
            if code == "530":
                checked_at.append(time.monotonic() - started)
        results["serial"] = (codes, checked_at, time.monotonic() - started)

    def all_at_once() -> None:  # 60 wrong passwords at the same moment
        with ThreadPoolExecutor(60) as pool:
            codes = list(pool.map(lambda i: attempt(server, "127.0.2.8", FACTORY[0],
                                                    f"parallel{i}"), range(60)))  # fmt: skip
        results["parallel"] = codes

    def phone_under_attack() -> None:  # a phone's own login guessed at from elsewhere...
        for index in range(6):
            attempt(server, "127.0.2.9", PHONE_USER, f"nope{index}")
        started = time.monotonic()  # ... while the phone logs in with it
        outcome = attempt(server, "127.0.2.10", PHONE_USER, PHONE_PASSWORD)
        results["phone"] = (outcome, time.monotonic() - started)

    threads = [threading.Thread(target=work) for work in (one_by_one, all_at_once,
                                                          phone_under_attack)]  # fmt: skip
    for thread in threads:
        thread.start()
    time.sleep(3)  # every attack is under way: a right login from elsewhere, at once
    started = time.monotonic()
    assert attempt(server, "127.0.3.7", *FACTORY) == "ok"
    assert time.monotonic() - started < 1.5
    for thread in threads:
        thread.join(120)

    codes, checked_at, elapsed = results["serial"]
    checked = codes.count("530")  # 8 failures refuse, less what leaked away meanwhile
    assert checked in (8, 9), codes[:20]  # passwords checked: 8 or 9, not 600
    assert set(codes[:checked]) == {"530"} and set(codes[checked:]) == {"421"}  # then refused
    assert checked_at[-1] >= 1 + 2 + 4 + 4 + 4 - 1  # and those 8 took their waits
    assert elapsed < 90
    assert attempt(server, "127.0.2.6", *FACTORY) == "421"  # even the right password now

    parallel = results["parallel"]
    assert parallel.count("530") <= 9 and parallel.count("421") >= 51, parallel

    outcome, waited = results["phone"]
    assert outcome == "ok"  # delayed, never locked out
    assert waited <= 4 + 2

    log = (server.data / "serve.log").read_text()
    assert "FTP logins from 127.0.2.6 refused" in log
    assert "FTP logins from 127.0.2.8 refused" in log
    assert PHONE_PASSWORD not in log and "guess1" not in log
