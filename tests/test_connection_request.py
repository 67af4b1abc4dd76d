"""Connection requests: our Digest client against lighttpd's mod_auth (a Digest server
no one here wrote, MD5 and SHA-256 with qop=auth, Basic), a few hand-made CPE servers
for what lighttpd does not do (503, silence, Basic over plain HTTP, odd challenges),
and TR-111 UDP requests received on a real socket from the STUN server's port."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse

import pytest

from plugtone.acs import connection_request as cr
from plugtone.servers.stun import StunListener
from plugtone.tls import generate_self_signed
from tests.conftest import free_port

USER, PASSWORD, REALM = "acs-cr", 's3"cr\\et', "cpe"


@pytest.fixture(scope="module")
def lighttpd(tmp_path_factory):
    """lighttpd with Digest MD5 on /cr, Digest SHA-256 on /sha/, Basic on /basic/, over
    HTTP and (with a lab certificate) HTTPS: (http base, https base, certificate)."""
    binary = shutil.which("lighttpd")
    assert binary, "lighttpd (scripts/test installs it)"
    root = tmp_path_factory.mktemp("lighttpd")
    www = root / "www"
    for folder in ("", "sha", "basic"):
        (www / folder).mkdir(parents=True, exist_ok=True)
        (www / folder / "cr").write_text("ok\n")
    digest = hashlib.md5(f"{USER}:{REALM}:{PASSWORD}".encode()).hexdigest()
    (root / "htdigest").write_text(f"{USER}:{REALM}:{digest}\n")
    (root / "plain").write_text(f"{USER}:{PASSWORD}\n")
    port, tls_port = free_port(), free_port()
    generate_self_signed(root / "cert.pem", root / "key.pem", "localhost")
    (root / "lighttpd.conf").write_text(
        f"""
