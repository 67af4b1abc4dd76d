"""TLS session resumption across the workers of ``plugtone serve --workers 2``.

A real client, ``openssl s_client``, saves its session after one full handshake
(``-sess_out``) and offers it on each new connection (``-sess_in``); the kernel spreads
those connections over both workers (the admin listener's ``x-plugtone-worker`` header
names the one that answered). Every reconnection must print ``Reused``, under TLS 1.2
and 1.3, on the admin listener and on the phone HTTPS listener. With a context made in
each worker (before the supervisor made them once), about half printed ``New``: each
worker had session-ticket keys of its own. A phone authenticated by its client
certificate stays authenticated on a resumed session that another worker took (the
certificate travels in the ticket), and a certificate from another CA still fails.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from plugtone.servers.workers import WORKER_HEADER
from tests.conftest import EXAMPLE, RunningServer, need, run_cli, start_server, stop_server
from tests.test_http_device_auth import AASTRA_1, SIP_PASSWORDS, _ca, _client

RECONNECTIONS = 24
"""Reconnections per case: all landing on one of two workers has odds of 2^-23."""
VERSIONS = {"tls1.2": "-tls1_2", "tls1.3": "-tls1_3"}


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[RunningServer, dict[str, tuple[Path, Path]]]]:
    """Two workers with HTTPS, the admin listener over TLS, ``client_ca`` configured and
    nothing trusted (a phone proves itself by its certificate)."""
    root = tmp_path_factory.mktemp("workers-tls")
    pki_dir = root / "pki"
    pki_dir.mkdir()
    phones_ca, other_ca = _ca("plugtone test phone CA"), _ca("some other CA")
    bundle = pki_dir / "phones-ca.pem"
    bundle.write_bytes(phones_ca[1].public_bytes(serialization.Encoding.PEM))
    pki = {
        "phone": _client(pki_dir, "phone", AASTRA_1, phones_ca),
        "other-ca": _client(pki_dir, "other-ca", AASTRA_1, other_ca),
    }
    data = root / "data"
    data.mkdir(mode=0o700)
    (data / "plugtone.toml").write_text(f'[security]\nclient_ca = ["{bundle}"]\n')
    server = start_server(data, tls=True, admin=True, trusted=False, extra=("--workers", "2"))
    try:
        deadline = time.monotonic() + 60
        while "workers, pids" not in (data / "serve.log").read_text():
            assert time.monotonic() < deadline, (data / "serve.log").read_text()
            time.sleep(0.05)
        run_cli("apply", str(EXAMPLE), data=data)
        yield server, pki
    finally:
        stop_server(server)


def s_client(port: int, version: str, request: str, *extra: str) -> str:
    """One connection of ``openssl s_client`` sending ``request``: what it printed."""
    result = subprocess.run(
        [need("openssl"), "s_client", "-connect", f"127.0.0.1:{port}", VERSIONS[version],
         "-ign_eof", *extra],
        input=request.encode(), capture_output=True, timeout=30,
    )  # fmt: skip
    return result.stdout.decode(errors="replace")


def handshake(text: str) -> str:
    """``New`` or ``Reused``: s_client's line about the session."""
    found = re.search(r"^(New|Reused), TLS", text, re.M)
    assert found, text[-3000:]
    return found.group(1)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_reconnection_to_the_admin_listener_resumes_whichever_worker_takes_it(
    served, tmp_path, version
):
    server, _ = served
    session = tmp_path / "session.pem"
    request = "GET /api/docs HTTP/1.0\r\n\r\n"
    assert handshake(s_client(server.admin_port, version, request, "-sess_out", str(session)))
    handshakes, workers = [], set()
    for _ in range(RECONNECTIONS):
        text = s_client(server.admin_port, version, request, "-sess_in", str(session))
        handshakes.append(handshake(text))
        workers.update(re.findall(rf"^{WORKER_HEADER}: (\d+) \d+\r?$", text, re.M | re.I))
    assert workers == {"0", "1"}  # the reconnections reached both workers
    new = handshakes.count("New")
    assert new == 0, f"{new} of {RECONNECTIONS} reconnections made a full handshake"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_phone_resumes_on_either_worker_and_stays_authenticated_by_its_certificate(
    served, tmp_path, version
):
    server, pki = served
    cert, key = pki["phone"]
    session = tmp_path / "session.pem"
    request = f"GET /{AASTRA_1.lower()}.cfg HTTP/1.0\r\nUser-Agent: workers-tls\r\n\r\n"
    first = s_client(server.https_port, version, request, "-cert", str(cert), "-key", str(key),
                     "-sess_out", str(session))  # fmt: skip
    assert handshake(first) == "New" and "HTTP/1.1 200" in first, first[-3000:]
    assert SIP_PASSWORDS[AASTRA_1] in first
    handshakes = []
    for _ in range(RECONNECTIONS):  # no certificate sent again: the session carries it
        text = s_client(server.https_port, version, request, "-sess_in", str(session))
        handshakes.append(handshake(text))
        if handshakes[-1] == "Reused":
            assert "HTTP/1.1 200" in text and SIP_PASSWORDS[AASTRA_1] in text, text[-3000:]
    new = handshakes.count("New")
    assert new == 0, f"{new} of {RECONNECTIONS} reconnections made a full handshake"
    without = s_client(server.https_port, version, request)  # a new session, no certificate
    assert handshake(without) == "New" and "HTTP/1.1 401" in without


def test_a_certificate_from_another_ca_still_fails_the_handshake_on_every_worker(served):
    server, pki = served
    cert, key = pki["other-ca"]
    request = f"GET /{AASTRA_1.lower()}.cfg HTTP/1.0\r\n\r\n"
    for _ in range(8):
        text = s_client(server.https_port, "tls1.2", request, "-cert", str(cert), "-key", str(key))
        assert "HTTP/1.1" not in text and SIP_PASSWORDS[AASTRA_1] not in text
