"""HTTP Digest and Basic as the phone-facing listener reads them (sans-IO, no server).

Vectors from RFC 7616 section 3.9.1 and RFC 2617 section 3.5; httpx's ``DigestAuth``
(a client nobody here wrote) answers our challenges for every algorithm we accept.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import re

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from plugtone.provisioning.credentials import PasswordCredentials
from plugtone.provisioning.device_auth import (
    MAX_AUTHORIZATION,
    NONCE_LIFETIME,
    REALM,
    DigestAuthority,
    DigestCredentials,
    MalformedAuthorization,
    RejectedCredentials,
    ReplayMemory,
    certificate_macs,
    digest_response,
    macs_in_name,
    nonce_key,
    parse_params,
)

KEY = bytes(range(32))
NOW = 1_800_000_000.0
TARGET = "/00085d000001.cfg"

RFC7616_AUTHORIZATION = (
    'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
    'algorithm={algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
    'response="{response}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
RFC7616_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}


def authority(key: bytes = KEY, **options) -> DigestAuthority:
    return DigestAuthority(lambda: key, **options)


def credentials(auth: DigestAuthority, header: str | None, *, method: str = "GET",
                target: str = TARGET, secure: bool = False, now: float = NOW):  # fmt: skip
    return auth.credentials(header, method=method, target=target, secure=secure, now=now)


def answered(auth: DigestAuthority, challenge: str, user: str = "ph1", password: str = "pw1",
             method: str = "GET", target: str = TARGET) -> str:  # fmt: skip
    """The Authorization header httpx's DigestAuth answers ``challenge`` with."""
    request = httpx.Request(method, f"http://plugtone{target}")
    flow = httpx.DigestAuth(user, password).sync_auth_flow(request)
    next(flow)
    retried = flow.send(
        httpx.Response(401, headers={"WWW-Authenticate": challenge}, request=request)
    )
    return retried.headers["Authorization"]


def with_algorithm(challenge: str, algorithm: str, qop: bool = True) -> str:
    changed = challenge.replace("algorithm=MD5", f"algorithm={algorithm}")
    return changed if qop else changed.replace('qop="auth", ', "")


# --------------------------------------------------------------------------------------
# Vectors


@pytest.mark.parametrize("algorithm", sorted(RFC7616_RESPONSES))
def test_rfc7616_example_responses(algorithm):
    computed = digest_response(
        algorithm, b"Mufasa", b"http-auth@example.org", b"Circle of Life",
        b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", b"GET", b"/dir/index.html",
        b"auth", b"00000001", b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )  # fmt: skip
    assert computed == RFC7616_RESPONSES[algorithm]


def test_rfc2617_example_response():
    computed = digest_response(
        "MD5", b"Mufasa", b"testrealm@host.com", b"Circle Of Life",
        b"dcd98b7102dd2f0e8b11d0f600bfb0c093", b"GET", b"/dir/index.html", b"auth",
        b"00000001", b"0a4f113b",
    )  # fmt: skip
    assert computed == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize("algorithm", sorted(RFC7616_RESPONSES))
def test_rfc7616_header_is_a_right_digest_on_a_nonce_we_never_issued(algorithm):
    """The RFC's own header parses, its digest is right, but the nonce is not ours: the
    answer is "stale" (retry with our nonce), never a success."""
    auth = authority(realm="http-auth@example.org")
    header = RFC7616_AUTHORIZATION.format(
        algorithm=algorithm, response=RFC7616_RESPONSES[algorithm]
    )
    presented = credentials(auth, header, target="/dir/index.html")
    assert isinstance(presented, DigestCredentials)
    assert presented.username == "Mufasa"
    assert not presented.check("Circle Of Life")  # RFC 2617's spelling: wrong here
    assert not presented.stale
    assert not presented.check("Circle of Life")
    assert presented.stale


# --------------------------------------------------------------------------------------
# Round trips with a real client