server.document-root = "{www}"
server.port = {port}
server.bind = "127.0.0.1"
server.modules = ("mod_auth", "mod_authn_file", "mod_openssl")
server.errorlog = "{root}/error.log"
$SERVER["socket"] == "127.0.0.1:{tls_port}" {{
  ssl.engine = "enable"
  ssl.pemfile = "{root}/cert.pem"
  ssl.privkey = "{root}/key.pem"
}}
auth.backend = "htdigest"
auth.backend.htdigest.userfile = "{root}/htdigest"
$HTTP["url"] =~ "^/(basic|sha)/" {{
  auth.backend = "plain"
  auth.backend.plain.userfile = "{root}/plain"
}}
auth.require = (
  "/basic/" => ("method" => "basic", "realm" => "{REALM}", "require" => "valid-user"),
  "/sha/" => ("method" => "digest", "realm" => "{REALM}", "require" => "valid-user",
              "algorithm" => "SHA-256"),
  "/" => ("method" => "digest", "realm" => "{REALM}", "require" => "valid-user"),
)
"""
    )
    process = subprocess.Popen([binary, "-D", "-f", str(root / "lighttpd.conf")])
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError((root / "error.log").read_text()) from None
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", f"https://127.0.0.1:{tls_port}", root / "cert.pem"
    process.terminate()
    process.wait(5)


def run(coroutine):
    return asyncio.run(coroutine)


def test_digest_md5_against_lighttpd(lighttpd):
    lighttpd = lighttpd[0]
    result = run(cr.http_connection_request(f"{lighttpd}/cr", USER, PASSWORD, timeout=5))
    assert result.outcome is cr.Outcome.ACCEPTED, result.message
    assert (result.status, result.scheme, result.ok) == (200, "digest", True)
    assert PASSWORD not in result.message


def test_digest_sha256_and_a_query_string_against_lighttpd(lighttpd):
    lighttpd = lighttpd[0]
    url = f"{lighttpd}/sha/cr?device=00085D0A0B0C&x=1"
    result = run(cr.http_connection_request(url, USER, PASSWORD, timeout=5))
    assert result.outcome is cr.Outcome.ACCEPTED, result.message
    assert result.scheme == "digest"


def test_wrong_password_is_auth_failed(lighttpd):
    lighttpd = lighttpd[0]
    result = run(cr.http_connection_request(f"{lighttpd}/cr", USER, "guess", timeout=5))
    assert result.outcome is cr.Outcome.AUTH_FAILED
    assert result.status == 401
    assert "refused the connection-request credentials of 'acs-cr'" in result.message
    assert "guess" not in result.message


def test_basic_only_when_allowed_over_plain_http(lighttpd):
    lighttpd = lighttpd[0]
    refused = run(cr.http_connection_request(f"{lighttpd}/basic/cr", USER, PASSWORD, timeout=5))
    assert refused.outcome is cr.Outcome.BASIC_REFUSED
    assert "not sent in clear" in refused.message
    allowed = run(
        cr.http_connection_request(
            f"{lighttpd}/basic/cr", USER, PASSWORD, timeout=5, allow_basic=True
        )
    )
    assert allowed.outcome is cr.Outcome.ACCEPTED, allowed.message
    assert allowed.scheme == "basic"


# --------------------------------------------------------------------------------------
# CPE behaviours lighttpd does not have
# --------------------------------------------------------------------------------------


connections: list = []


async def serve(handler) -> tuple[asyncio.AbstractServer, str, list[bytes]]:
    """A CPE's connection-request server; ``handler(head, count)`` returns the bytes
    to answer (None: stay silent). Every request head is recorded, every connection
    counted (in ``connections``)."""
    connections.clear()
    heads: list[bytes] = []

    async def connection(reader, writer):
        connections.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                answer = handler(head, len(heads))
                if answer is None:
                    await asyncio.sleep(30)
                    return
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/", heads


def challenge_then(final: bytes, challenge: str, close_first: bool = False):
    def handler(head, count):
        if b"Authorization:" not in head:
            extra = "Connection: close\r\n" if close_first else ""
            return (
                f"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\n{extra}"
                "Content-Length: 5\r\n\r\nnope\n"
            ).encode()
        return final

    return handler


async def exchange(handler, **options):
    server, url, heads = await serve(handler)
    async with server:
        result = await cr.http_connection_request(url, USER, PASSWORD, **options)
    return result, heads


def test_a_cpe_without_authentication_and_one_answering_204():
    result, heads = run(exchange(lambda head, n: b"HTTP/1.1 204 No Content\r\n\r\n"))
    assert (result.outcome, result.status, result.scheme) == (cr.Outcome.ACCEPTED, 204, None)
    assert heads[0].startswith(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:")


def test_busy_cpe_is_503():
    handler = challenge_then(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
        'Digest realm="cpe", nonce="n1", qop="auth"',
    )
    result, _ = run(exchange(handler))
    assert (result.outcome, result.status) == (cr.Outcome.BUSY, 503)


def test_digest_stays_on_one_connection_and_follows_rfc_2617():
    handler = challenge_then(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        'Digest realm="cpe", nonce="abc,def", qop="auth,auth-int", opaque="op", algorithm=MD5',
    )
    result, heads = run(exchange(handler))
    assert result.outcome is cr.Outcome.ACCEPTED
    authorization = heads[1].split(b"Authorization: ", 1)[1].split(b"\r\n", 1)[0].decode()
    assert len(connections) == 1
    (answered,) = cr.parse_challenges([authorization])
    params = answered.params
    assert params["uri"] == "/" and params["qop"] == "auth" and params["opaque"] == "op"
    ha1 = hashlib.md5(f"{USER}:cpe:{PASSWORD}".encode()).hexdigest()
    ha2 = hashlib.md5(b"GET:/").hexdigest()
    expected = hashlib.md5(
        f"{ha1}:abc,def:{params['nc']}:{params['cnonce']}:auth:{ha2}".encode()
    ).hexdigest()
    assert params["response"] == expected
    assert params["username"] == USER


def test_a_stale_nonce_is_answered_once_more():
    def handler(head, count):
        if count == 1:
            return b'HTTP/1.1 401 x\r\nWWW-Authenticate: Digest realm="cpe", nonce="old", qop="auth"\r\nContent-Length: 0\r\n\r\n'
        if b'nonce="old"' in head:
            return b'HTTP/1.1 401 x\r\nWWW-Authenticate: Digest realm="cpe", nonce="new", qop="auth", stale=TRUE\r\nContent-Length: 0\r\n\r\n'
        if b'nonce="new"' in head and count == 3:
            return b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        return b'HTTP/1.1 401 x\r\nWWW-Authenticate: Digest realm="cpe", nonce="newer", stale=true\r\nContent-Length: 0\r\n\r\n'

    result, heads = run(exchange(handler))
    assert result.outcome is cr.Outcome.ACCEPTED
    assert len(heads) == 3

    def always_stale(head, count):
        nonce = f"n{count}"
        return (
            f'HTTP/1.1 401 x\r\nWWW-Authenticate: Digest realm="cpe", nonce="{nonce}", stale=true\r\n'
            "Content-Length: 0\r\n\r\n"
        ).encode()

    result, heads = run(exchange(always_stale))
    assert result.outcome is cr.Outcome.AUTH_FAILED
    assert len(heads) == 3  # no endless loop


def test_digest_response_matches_rfc_2617_example():
    challenge = cr.Challenge(
        "digest",
        {
            "realm": "testrealm@host.com",
            "qop": "auth,auth-int",
            "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "opaque": "5ccc069c403ebaf9f0171e9517f40e41",
        },
    )
    header = cr.digest_authorization(
        challenge,
        username="Mufasa",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        cnonce="0a4f113b",
    )
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert "qop=auth, nc=00000001" in header


def test_a_challenge_closing_the_connection_is_answered_on_a_new_one():
    handler = challenge_then(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        'Digest realm="cpe", nonce="n2"',  # RFC 2069: no qop
        close_first=True,
    )
    result, heads = run(exchange(handler))
    assert result.outcome is cr.Outcome.ACCEPTED
    assert (len(heads), len(connections)) == (2, 2)


def test_unanswerable_challenges_unexpected_statuses_and_silence():
    result, _ = run(exchange(challenge_then(b"", "Negotiate abc, NTLM")))
    assert result.outcome is cr.Outcome.AUTH_FAILED
    assert "negotiate, ntlm" in result.message
    result, _ = run(
        exchange(challenge_then(b"", 'Digest realm="x", nonce="n", algorithm=SHA-512-256'))
    )
    assert result.outcome is cr.Outcome.AUTH_FAILED
    result, _ = run(
        exchange(lambda head, n: b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    )
    assert (result.outcome, result.status) == (cr.Outcome.UNEXPECTED_STATUS, 404)
    result, _ = run(exchange(lambda head, n: b"garbage\r\n\r\n"))
    assert result.outcome is cr.Outcome.UNREACHABLE
    started = time.monotonic()
    result, _ = run(exchange(lambda head, n: None, timeout=0.5))
    assert result.outcome is cr.Outcome.TIMEOUT
    assert time.monotonic() - started < 3


def test_unreachable_and_bad_urls():
    closed = free_port()
    result = run(cr.http_connection_request(f"http://127.0.0.1:{closed}/", USER, PASSWORD))
    assert result.outcome is cr.Outcome.UNREACHABLE
    assert "connection refused" in result.message
    for url in ("ftp://127.0.0.1/", "http:///nohost", "not a url"):
        assert run(cr.http_connection_request(url, USER, PASSWORD)).outcome is cr.Outcome.BAD_URL


def test_https_connection_request_with_basic_and_a_verified_certificate(lighttpd):
    """Over TLS, Basic goes without being allowed explicitly; the CPE's certificate is
    verified against the context given (here the lab certificate lighttpd serves)."""
    _, https, cafile = lighttpd
    context = ssl.create_default_context(cafile=str(cafile))
    result = run(
        cr.http_connection_request(f"{https}/basic/cr", USER, PASSWORD, timeout=5, ssl=context)
    )
    assert result.outcome is cr.Outcome.ACCEPTED, result.message
    assert result.scheme == "basic"
    untrusted = run(cr.http_connection_request(f"{https}/basic/cr", USER, PASSWORD, timeout=5))
    assert untrusted.outcome is cr.Outcome.UNREACHABLE
    assert "TLS failed" in untrusted.message


def test_challenge_parsing():
    challenges = cr.parse_challenges(
        [
            'Basic realm="a, b", Digest realm="cpe", nonce="x\\"y", qop="auth", stale=TRUE',
            "Digest algorithm=SHA-256, realm=cpe, nonce=z",
        ]
    )
    assert [c.scheme for c in challenges] == ["basic", "digest", "digest"]
    assert challenges[0].params == {"realm": "a, b"}
    assert challenges[1].params["nonce"] == 'x"y'
    assert challenges[1].params["stale"] == "TRUE"
    assert challenges[2].params == {"algorithm": "SHA-256", "realm": "cpe", "nonce": "z"}
    with pytest.raises(ValueError):
        cr.parse_challenges(['Digest realm="unterminated'])


# --------------------------------------------------------------------------------------
# TR-111 UDP connection requests
# --------------------------------------------------------------------------------------


def test_udp_connection_request_layout_and_signature():
    datagram = cr.udp_connection_request(
        ("198.51.100.7", 40123), "cpe user", "pw", ts=1764608400, id="42", cn="c0ffee"
    )
    text = datagram.decode()
    request_line, host_line, blank, end = text.split("\r\n")
    assert (blank, end) == ("", "")
    assert host_line == "Host: 198.51.100.7:40123"
    method, uri, version = request_line.split(" ")
    assert (method, version) == ("GET", "HTTP/1.1")
    url = urllib.parse.urlsplit(uri)
    assert (url.scheme, url.netloc, url.path) == ("http", "198.51.100.7:40123", "")
    query = dict(urllib.parse.parse_qsl(url.query))
    assert list(query) == ["ts", "id", "un", "cn", "sig"]
    assert query["un"] == "cpe user"
    # TR-111: HMAC-SHA1 keyed with the password over ts, id, un and cn concatenated
    expected = hmac.new(b"pw", b"176460840042cpe userc0ffee", hashlib.sha1).hexdigest()
    assert query["sig"] == expected
    parsed = cr.parse_udp_connection_request(datagram)
    assert parsed.verify("cpe user", "pw")
    assert not parsed.verify("cpe user", "other")
    assert not parsed.verify("someone", "pw")


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\xff\xfe",
        b"POST http://h:1?ts=1&id=1&un=u&cn=c&sig=s HTTP/1.1\r\n\r\n",
        b"GET http://h?ts=1&id=1&un=u&cn=c&sig=s HTTP/1.1\r\n\r\n",
        b"GET http://h:1?ts=1&id=1&un=u&cn=c HTTP/1.1\r\n\r\n",
        b"GET http://h:1?x HTTP/1.1 extra\r\n\r\n",
        b"G" * 3000,
    ],
)
def test_not_udp_connection_requests(datagram):
    with pytest.raises(ValueError):
        cr.parse_udp_connection_request(datagram)


def test_udp_requests_leave_from_the_stun_port_three_times():
    async def scenario():
        listener = await StunListener.start("127.0.0.1", 0)
        cpe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cpe.bind(("127.0.0.1", 0))
        cpe.setblocking(False)
        loop = asyncio.get_running_loop()
        received = []
        try:
            result = await cr.send_udp_connection_request(
                cpe.getsockname(), "cpe-9", "pw", sendto=listener.sendto, interval=0.01
            )
            for _ in range(3):
                received.append(await asyncio.wait_for(loop.sock_recvfrom(cpe, 2048), 5))
        finally:
            cpe.close()
            listener.close()
        return result, received, listener.address

    result, received, stun_address = run(scenario())
    assert result.outcome is cr.Outcome.SENT and result.ok
    assert len(received) == 3
    assert {source for _, source in received} == {stun_address}
    assert len({data for data, _ in received}) == 1  # the same id: the CPE acts once
    request = cr.parse_udp_connection_request(received[0][0])
    assert request.verify("cpe-9", "pw")
    assert abs(int(request.ts) - time.time()) < 60


def test_udp_request_from_a_temporary_socket():
    async def scenario():
        cpe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cpe.bind(("127.0.0.1", 0))
        cpe.setblocking(False)
        try:
            result = await cr.send_udp_connection_request(cpe.getsockname(), "u", "p", repeats=1)
            data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(cpe, 2048), 5)
        finally:
            cpe.close()
        return result, data

    result, data = run(scenario())
    assert result.outcome is cr.Outcome.SENT
    assert cr.parse_udp_connection_request(data).verify("u", "p")
