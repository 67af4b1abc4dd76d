"""Per-device authentication on the phone-facing HTTP(S) listener, against a real
``plugtone serve`` with nothing trusted: curl and httpx answering Digest challenges,
Basic over TLS, client certificates from a configured CA, and uploads only from the
phone itself. Every stranger's per-device request gets one 401, the same for every MAC.
"""

from __future__ import annotations

import datetime
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select, update

from plugtone.inventory.models import Phone, ProvisioningEvent
from plugtone.inventory.store import Store, bump_generation, lock_inventory
from plugtone.provisioning.device_auth import digest_response
from plugtone.servers.http import CHALLENGE_BODY, REFUSED_UPLOAD
from tests.conftest import (
    EXAMPLE,
    PLUGTONE,
    RunningServer,
    free_port,
    need,
    run_cli,
    start_server,
    stop_server,
)

AASTRA_1, AASTRA_2, POLYCOM = "00085D000001", "00085D000002", "0004F2000607"
LOGINS = {AASTRA_1: ("ph1", "pw-one"), AASTRA_2: ("ph2", "pw-two"), POLYCOM: ("poly", "pw-p")}
SIP_PASSWORDS = {AASTRA_1: "22222", AASTRA_2: "33333", POLYCOM: "1212"}
"""The example inventory's extension passwords (3003, 3004, 201)."""
TRUSTED_ADDRESS = "127.0.0.3"
"""A trusted network of this server's settings, for privileged requests that are not the
phone itself (127.0.0.1 is not trusted here)."""


# --------------------------------------------------------------------------------------
# A small PKI: CA "phones" (configured), CA "other" (not), client certificates


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


CA_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
    encipher_only=False, decipher_only=False,
)  # fmt: skip


def _ca(common_name: str):
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _client(directory: Path, label: str, common_name: str, ca) -> tuple[Path, Path]:
    """A client certificate and its key, as PEM files curl reads."""
    ca_key, ca_certificate = ca
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{label}.pem", directory / f"{label}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    pem = serialization.Encoding.PEM
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class Served:
    def __init__(self, server: RunningServer, pki: dict[str, tuple[Path, Path]]) -> None:
        self.server = server
        self.pki = pki

    def url(self, path: str, secure: bool = False) -> str:
        return (self.server.secure_base if secure else self.server.base) + path

    def events(self, user_agent: str, count: int) -> list[ProvisioningEvent]:
        """The events of the requests made with ``user_agent``, once ``count`` are written."""
        store = Store(f"sqlite:///{self.server.data / 'plugtone.db'}")
        try:
            deadline = time.monotonic() + 10
            while True:
                with store.sessions() as session:
                    rows = session.scalars(
                        select(ProvisioningEvent)
                        .where(ProvisioningEvent.user_agent == user_agent)
                        .order_by(ProvisioningEvent.id)
                    ).all()
                if len(rows) >= count or time.monotonic() > deadline:
                    return list(rows)
                time.sleep(0.1)
        finally:
            store.dispose()


def set_logins(data: Path, logins: dict[str, tuple[str, str]]) -> None:
    """Give phones their own provisioning login, straight in the store (as the inventory
    file and the CLI will), and move the generation so the running server sees it."""
    store = Store(f"sqlite:///{data / 'plugtone.db'}")
    try:
        with store.session() as session:
            lock_inventory(session)
            for mac, (user, password) in logins.items():
                session.execute(
                    update(Phone).where(Phone.mac == mac)
                    .values(http_user=user, http_password=password)
                )  # fmt: skip
            bump_generation(session)
    finally:
        store.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("device-auth")
    pki_dir = root / "pki"
    pki_dir.mkdir()
    phones_ca, other_ca = _ca("plugtone test phone CA"), _ca("some other CA")
    bundle = pki_dir / "phones-ca.pem"
    bundle.write_bytes(phones_ca[1].public_bytes(serialization.Encoding.PEM))
    pki = {
        "aastra1": _client(pki_dir, "aastra1", AASTRA_1, phones_ca),
        "aastra2": _client(pki_dir, "aastra2", f"SEP{AASTRA_2}", phones_ca),
        "aastra1-other-ca": _client(pki_dir, "aastra1-other-ca", AASTRA_1, other_ca),
    }
    data = root / "data"
    data.mkdir(mode=0o700)
    (data / "plugtone.toml").write_text(
        f'[security]\nclient_ca = ["{bundle}"]\ntrusted_networks = ["{TRUSTED_ADDRESS}/32"]\n'
    )
    server = start_server(data, tls=True, trusted=False)
    try:
        run_cli("apply", str(EXAMPLE), data=data)
        set_logins(data, LOGINS)
        served = Served(server, pki)
        _wait_for_logins(served)
        yield served
    finally:
        stop_server(server)