@pytest.mark.parametrize(
    ("algorithm", "qop"),
    [("MD5", True), ("MD5-sess", True), ("SHA-256", True), ("SHA-256-sess", True), ("MD5", False)],
)
def test_httpx_answers_are_accepted_once(algorithm, qop):
    auth = authority()
    challenge = with_algorithm(auth.challenge(NOW), algorithm, qop)
    header = answered(auth, challenge)
    first = credentials(auth, header, now=NOW + 1)
    assert isinstance(first, DigestCredentials)
    assert not first.check("pw2")
    assert first.check("pw1")
    assert first.check("pw1")  # the same request checked again (cache probe, then resolve)
    again = credentials(auth, header, now=NOW + 2)
    assert not again.check("pw1")
    assert again.stale


def test_successive_nc_on_one_nonce_are_accepted():
    auth = authority()
    nonce = auth.new_nonce(NOW)
    for count in range(1, 4):
        nc = f"{count:08x}"
        response = digest_response("MD5", b"ph1", REALM.encode(), b"pw1", nonce.encode(),
                                   b"GET", TARGET.encode(), b"auth", nc.encode(), b"c1")  # fmt: skip
        header = (f'Digest username="ph1", realm="plugtone", nonce="{nonce}", uri="{TARGET}", '
                  f'qop=auth, nc={nc}, cnonce="c1", response="{response}"')  # fmt: skip
        assert credentials(auth, header).check("pw1"), count


def test_a_nonce_without_qop_is_good_for_one_request():
    auth = authority()
    header = answered(auth, with_algorithm(auth.challenge(NOW), "MD5", qop=False))
    assert "qop" not in header
    assert credentials(auth, header).check("pw1")
    replayed = credentials(auth, header)
    assert not replayed.check("pw1") and replayed.stale


def test_head_and_put_are_digested_with_their_method():
    auth = authority()
    header = answered(auth, auth.challenge(NOW), method="PUT")
    assert not credentials(auth, header, method="GET").check("pw1")
    assert credentials(auth, header, method="PUT").check("pw1")


# --------------------------------------------------------------------------------------
# Nonces


def test_an_expired_nonce_with_the_right_digest_is_stale():
    auth = authority()
    header = answered(auth, auth.challenge(NOW))
    late = credentials(auth, header, now=NOW + NONCE_LIFETIME + 1)
    assert not late.check("pw1")
    assert late.stale
    wrong = credentials(auth, header, now=NOW + NONCE_LIFETIME + 1)
    assert not wrong.check("nope")
    assert not wrong.stale  # stale only for a client that knows the password
    assert credentials(auth, header, now=NOW + NONCE_LIFETIME - 1).check("pw1")


def test_a_nonce_from_the_future_beyond_clock_skew_is_stale():
    auth = authority()
    header = answered(auth, auth.challenge(NOW + 120))
    early = credentials(auth, header, now=NOW)
    assert not early.check("pw1") and early.stale


def test_a_forged_nonce_is_never_accepted():
    auth = authority()
    nonce = auth.new_nonce(NOW)
    forged = nonce[:-1] + ("0" if nonce[-1] != "0" else "1")
    challenge = auth.challenge(NOW).split("nonce=")[0] + f'nonce="{forged}"'
    presented = credentials(auth, answered(auth, challenge))
    assert not presented.check("pw1")
    assert presented.stale
    assert auth.issued_at(forged) is None
    assert auth.issued_at(nonce) == int(NOW)


def test_nodes_sharing_the_key_accept_each_others_nonces_and_a_rotation_makes_them_stale():
    first, second = authority(KEY), authority(KEY)
    header = answered(first, first.challenge(NOW))
    assert credentials(second, header).check("pw1")
    key = [KEY]
    rotating = DigestAuthority(lambda: key[0])
    header = answered(rotating, rotating.challenge(NOW))
    key[0] = bytes(32)  # plugtone rotate-key
    after = credentials(rotating, header)
    assert not after.check("pw1") and after.stale
    assert credentials(rotating, answered(rotating, rotating.challenge(NOW))).check("pw1")


def test_the_nonce_key_is_derived_not_the_secret_key_itself():
    derived = nonce_key(KEY)
    assert len(derived) == 32 and derived != KEY
    assert nonce_key(KEY) == derived and nonce_key(bytes(32)) != derived