def _wait_for_logins(served: Served) -> None:
    deadline = time.monotonic() + 10
    user, password = LOGINS[AASTRA_1]
    while time.monotonic() < deadline:
        answer = httpx.get(served.url("/00085d000001.cfg"), auth=httpx.DigestAuth(user, password))
        if answer.status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError("the server never accepted the phone's login")


def curl(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """curl's output as text, its CRLFs kept (``text=True`` would turn them into LFs)."""
    result = subprocess.run(
        [need("curl"), "-s", "-S", "--max-time", "10", *args],
        capture_output=True, timeout=30, input=input.encode() if input is not None else None,
    )  # fmt: skip
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )  # fmt: skip


def _split(output: str) -> tuple[int, dict[str, str], str]:
    """The last response of ``curl -i`` output: status, headers, body."""
    blocks = output.split("HTTP/1.1 ")
    head, _, body = blocks[-1].partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[0]), headers, body


# --------------------------------------------------------------------------------------
# Digest


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_curl_digest_gets_the_phone_file_with_its_sip_password(served, secure):
    user, password = LOGINS[AASTRA_1]
    agent = f"device-auth curl digest {secure}"
    result = curl("-i", "-k", "--digest", "-u", f"{user}:{password}", "-A", agent,
                  served.url("/00085d000001.cfg", secure))  # fmt: skip
    status, _, body = _split(result.stdout)
    assert status == 200, result.stdout
    assert "00085D000001" in body and SIP_PASSWORDS[AASTRA_1] in body
    challenged, sent = served.events(agent, 2)
    assert (challenged.status, challenged.trust, challenged.secrets) == (
        "challenged", "stranger", False,
    )  # fmt: skip
    assert (sent.status, sent.trust, sent.secrets) == ("ok", "authenticated", True)
    assert sent.mac == AASTRA_1 and sent.transport == ("https" if secure else "http")


def test_httpx_digest_auth_gets_each_phone_its_own_files(served):
    with httpx.Client(headers={"User-Agent": "device-auth httpx"}) as client:
        for mac, path in ((AASTRA_2, "/00085d000002.cfg"), (POLYCOM, "/0004f2000607-reg.cfg")):
            user, password = LOGINS[mac]
            answer = client.get(served.url(path), auth=httpx.DigestAuth(user, password))
            assert answer.status_code == 200, (path, answer.text)
            assert SIP_PASSWORDS[mac] in answer.text
    trusts = [(event.status, event.trust) for event in served.events("device-auth httpx", 4)]
    assert trusts == [("challenged", "stranger"), ("ok", "authenticated")] * 2


def _challenge_of(served: Served, path: str, secure: bool = False, method: str = "GET"):
    answer = httpx.request(method, served.url(path, secure), verify=False)
    return answer


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_without_credentials_known_and_unknown_macs_get_the_same_401(served, secure):
    paths = ["/00085d000001.cfg", "/00085d0000aa.cfg", "/00085D000002.cfg",
             "/0004f2000607-reg.cfg", "/0004f2abcdef-reg.cfg", "/0004f2000607.cfg",
             "/0004f2abcdef.cfg", "/0004f2000607-directory.xml"]  # fmt: skip
    shapes = set()
    for method in ("GET", "HEAD"):
        for path in paths:
            answer = _challenge_of(served, path, secure, method)
            assert answer.status_code == 401, (method, path)
            if method == "GET":
                assert answer.content == CHALLENGE_BODY
            challenge = answer.headers["www-authenticate"]
            assert challenge.startswith('Digest realm="plugtone", qop="auth", algorithm=MD5, ')
            assert "stale" not in challenge
            shapes.add((method, tuple(sorted(answer.headers.keys())),
                        answer.headers["content-length"], len(challenge)))  # fmt: skip
    assert len(shapes) == 2, shapes  # one for GET, one for HEAD, whatever the MAC
    for password in SIP_PASSWORDS.values():
        assert password not in answer.text


def test_a_wrong_password_or_an_unknown_login_is_a_401(served):
    user, _ = LOGINS[AASTRA_1]
    for login in (f"{user}:wrong", "nobody:pw-one", f"{LOGINS[AASTRA_2][0]}:pw-one"):
        agent = f"device-auth wrong {login}"
        result = curl("-i", "--digest", "-u", login, "-A", agent, served.url("/00085d000001.cfg"))
        status, headers, body = _split(result.stdout)
        assert status == 401 and body == CHALLENGE_BODY.decode(), login
        assert "stale" not in headers["www-authenticate"]
        assert SIP_PASSWORDS[AASTRA_1] not in result.stdout
        _, second = served.events(agent, 2)
        assert (second.status, second.trust, second.detail) == (
            "challenged", "stranger", "credentials refused",
        )  # fmt: skip
        assert not second.secrets


def test_phone_a_credentials_do_not_open_phone_b_files(served):
    user, password = LOGINS[AASTRA_1]
    for path in ("/00085d000002.cfg", "/0004f2000607-reg.cfg"):
        answer = httpx.get(served.url(path), auth=httpx.DigestAuth(user, password))
        assert answer.status_code == 401
        assert answer.content == CHALLENGE_BODY
        assert not any(secret in answer.text for secret in SIP_PASSWORDS.values())


def _digest_header(challenge: str, path: str, user: str, password: str, method: str = "GET"):
    """What httpx's DigestAuth answers ``challenge`` with for ``path``."""
    request = httpx.Request(method, f"http://plugtone{path}")
    flow = httpx.DigestAuth(user, password).sync_auth_flow(request)
    next(flow)
    retried = flow.send(
        httpx.Response(401, headers={"WWW-Authenticate": challenge}, request=request)
    )
    return retried.headers["Authorization"]


def test_a_replayed_or_forged_nonce_is_stale_a_wrong_uri_is_refused(served):
    user, password = LOGINS[AASTRA_1]
    path = "/00085d000001.cfg"
    challenge = _challenge_of(served, path).headers["www-authenticate"]
    header = _digest_header(challenge, path, user, password)
    first = httpx.get(served.url(path), headers={"Authorization": header})
    assert first.status_code == 200 and SIP_PASSWORDS[AASTRA_1] in first.text
    replayed = httpx.get(served.url(path), headers={"Authorization": header})
    assert replayed.status_code == 401 and replayed.content == CHALLENGE_BODY
    assert replayed.headers["www-authenticate"].endswith(", stale=true")
    # A nonce altered by one digit: signed by nobody, so stale for the password's holder...
    nonce = challenge.split('nonce="')[1].split('"')[0]
    forged = challenge.replace(nonce, nonce[:-1] + ("1" if nonce[-1] == "0" else "0"))
    answer = httpx.get(served.url(path),
                       headers={"Authorization": _digest_header(forged, path, user, password)})  # fmt: skip
    assert answer.status_code == 401 and answer.headers["www-authenticate"].endswith("stale=true")
    # ... and plainly refused for anyone else.
    answer = httpx.get(served.url(path),
                       headers={"Authorization": _digest_header(forged, path, user, "guess")})  # fmt: skip
    assert answer.status_code == 401 and "stale" not in answer.headers["www-authenticate"]
    # A digest computed for another target does not open this one.
    fresh = _challenge_of(served, path).headers["www-authenticate"]
    other = _digest_header(fresh, "/00085d000001.cfg?copy", user, password)
    answer = httpx.get(served.url(path), headers={"Authorization": other})
    assert answer.status_code == 401 and "stale" not in answer.headers["www-authenticate"]
    assert SIP_PASSWORDS[AASTRA_1] not in answer.text