def test_challenges_are_all_the_same_length_and_parse():
    auth = authority()
    challenges = {auth.challenge(NOW + offset) for offset in range(50)}
    assert len(challenges) == 50  # a fresh nonce each time, even within one second
    assert len({len(value) for value in challenges}) == 1
    value = challenges.pop()
    assert value.startswith("Digest ")
    params = parse_params(value.removeprefix("Digest "))
    assert params["realm"] == "plugtone" and params["qop"] == "auth"
    assert params["algorithm"] == "MD5" and re.fullmatch(r"[0-9a-f]{64}", params["nonce"])
    assert "stale" not in params
    assert parse_params(auth.challenge(NOW, stale=True).removeprefix("Digest "))["stale"] == "true"


# --------------------------------------------------------------------------------------
# Replay memory


def test_replay_memory_is_bounded_and_refuses_what_it_forgot():
    memory = ReplayMemory(size=4)
    auth = authority()
    nonces = [auth.new_nonce(NOW + index) for index in range(8)]
    for index, nonce in enumerate(nonces):
        assert memory.claim(nonce, "00000001", int(NOW) + index, NOW + 10)
        assert len(memory) <= 4
    assert not memory.claim(nonces[0], "00000001", int(NOW), NOW + 10)  # forgotten: refused
    assert not memory.claim(nonces[1], "00000002", int(NOW) + 1, NOW + 10)  # may be forgotten
    assert not memory.claim(nonces[7], "00000001", int(NOW) + 7, NOW + 10)  # remembered
    assert memory.claim(nonces[7], "00000002", int(NOW) + 7, NOW + 10)
    assert memory.claim(auth.new_nonce(NOW + 20), "00000001", int(NOW) + 20, NOW + 20)


def test_replay_memory_drops_expired_pairs():
    memory = ReplayMemory(size=100, lifetime=300)
    for index in range(50):
        memory.claim(f"n{index}", "00000001", NOW, NOW)
    assert len(memory) == 50
    memory.claim("late", "00000001", NOW + 400, NOW + 400)
    assert len(memory) == 1


def test_a_wrong_password_claims_nothing():
    auth = authority(memory=2)
    for _ in range(10):
        header = answered(auth, auth.challenge(NOW), password="guess")
        assert not credentials(auth, header).check("pw1")
    assert len(auth.replays) == 0


# --------------------------------------------------------------------------------------
# What the header must say


def test_the_uri_must_be_the_request_target():
    auth = authority()
    header = answered(auth, auth.challenge(NOW), target="/00085d000002.cfg")
    presented = credentials(auth, header, target=TARGET)
    assert isinstance(presented, RejectedCredentials)
    assert "uri" in presented.reason
    header = answered(auth, auth.challenge(NOW), target=TARGET + "?x=1")
    assert credentials(auth, header, target=TARGET + "?x=1").check("pw1")
    assert isinstance(credentials(auth, header, target=TARGET), RejectedCredentials)


def test_another_realm_is_refused():
    auth = authority()
    challenge = auth.challenge(NOW).replace('realm="plugtone"', 'realm="other"')
    assert isinstance(credentials(auth, answered(auth, challenge)), RejectedCredentials)


def test_quoted_strings_with_escapes_are_unescaped_before_digesting():
    auth = authority()
    nonce = auth.new_nonce(NOW)
    user = 'ph"1\\x'
    response = digest_response("MD5", user.encode(), b"plugtone", b"pw1", nonce.encode(),
                               b"GET", TARGET.encode(), b"auth", b"00000001", b"c,1")  # fmt: skip
    header = ('Digest username="ph\\"1\\\\x", realm=plugtone, nonce="' + nonce + '", uri="'
              + TARGET + '", qop="auth", nc="00000001", cnonce="c,1", response="' + response
              + '", algorithm="md5"')  # fmt: skip
    presented = credentials(auth, header)
    assert isinstance(presented, DigestCredentials)
    assert presented.username == user
    assert presented.check("pw1")


def test_extended_username_is_read_as_utf8():
    auth = authority()
    nonce = auth.new_nonce(NOW)
    user = "Jäsøn Doe"
    response = digest_response("SHA-256", user.encode(), b"plugtone", b"pw1", nonce.encode(),
                               b"GET", TARGET.encode(), b"auth", b"00000001", b"c1")  # fmt: skip
    header = (f"Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"plugtone\", "
              f'nonce="{nonce}", uri="{TARGET}", qop=auth, nc=00000001, cnonce="c1", '
              f'algorithm=SHA-256, response="{response}"')  # fmt: skip
    presented = credentials(auth, header)
    assert presented.username == user
    assert presented.check("pw1")