def _digest_for_nonce(nonce: str, path: str, user: str, password: str, nc: int) -> str:
    """A qop=auth answer for ``nonce`` with the given ``nc`` (one nonce, many requests)."""
    count = f"{nc:08x}"
    response = digest_response("MD5", user.encode(), b"plugtone", password.encode(),
                               nonce.encode(), b"GET", path.encode(), b"auth", count.encode(),
                               b"rotation")  # fmt: skip
    return (f'Digest username="{user}", realm="plugtone", nonce="{nonce}", uri="{path}", '
            f'qop=auth, nc={count}, cnonce="rotation", response="{response}"')  # fmt: skip


def test_after_rotate_key_earlier_nonces_are_stale_and_phones_are_still_served(served):
    user, password = LOGINS[AASTRA_1]
    path = "/00085d000001.cfg"
    challenge = _challenge_of(served, path).headers["www-authenticate"]
    nonce = challenge.split('nonce="')[1].split('"')[0]
    header = _digest_for_nonce(nonce, path, user, password, 1)
    assert httpx.get(served.url(path), headers={"Authorization": header}).status_code == 200
    run_cli("rotate-key", data=served.server.data)
    deadline = time.monotonic() + 15
    for nc in range(2, 1000):
        header = _digest_for_nonce(nonce, path, user, password, nc)
        answer = httpx.get(served.url(path), headers={"Authorization": header})
        if answer.status_code == 401:
            break
        assert time.monotonic() < deadline, "the old nonce is still accepted"
        time.sleep(0.2)
    assert answer.headers["www-authenticate"].endswith(", stale=true")
    fresh = httpx.get(served.url(path), auth=httpx.DigestAuth(user, password))
    assert fresh.status_code == 200 and SIP_PASSWORDS[AASTRA_1] in fresh.text


def test_sha256_digest_is_accepted_when_a_client_asks_for_it(served):
    user, password = LOGINS[AASTRA_1]
    path = "/00085d000001.cfg"
    challenge = _challenge_of(served, path).headers["www-authenticate"]
    header = _digest_header(challenge.replace("algorithm=MD5", "algorithm=SHA-256"), path,
                            user, password)  # fmt: skip
    assert "algorithm=SHA-256" in header
    answer = httpx.get(served.url(path), headers={"Authorization": header})
    assert answer.status_code == 200 and SIP_PASSWORDS[AASTRA_1] in answer.text


def test_malformed_authorization_headers_are_a_401_never_an_error(served):
    headers = ['Digest username="ph1', "Digest " + "x=1, " * 40 + "y=2", "Digest", "Basic !!!",
               'Digest username="ph1", realm="plugtone", nonce="00", uri="/", response="0"']  # fmt: skip
    for secure in (False, True):
        for header in headers:
            answer = httpx.get(served.url("/aastra.cfg", secure), verify=False,
                               headers={"Authorization": header})  # fmt: skip
            if header.startswith("Basic") and not secure:
                assert answer.status_code == 200  # Basic over plain HTTP: not even read
                continue
            assert answer.status_code == 401, (secure, header)
            assert answer.content == CHALLENGE_BODY
    two = [("Authorization", "Basic cGgxOnB3LW9uZQ=="), ("Authorization", "Basic eDp5")]
    answer = httpx.get(served.url("/00085d000001.cfg", True), headers=two, verify=False)
    assert answer.status_code == 401
    # A scheme plugtone does not speak is no credentials: a common file is still served.
    answer = httpx.get(served.url("/aastra.cfg"), headers={"Authorization": "Bearer abc"})
    assert answer.status_code == 200


# --------------------------------------------------------------------------------------
# Basic


def test_basic_works_over_https_and_is_ignored_over_plain_http(served):
    user, password = LOGINS[AASTRA_1]
    result = curl("-i", "-k", "--basic", "-u", f"{user}:{password}", "-A", "device-auth basic",
                  served.url("/00085d000001.cfg", secure=True))  # fmt: skip
    status, _, body = _split(result.stdout)
    assert status == 200 and SIP_PASSWORDS[AASTRA_1] in body
    result = curl("-i", "--basic", "-u", f"{user}:{password}", "-A", "device-auth basic plain",
                  served.url("/00085d000001.cfg"))  # fmt: skip
    status, _, body = _split(result.stdout)
    assert status == 401 and body == CHALLENGE_BODY.decode()
    (secure,) = served.events("device-auth basic", 1)
    assert (secure.status, secure.trust) == ("ok", "authenticated")
    (plain,) = served.events("device-auth basic plain", 1)
    # Ignored, not refused: the request was judged as one that sent nothing.
    assert (plain.status, plain.trust, plain.detail) == ("challenged", "stranger", "stranger")
    # A Basic header over plain HTTP is no credentials: a common file is served as usual.
    answer = httpx.get(served.url("/aastra.cfg"), auth=httpx.BasicAuth("x", "y"))
    assert answer.status_code == 200


# --------------------------------------------------------------------------------------
# Client certificates


def test_a_client_certificate_from_the_configured_ca_authenticates_its_mac(served):
    cert, key = served.pki["aastra1"]
    result = curl("-i", "-k", "--cert", str(cert), "--key", str(key), "-A", "device-auth cert",
                  served.url("/00085d000001.cfg", secure=True))  # fmt: skip
    status, _, body = _split(result.stdout)
    assert status == 200, result.stdout + result.stderr
    assert SIP_PASSWORDS[AASTRA_1] in body
    (event,) = served.events("device-auth cert", 1)
    assert (event.status, event.trust, event.mac, event.secrets) == (
        "ok", "authenticated", AASTRA_1, True,
    )  # fmt: skip
    # A Cisco-style name (SEP<MAC>) for the other phone: its file, and not phone 1's.
    cert, key = served.pki["aastra2"]
    result = curl("-i", "-k", "--cert", str(cert), "--key", str(key),
                  served.url("/00085d000002.cfg", secure=True))  # fmt: skip
    status, _, body = _split(result.stdout)
    assert status == 200 and SIP_PASSWORDS[AASTRA_2] in body
    result = curl("-i", "-k", "--cert", str(cert), "--key", str(key),
                  served.url("/00085d000001.cfg", secure=True))  # fmt: skip
    status, _, body = _split(result.stdout)
    assert status == 401 and body == CHALLENGE_BODY.decode()
    assert SIP_PASSWORDS[AASTRA_1] not in result.stdout


def test_a_certificate_over_plain_http_counts_for_nothing_and_no_certificate_is_fine(served):
    # Over HTTPS without a certificate the phone is judged by the other rules (Digest).
    user, password = LOGINS[AASTRA_1]
    result = curl("-i", "-k", "--digest", "-u", f"{user}:{password}",
                  served.url("/00085d000001.cfg", secure=True))  # fmt: skip
    assert _split(result.stdout)[0] == 200


@pytest.mark.parametrize("version", [["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"]],
                         ids=["tls1.2", "tls1.3"])  # fmt: skip