def _valid_params(auth: DigestAuthority) -> dict[str, str]:
    return parse_params(answered(auth, auth.challenge(NOW)).removeprefix("Digest "))


def _header(params: dict[str, str]) -> str:
    return "Digest " + ", ".join(f'{name}="{value}"' for name, value in params.items())


@pytest.mark.parametrize(
    "change",
    [
        {"username": None},
        {"realm": None},
        {"nonce": None},
        {"uri": None},
        {"response": None},
        {"nc": None},
        {"cnonce": None},
        {"nc": "1"},
        {"nc": "0000000g"},
        {"qop": "auth-int"},
        {"qop": "auth,auth-int"},
        {"algorithm": "SHA-512-256"},
        {"algorithm": "SHA-256"},  # a response of MD5's length under SHA-256
        {"response": "0" * 31},
        {"response": "z" * 32},
        {"userhash": "true"},
        {"username*": "UTF-8''ph1"},  # both username and username*
    ],
    ids=lambda change: ",".join(f"{k}={v}" for k, v in change.items()),
)
def test_digest_headers_missing_or_misusing_a_parameter_are_rejected(change):
    auth = authority()
    params = _valid_params(auth)
    for name, value in change.items():
        if value is None:
            params.pop(name)
        else:
            params[name] = value
    presented = credentials(auth, _header(params))
    assert isinstance(presented, RejectedCredentials), presented
    assert not presented.check("pw1")
    assert presented.username == ""


MALFORMED = [
    "Digest",
    "Digest ",
    "Digest username",
    "Digest username=",
    'Digest username="ph1',
    'Digest username="ph1" realm="plugtone"',
    'Digest username="ph1",, username="ph2"',
    'Digest USERNAME="ph1", username="ph2"',
    'Digest username="ph\x01"',
    'Digest username="ph1\\',
    "Digest =x",
    "Digest username=a b",
    'Digest username="a", ' + ", ".join(f"p{index}=1" for index in range(30)),
    'Digest uri="' + "a" * 3000 + '"',
    'Digestusername="ph1"',
    "Digest\x00",
    "Digest username*=\"ISO-8859-1''ph1\"",
    "Digest username*=UTF-8''%ZZ",
    "Digest username*=UTF-8''%C3",
    "Basic",
    "Basic !!!!",
    "Basic " + base64.b64encode(b"no colon").decode(),
    "Basic " + base64.b64encode(b"ph1:pw\x00").decode(),
    "Basic cGgxOnB3MQ== extra",
    "Basic cGgxOnB3MQ",  # bad padding
    "\x7f",
]


@pytest.mark.parametrize("header", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_headers_are_credentials_that_fail(header):
    presented = credentials(authority(), header, secure=True)
    assert isinstance(presented, RejectedCredentials), presented
    assert not presented.check("pw1")


def test_an_oversize_header_is_rejected_before_it_is_parsed():
    auth = authority()
    header = answered(auth, auth.challenge(NOW))
    padded = header + ", x=" + "y" * (MAX_AUTHORIZATION - len(header))
    presented = credentials(auth, padded)
    assert isinstance(presented, RejectedCredentials)
    assert presented.reason == "header too long"


@pytest.mark.parametrize("header", [None, "", "Bearer abc", "Negotiate YII=", "NTLM TlRM"])
def test_no_header_or_a_scheme_we_do_not_speak_is_no_credentials(header):
    assert credentials(authority(), header, secure=True) is None


def test_basic_counts_only_over_tls():
    header = "Basic " + base64.b64encode("ph1:pä:ss".encode()).decode()
    assert credentials(authority(), header, secure=False) is None
    presented = credentials(authority(), header, secure=True)
    assert isinstance(presented, PasswordCredentials)
    assert presented.username == "ph1"
    assert presented.check("pä:ss") and not presented.check("pä:s")
    assert "pä:ss" not in repr(presented)
    latin1 = "Basic " + base64.b64encode("ph1:pä".encode("latin-1")).decode()
    assert credentials(authority(), latin1, secure=True).check("pä")


def test_basic_is_case_insensitive_in_its_scheme_and_digest_too():
    auth = authority()
    header = answered(auth, auth.challenge(NOW))
    assert credentials(auth, "dIgEsT" + header.removeprefix("Digest")).check("pw1")
    basic = "bAsIc " + base64.b64encode(b"ph1:pw1").decode()
    assert credentials(auth, basic, secure=True).check("pw1")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300) | st.builds(lambda rest: "Digest " + rest, st.text(max_size=300)))