def test_a_certificate_from_another_ca_fails_the_handshake(served, version):
    """Python's ssl (OpenSSL's SSL_VERIFY_PEER) verifies any certificate a client sends
    and ends the handshake when it fails: there is no hook to accept it as "none". The
    connection is closed without an answer (asyncio drops the alert): under TLS 1.2
    curl sees the handshake fail (35), under 1.3, where the client's certificate is
    checked after the client's side of the handshake is done, an empty reply (52)."""
    cert, key = served.pki["aastra1-other-ca"]
    result = curl("-i", "-k", *version, "--cert", str(cert), "--key", str(key),
                  served.url("/00085d000001.cfg", secure=True))  # fmt: skip
    assert result.returncode in (35, 52, 56), (result.returncode, result.stderr)
    assert result.stdout == ""
    # The listener is unharmed.
    assert httpx.get(served.url("/aastra.cfg", secure=True), verify=False).status_code == 200


# --------------------------------------------------------------------------------------
# Uploads


def _put_head_only(served: Served, path: str, length: int = 100_000) -> bytes:
    """A PUT whose body never comes: the answer must come without waiting for it."""
    with socket.create_connection(("127.0.0.1", served.server.http_port), timeout=5) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: plugtone\r\nContent-Length: {length}\r\n"
                     "User-Agent: device-auth head-only\r\n\r\n".encode())  # fmt: skip
        received = b""
        while b"\r\n\r\n" not in received or not received.endswith(CHALLENGE_BODY):
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    return received


def test_a_strangers_put_is_challenged_and_never_reaches_the_phone(served):
    injected = b'<PHONE_CONFIG><ALL voIpProt.server.1.address="evil.example"/></PHONE_CONFIG>\n'
    name = "/0004f2000607-phone.cfg"
    shapes = set()
    for path in (name, "/0004f2abcdef-phone.cfg", "/0004F2000607-directory.xml",
                 "/00085d000001-boot.log", "/not-declared.txt"):  # fmt: skip
        answer = httpx.put(served.url(path), content=injected,
                           headers={"User-Agent": "device-auth stranger put"})  # fmt: skip
        assert answer.status_code == 401, path
        assert answer.content == CHALLENGE_BODY
        shapes.add((answer.headers["content-length"], len(answer.headers["www-authenticate"])))
    assert len(shapes) == 1
    # Decided on the head: a PUT whose body never comes is answered at once.
    began = time.monotonic()
    raw = _put_head_only(served, name)
    assert raw.startswith(b"HTTP/1.1 401 ") and raw.endswith(CHALLENGE_BODY)
    assert time.monotonic() - began < 3
    assert not (served.server.data / "uploads" / POLYCOM).exists()
    events = served.events("device-auth stranger put", 5)
    assert {(event.status, event.trust) for event in events} == {("challenged", "stranger")}
    # The phone's own next fetch of that name is not what the stranger sent.
    user, password = LOGINS[POLYCOM]
    own = httpx.get(served.url(name), auth=httpx.DigestAuth(user, password))
    assert b"evil.example" not in own.content
    assert own.status_code == 404  # nothing uploaded under that name yet


def test_the_phone_itself_uploads_with_its_login_and_reads_it_back(served):
    user, password = LOGINS[POLYCOM]
    name = "/0004f2000607-directory.xml"
    upload = served.server.data / "upload-directory.xml"
    content = (
        "<directory><item_list><item><fn>Ops</fn><ct>2000</ct></item></item_list></directory>\n"
    )
    upload.write_text(content)
    result = curl("-i", "--digest", "-u", f"{user}:{password}", "-A", "device-auth own put",
                  "-T", str(upload), served.url(name))  # fmt: skip
    assert _split(result.stdout)[0] == 204, result.stdout
    stored = served.server.data / "uploads" / POLYCOM / "0004f2000607-directory.xml"
    assert stored.read_text() == content
    events = served.events("device-auth own put", 2)
    assert (events[-1].status, events[-1].trust) == ("uploaded", "authenticated")
    own = httpx.get(served.url(name), auth=httpx.DigestAuth(user, password))
    assert own.status_code == 200 and own.text == content
    # Another phone's login, or none, does not read it.
    other = httpx.get(served.url(name), auth=httpx.DigestAuth(*LOGINS[AASTRA_1]))
    assert other.status_code == 401 and b"Ops" not in other.content
    assert httpx.get(served.url(name)).status_code == 401
    # Too large for the name: refused, and the event says who asked.
    big = httpx.put(served.url(name), content=b"x" * (300 * 1024),
                    auth=httpx.DigestAuth(user, password),
                    headers={"User-Agent": "device-auth big put"})  # fmt: skip
    assert big.status_code == 413
    events = served.events("device-auth big put", 2)
    assert [(event.status, event.trust) for event in events] == [
        ("challenged", "stranger"), ("refused", "authenticated"),
    ]  # fmt: skip
    assert stored.read_text() == content
    # ... nor write it.
    answer = httpx.put(served.url(name), content=b"<directory/>",
                       auth=httpx.DigestAuth(*LOGINS[AASTRA_1]))  # fmt: skip
    assert answer.status_code == 401
    assert stored.read_text() == content


def test_a_privileged_put_that_is_not_the_phone_gets_the_refusal_of_an_undeclared_name(served):
    """From a trusted network, but not from the address the phone last used: refused as
    an undeclared name is, not challenged (credentials would not change the verdict)."""
    answers = []
    for path in ("/0004f2000607-boot.log", "/not-declared.txt", "/0004f2abcdef-boot.log"):
        result = curl("-i", "--interface", TRUSTED_ADDRESS, "-A", "device-auth trusted put",
                      "-T", "-", served.url(path), input="log line\n")  # fmt: skip
        answers.append(_split(result.stdout))
    assert {status for status, _, _ in answers} == {403}
    assert {body for _, _, body in answers} == {REFUSED_UPLOAD.decode()}
    events = served.events("device-auth trusted put", 3)
    assert {(event.status, event.trust) for event in events} == {("refused", "trusted_network")}
    assert not (served.server.data / "uploads" / POLYCOM / "0004f2000607-boot.log").exists()


# --------------------------------------------------------------------------------------
# Start-up


@pytest.mark.parametrize("problem", ["missing", "not-pem"])
def test_serve_stops_at_once_naming_a_bad_client_ca_bundle(tmp_path, problem):
    data = tmp_path / "data"
    bundle = tmp_path / "bundle.pem"
    if problem == "not-pem":
        bundle.write_text("this is not a certificate\n")
    data.mkdir(mode=0o700)
    (data / "plugtone.toml").write_text(f'[security]\nclient_ca = ["{bundle}"]\n')
    run_cli("init", "--tls", data=data)
    result = subprocess.run(
        [*PLUGTONE, "serve", "--data", str(data), "--host", "127.0.0.1",
         "--http-port", str(free_port()), "--https-port", str(free_port()),
         "--tftp-port", "0", "--ftp-port", "0", "--admin-port", "0"],
        capture_output=True, text=True, timeout=60, env={**os.environ},
    )  # fmt: skip
    assert result.returncode != 0
    assert str(bundle) in result.stderr
    assert "client_ca" in result.stderr


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_forwarded_headers_cannot_claim_a_trusted_address_or_https(served, secure):
    """The client address is the TCP peer's: a local process sending X-Forwarded-For
    with the trusted address (and X-Forwarded-Proto: https, for Basic) is a stranger."""
    user, password = LOGINS[AASTRA_1]
    answer = httpx.get(
        served.url("/00085d000001.cfg", secure),
        headers={"X-Forwarded-For": TRUSTED_ADDRESS, "X-Forwarded-Proto": "https",
                 "Forwarded": f"for={TRUSTED_ADDRESS};proto=https"},
        verify=False,
    )  # fmt: skip
    assert answer.status_code == 401 and answer.content == CHALLENGE_BODY
    if not secure:  # Basic over plain HTTP stays refused, whatever the headers say
        basic = httpx.get(served.url("/00085d000001.cfg"), auth=(user, password),
                          headers={"X-Forwarded-Proto": "https"})  # fmt: skip
        assert basic.status_code == 401