def test_any_header_text_is_parsed_without_raising(header):
    auth = authority()
    presented = credentials(auth, header, secure=True)
    if presented is not None:
        assert isinstance(presented.username, str)
        presented.check("pw1")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["username", "realm", "nonce", "uri", "response", "qop",
                                         "nc", "cnonce", "algorithm", "opaque", "x"]),
                       st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                               max_size=40)))  # fmt: skip
def test_digest_parameters_round_trip_through_quoting(params):
    text = ", ".join(
        f'{name}="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for name, value in params.items()
    )
    assert parse_params(text) == params


def test_parse_params_reports_why():
    with pytest.raises(MalformedAuthorization, match="twice"):
        parse_params("a=1, A=2")
    with pytest.raises(MalformedAuthorization, match="unterminated"):
        parse_params('a="1')


# --------------------------------------------------------------------------------------
# Client certificates


def _certificate(common_name: str | None, dns: tuple[str, ...] = (), uris: tuple[str, ...] = ()):
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "phones")]
    if common_name is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    name = x509.Name(attributes)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    alt = [x509.DNSName(value) for value in dns] + [
        x509.UniformResourceIdentifier(value) for value in uris
    ]
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


@pytest.mark.parametrize(
    ("common_name", "expected"),
    [
        ("0004F2000607", {"0004F2000607"}),
        ("0004f2000607", {"0004F2000607"}),
        ("SEP001122334455", {"001122334455"}),
        ("CP-7965G-SEP001122334455", {"001122334455"}),
        ("00:04:f2:00:06:07", {"0004F2000607"}),
        ("00-04-F2-00-06-07", {"0004F2000607"}),
        ("0004.f200.0607", {"0004F2000607"}),
        ("Polycom 0004f2000607 device", {"0004F2000607"}),
        ("DE0004F2000607", set()),  # a hex prefix: fourteen digits, no MAC
        ("0004F20006071", set()),
        ("00:04:f2-00:06:07", set()),  # mixed separators
        ("01005E000001", set()),  # multicast
        ("000000000000", set()),
        ("plugtone phone", set()),
    ],
)
def test_macs_in_certificate_common_names(common_name, expected):
    assert certificate_macs(_certificate(common_name)) == expected
    assert macs_in_name(common_name) == expected


def test_macs_in_subject_alternative_names():
    der = _certificate(
        None, dns=("0004f2000607.phones.example", "provisioning.example"),
        uris=("urn:dev:mac:00085d000001",),
    )  # fmt: skip
    assert certificate_macs(der) == {"0004F2000607", "00085D000001"}


def test_a_certificate_that_does_not_parse_names_nothing():
    assert certificate_macs(b"not a certificate") == frozenset()
    der = _certificate("0004F2000607")
    assert certificate_macs(der[:-10]) == frozenset()


def test_a_certificate_names_at_most_a_few_macs():
    names = tuple(f"{index:012x}.example".replace("0", "2", 1) for index in range(2, 60, 2))
    macs = certificate_macs(_certificate(None, dns=names))
    assert 0 < len(macs) <= 8


def test_digest_md5_is_what_a_phone_computes_by_hand():
    """The plain RFC 2617 arithmetic, spelled out, for one of our own nonces."""
    auth = authority()
    nonce = auth.new_nonce(NOW)

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1, ha2 = md5("ph1:plugtone:pw1"), md5(f"GET:{TARGET}")
    response = md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}")
    header = (f'Digest username="ph1", realm="plugtone", nonce="{nonce}", uri="{TARGET}", '
              f'qop=auth, nc=00000001, cnonce="abc", response="{response.upper()}"')  # fmt: skip
    assert credentials(auth, header).check("pw1")
