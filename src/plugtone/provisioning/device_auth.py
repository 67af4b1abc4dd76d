"""HTTP authentication as desk phones speak it: Digest (RFC 7616, RFC 2617) and Basic.

Sans-IO: nothing here opens a socket or reads a clock. The HTTP listener hands in the
``Authorization`` header, the request's method and target and the time, and gets back
:class:`~plugtone.provisioning.credentials.DeviceCredentials` for the resolver to check
against the phone's own password; when the answer must be a challenge it asks
:meth:`DigestAuthority.challenge` for the ``WWW-Authenticate`` value.

Digest, as phones do it:

- ``algorithm`` MD5 (every phone), MD5-sess, and SHA-256 / SHA-256-sess when a client
  asks for them; ``qop="auth"`` and the legacy form without ``qop`` (RFC 2069, still in
  old firmware). ``auth-int`` and ``userhash`` are refused: no phone uses them, and
  ``auth-int`` would need the body before deciding. The challenge offers MD5 only: a
  phone reads the first challenge it is given, and several firmwares fail on an
  algorithm they do not know rather than skipping to the next header.
- Nonces are stateless: 8 bytes of issue time, 8 random bytes (two phones challenged in
  the same second must not share a nonce, or the replay memory below would refuse the
  second one's ``nc=00000001``) and a 16-byte HMAC-SHA256 of both under a key derived
  from the store's secret key (:func:`nonce_key`). Every process and host sharing that
  key accepts every other's nonces, no nonce is stored to be valid, and after
  ``plugtone rotate-key`` earlier nonces no longer verify: they are stale.
- A nonce is good for :data:`NONCE_LIFETIME` seconds. A request whose digest is right
  but whose nonce is expired, forged, from before a key rotation or already used with
  that ``nc`` is refused with ``stale=true`` in the next challenge, so the phone retries
  at once with a fresh nonce instead of treating its password as wrong (RFC 7616
  section 3.3: stale only when the digest itself was valid).
- Replays: a ``(nonce, nc)`` pair is accepted once (a no-``qop`` nonce once), remembered
  in a bounded memory (:class:`ReplayMemory`) that refuses, rather than forgets, what it
  can no longer vouch for. The memory is per process: a replay sent to another node
  within the nonce's lifetime is not caught there (the price of stateless nonces; the
  pair is claimed only once the digest is right, so a client without the password
  cannot fill it).
- The ``uri`` of the header must be the request's own target, or a response captured
  for one file would open another.

Basic carries the password itself and is only accepted over TLS (the listener does not
even parse it over plain HTTP). All comparisons of secrets are constant-time.

Client certificates: :func:`certificate_macs` reads the MACs a verified certificate
names (subject CN, subjectAltName), as the vendors' device certificates spell them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from plugtone.macaddr import MacError, normalize_mac
from plugtone.provisioning.credentials import PasswordCredentials

REALM = "plugtone"
NONCE_LIFETIME = 300.0
"""Seconds a nonce is accepted after it was issued."""
CLOCK_SKEW = 30.0
"""Seconds a nonce may seem issued in the future (another host's clock runs ahead)."""
NONCE_LABEL = b"plugtone http digest nonce v1"
"""The fixed label of the nonce key's derivation: nonces never share a key with sealing."""
MAX_AUTHORIZATION = 4096
"""Characters of an ``Authorization`` value read at all; a phone's is about 300."""
MAX_PARAMS = 24
"""auth-params in one Digest header (RFC 7616 defines 13)."""
MAX_VALUE = 2048
"""Characters of one auth-param value: a ``uri`` is at most the listener's target cap."""
REPLAY_MEMORY = 32_768
"""``(nonce, nc)`` pairs remembered: about a hundred phones' boots a second for the
nonce lifetime, in about 5 MB."""

_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}
ALGORITHMS = frozenset({*_HASHES, *(f"{name}-SESS" for name in _HASHES)})
"""Algorithms accepted, upper-cased (RFC 7616 names them case-insensitively)."""
_DIGEST_LENGTH = {"MD5": 32, "SHA-256": 64}

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEX = re.compile(r"[0-9a-fA-F]+")
_NONCE = re.compile(r"[0-9a-f]{64}")
_OWS = " \t"


class MalformedAuthorization(ValueError):
    """An ``Authorization`` header that does not parse (the reason, for logs and tests)."""


@dataclass(frozen=True)
class RejectedCredentials:
    """Credentials that were presented but can prove nothing (a malformed header, a
    digest for another target or realm, an unsupported option). The request counts as
    having failed authentication, never as having sent none."""

    reason: str
    username: str = ""

    def check(self, password: str) -> bool:
        return False


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def split_scheme(value: str) -> tuple[str, str]:
    """``("digest", rest)`` of an ``Authorization`` value; the scheme lower-cased."""
    if len(value) > MAX_AUTHORIZATION:
        raise MalformedAuthorization("header too long")
    text = value.strip(_OWS)
    found = _TOKEN.match(text)
    if found is None:
        raise MalformedAuthorization("no scheme")
    rest = text[found.end() :]
    if rest and rest[0] not in _OWS:
        raise MalformedAuthorization("no space after the scheme")
    return found.group().lower(), rest.strip(_OWS)


def parse_params(text: str) -> dict[str, str]:
    """RFC 7235 auth-params (``name=token`` or ``name="quoted string"``), names lower-cased.

    Empty list elements are allowed (``a=1,,b=2``, RFC 7230 section 7); a repeated name,
    a control character, an unterminated quoted string or anything between parameters
    that is not a comma is malformed. Values may be quoted where RFC 7616 wants tokens
    (``qop="auth"``, ``nc="00000001"``): phones quote them.
    """
    params: dict[str, str] = {}
    position, end = 0, len(text)
    while True:
        while position < end and text[position] in " \t,":
            position += 1
        if position >= end:
            return params
        found = _TOKEN.match(text, position)
        if found is None:
            raise MalformedAuthorization(f"expected a parameter name at {position}")
        name = found.group().lower()
        position = _skip_ows(text, found.end())
        if position >= end or text[position] != "=":
            raise MalformedAuthorization(f"parameter {name!r} has no value")
        position = _skip_ows(text, position + 1)
        if position < end and text[position] == '"':
            value, position = _quoted(text, position)
        else:
            found = _TOKEN.match(text, position)
            if found is None:
                raise MalformedAuthorization(f"parameter {name!r} has no value")
            value, position = found.group(), found.end()
        if name in params:
            raise MalformedAuthorization(f"parameter {name!r} given twice")
        if len(value) > MAX_VALUE:
            raise MalformedAuthorization(f"parameter {name!r} is too long")
        params[name] = value
        if len(params) > MAX_PARAMS:
            raise MalformedAuthorization("too many parameters")
        position = _skip_ows(text, position)
        if position < end and text[position] != ",":
            raise MalformedAuthorization(f"expected a comma at {position}")


def _skip_ows(text: str, position: int) -> int:
    while position < len(text) and text[position] in _OWS:
        position += 1
    return position


def _quoted(text: str, position: int) -> tuple[str, int]:
    """The unescaped content of the quoted string at ``position`` and the index after it."""
    out: list[str] = []
    position += 1
    end = len(text)
    while position < end:
        char = text[position]
        if char == '"':
            return "".join(out), position + 1
        if char == "\\":
            position += 1
            if position >= end:
                break
            char = text[position]
        if (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F:
            raise MalformedAuthorization("control character in a quoted string")
        out.append(char)
        position += 1
    raise MalformedAuthorization("unterminated quoted string")


def _raw(text: str) -> bytes:
    """The bytes a header value was sent as: HTTP stacks hand header text decoded as
    ISO-8859-1, which maps each byte to one character and back."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _readable(raw: bytes) -> str:
    """Header bytes as text: UTF-8 when they are (RFC 7616's charset), else ISO-8859-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_basic(text: str) -> PasswordCredentials:
    """``Basic <base64 of user:password>`` (RFC 7617), strictly decoded."""
    token = text.strip(_OWS)
    if not token or any(char in token for char in " \t,"):
        raise MalformedAuthorization("Basic takes one base64 token")
    try:
        decoded = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedAuthorization("Basic token is not base64") from None
    user, colon, password = _readable(decoded).partition(":")
    if not colon:
        raise MalformedAuthorization("Basic token has no colon")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in user + password):
        raise MalformedAuthorization("control character in Basic credentials")
    return PasswordCredentials(user, password)


# --------------------------------------------------------------------------------------
# Digest
# --------------------------------------------------------------------------------------


def digest_response(
    algorithm: str, username: bytes, realm: bytes, password: bytes, nonce: bytes,
    method: bytes, uri: bytes, qop: bytes | None = None, nc: bytes = b"", cnonce: bytes = b"",
) -> str:  # fmt: skip
    """The ``response`` a client who knows ``password`` sends (RFC 7616 section 3.4.1;
    without ``qop``, RFC 2069's form). ``algorithm`` is one of :data:`ALGORITHMS`."""
    name = algorithm.upper()
    session = name.endswith("-SESS")
    digest = _HASHES[name.removesuffix("-SESS")]
    secret = digest(b":".join((username, realm, password)))
    if session:
        secret = digest(b":".join((secret.encode(), nonce, cnonce)))
    request = digest(b":".join((method, uri)))
    if qop is None:
        return digest(b":".join((secret.encode(), nonce, request.encode())))
    fields = (secret.encode(), nonce, nc, cnonce, qop, request.encode())
    return digest(b":".join(fields))


class DigestCredentials:
    """One request's Digest ``Authorization``, checked against a phone's password.

    :meth:`check` is pure but for one thing: the first time the digest is right it asks
    the authority whether the nonce is fresh and claims the ``(nonce, nc)`` pair, and
    remembers the verdict, so the resolver may check the same request twice (a cache
    probe, then the real resolution) without the second check looking like a replay.
    When the digest is right but the nonce is not acceptable, :attr:`stale` becomes true
    and the challenge says so.
    """

    def __init__(
        self, authority: DigestAuthority, now: float, *, username: str, raw_username: bytes,
        realm: str, nonce: str, uri: str, response: str, algorithm: str, method: str,
        qop: str | None, nc: str, cnonce: str,
    ) -> None:  # fmt: skip
        self.username = username
        self.stale = False
        self._authority = authority
        self._now = now
        self._raw_username = raw_username
        self._realm, self._nonce, self._uri = realm, nonce, uri
        self._response = response.lower()
        self._algorithm, self._method = algorithm, method
        self._qop, self._nc, self._cnonce = qop, nc, cnonce
        self._accepted: bool | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DigestCredentials(username={self.username!r}, algorithm={self._algorithm})"

    def check(self, password: str) -> bool:
        expected = digest_response(
            self._algorithm, self._raw_username, _raw(self._realm), password.encode("utf-8"),
            _raw(self._nonce), self._method.encode("ascii"), _raw(self._uri),
            None if self._qop is None else self._qop.encode("ascii"),
            self._nc.encode("ascii"), _raw(self._cnonce),
        )  # fmt: skip
        if not hmac.compare_digest(expected.encode(), self._response.encode()):
            return False
        with self._lock:
            if self._accepted is None:
                self._accepted = self._authority.accept(self._nonce, self._nc, self._now)
            if not self._accepted:
                self.stale = True
            return self._accepted


class ReplayMemory:
    """``(nonce, nc)`` pairs already used, bounded by :data:`REPLAY_MEMORY` entries.

    Each pair is kept under a 64-bit hash with its nonce's issue time, oldest first.
    Pairs whose nonce has expired are dropped (they are refused as stale anyway). When
    the memory is full the oldest pair is dropped and its issue time becomes the
    *floor*: a pair never seen whose nonce was issued at or before the floor might be
    one that was dropped, so it is refused too (the client, told ``stale=true``, gets a
    fresh nonce). So a full memory costs phones a round trip, never lets a replay in.
    """

    def __init__(self, size: int = REPLAY_MEMORY, lifetime: float = NONCE_LIFETIME) -> None:
        self.size = size
        self.lifetime = lifetime
        self._seen: OrderedDict[int, float] = OrderedDict()
        self._floor = float("-inf")
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def claim(self, nonce: str, nc: str, issued: float, now: float) -> bool:
        """Whether this is the first use of ``(nonce, nc)``; it is used from now on."""
        key = int.from_bytes(
            hashlib.blake2b(f"{nonce}:{nc}".encode(), digest_size=8).digest(), "big"
        )
        with self._lock:
            seen = self._seen
            while seen:
                oldest, when = next(iter(seen.items()))
                if when + self.lifetime >= now:
                    break
                del seen[oldest]
            if key in seen or issued <= self._floor:
                return False
            while len(seen) >= self.size:
                _, when = seen.popitem(last=False)
                self._floor = max(self._floor, when)
            seen[key] = issued
            return True


def nonce_key(secret_key: bytes) -> bytes:
    """The key nonces are signed with, derived from the store's secret key with HMAC and
    a fixed label: the same on every node sharing the store's key, different after
    ``rotate-key``, and never the key that seals secrets."""
    return hmac.new(secret_key, NONCE_LABEL, hashlib.sha256).digest()


class DigestAuthority:
    """Issues and verifies nonces, parses ``Authorization`` headers, builds challenges.

    ``secret_key`` returns the store's current secret key; it is asked at each use (it
    is cheap: the store caches its keyring) so a rotation reaches nonces by itself.
    """

    def __init__(
        self, secret_key: Callable[[], bytes], *, realm: str = REALM,
        lifetime: float = NONCE_LIFETIME, memory: int = REPLAY_MEMORY,
    ) -> None:  # fmt: skip
        self.realm = realm
        self.lifetime = lifetime
        self.replays = ReplayMemory(memory, lifetime)
        self._secret_key = secret_key
        self._derived: tuple[bytes, bytes] | None = None

    def _key(self) -> bytes:
        secret = self._secret_key()
        derived = self._derived
        if derived is None or derived[0] != secret:
            derived = self._derived = (secret, nonce_key(secret))
        return derived[1]

    # -- nonces

    def new_nonce(self, now: float) -> str:
        """64 hex digits: issue time, randomness, HMAC of both."""
        body = int(now).to_bytes(8, "big") + os.urandom(8)
        return (body + self._sign(body)).hex()

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key(), body, hashlib.sha256).digest()[:16]

    def issued_at(self, nonce: str) -> int | None:
        """When a nonce this key signed was issued; ``None`` for any other string."""
        if not _NONCE.fullmatch(nonce):
            return None
        raw = bytes.fromhex(nonce)
        if not hmac.compare_digest(self._sign(raw[:16]), raw[16:]):
            return None
        return int.from_bytes(raw[:8], "big")

    def fresh(self, nonce: str, now: float) -> bool:
        issued = self.issued_at(nonce)
        return issued is not None and -CLOCK_SKEW <= now - issued <= self.lifetime

    def accept(self, nonce: str, nc: str, now: float) -> bool:
        """Fresh, signed by this key, and ``(nonce, nc)`` not used before (now it is)."""
        issued = self.issued_at(nonce)
        if issued is None or not -CLOCK_SKEW <= now - issued <= self.lifetime:
            return False
        return self.replays.claim(nonce, nc, issued, now)

    # -- challenge

    def challenge(self, now: float, *, stale: bool = False) -> str:
        """The ``WWW-Authenticate`` value: the same length for every request (the nonce
        is fixed-width), ``stale=true`` only after a right digest on a bad nonce."""
        nonce = self.new_nonce(now)
        value = f'Digest realm="{self.realm}", qop="auth", algorithm=MD5, nonce="{nonce}"'
        return value + ", stale=true" if stale else value

    # -- requests

    def credentials(
        self, authorization: str | None, *, method: str, target: str, secure: bool, now: float
    ) -> DigestCredentials | PasswordCredentials | RejectedCredentials | None:
        """What an ``Authorization`` header presents for ``method target``.

        ``None`` for no header, a scheme other than Digest and Basic, or Basic over a
        plain connection (as if nothing was sent: the phone is judged by the other
        rules); :class:`RejectedCredentials` for a header that is there but proves
        nothing.
        """
        if not authorization:
            return None
        try:
            scheme, rest = split_scheme(authorization)
            if scheme == "basic":
                return parse_basic(rest) if secure else None
            if scheme != "digest":
                return None
            return self._digest(parse_params(rest), method, target, now)
        except MalformedAuthorization as problem:
            return RejectedCredentials(str(problem))

    def _digest(
        self, params: dict[str, str], method: str, target: str, now: float
    ) -> DigestCredentials | RejectedCredentials:
        username = params.get("username")
        raw_username: bytes | None = None
        if "username*" in params:
            if username is not None:
                return RejectedCredentials("both username and username*")
            raw_username = _extended(params["username*"])
            if raw_username is None:
                return RejectedCredentials("username* does not parse")
        elif username is not None:
            raw_username = _raw(username)
        if raw_username is None:
            return RejectedCredentials("no username")
        missing = [name for name in ("realm", "nonce", "uri", "response") if name not in params]
        if missing:
            return RejectedCredentials("missing " + ", ".join(missing))
        if params.get("userhash", "false").lower() != "false":
            return RejectedCredentials("userhash is not supported")
        algorithm = params.get("algorithm", "MD5").upper()
        if algorithm not in ALGORITHMS:
            return RejectedCredentials("unsupported algorithm")
        qop = params.get("qop")
        nc = cnonce = ""
        if qop is not None:
            if qop.lower() != "auth":
                return RejectedCredentials("unsupported qop")
            qop = "auth"
            nc, cnonce = params.get("nc", ""), params.get("cnonce", "")
            if len(nc) != 8 or not _HEX.fullmatch(nc) or not cnonce:
                return RejectedCredentials("qop=auth needs nc (8 hex digits) and a cnonce")
            nc = nc.lower()
        elif algorithm.endswith("-SESS"):
            cnonce = params.get("cnonce", "")
            if not cnonce:
                return RejectedCredentials("a -sess algorithm needs a cnonce")
        response = params["response"]
        if len(response) != _DIGEST_LENGTH[algorithm.removesuffix("-SESS")] or not _HEX.fullmatch(
            response
        ):
            return RejectedCredentials("response is not a digest of the algorithm")
        if params["uri"] != target:
            return RejectedCredentials("uri is not the request's target")
        if params["realm"] != self.realm:
            return RejectedCredentials("another realm")
        return DigestCredentials(
            self, now, username=_readable(raw_username), raw_username=raw_username,
            realm=params["realm"], nonce=params["nonce"], uri=params["uri"],
            response=response, algorithm=algorithm, method=method.upper(), qop=qop, nc=nc,
            cnonce=cnonce,
        )  # fmt: skip


def _extended(value: str) -> bytes | None:
    """RFC 8187 ``UTF-8''percent-encoded`` (RFC 7616's ``username*``) as bytes."""
    charset, _, rest = value.partition("'")
    _, quote, encoded = rest.partition("'")
    if not quote or charset.lower() != "utf-8":
        return None
    out = bytearray()
    position = 0
    while position < len(encoded):
        char = encoded[position]
        if char == "%":
            pair = encoded[position + 1 : position + 3]
            if len(pair) != 2 or not _HEX.fullmatch(pair):
                return None
            out.append(int(pair, 16))
            position += 3
            continue
        if not _TOKEN.fullmatch(char) or char in "*'%":
            return None
        out += char.encode("ascii")
        position += 1
    try:
        out.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return bytes(out)


# --------------------------------------------------------------------------------------
# Client certificates
# --------------------------------------------------------------------------------------

MAX_CERTIFICATE_NAMES = 32
"""Names of one certificate (CN values and subjectAltName entries) looked at."""
MAX_CERTIFICATE_MACS = 8
_MAC_IN_NAME = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{12}"
    r"|[0-9A-Fa-f]{2}(?P<sep>[:-])(?:[0-9A-Fa-f]{2}(?P=sep)){4}[0-9A-Fa-f]{2}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![0-9A-Fa-f])"
)
"""A MAC inside a certificate name, in any of plugtone's notations, not part of a longer
run of hex digits: ``0004F2000607``, ``SEP001122334455``, ``CP-7965G-SEP...``,
``00:04:f2:00:06:07``, ``0004f2000607.phones.example``. A prefix that ends in a hex
digit (``DE0004F2000607``) cannot be told from the MAC, so such a name names none."""


def macs_in_name(name: str) -> set[str]:
    """The MACs ``name`` spells, normalized (multicast and all-zero ones are not phones)."""
    found: set[str] = set()
    for match in _MAC_IN_NAME.finditer(name[:256]):
        try:
            found.add(normalize_mac(match.group()))
        except MacError:
            continue
    return found


def certificate_macs(der: bytes) -> frozenset[str]:
    """The MACs a client certificate names in its subject CN and subjectAltName (DNS
    names, URIs and e-mail addresses). The certificate must already have been verified
    (by the TLS handshake, against the configured CAs): this only reads it."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID

    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return frozenset()
    names: list[str] = []
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        if isinstance(attribute.value, str):
            names.append(attribute.value)
    try:
        extension = certificate.extensions.get_extension_for_oid(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME
        )
    except (x509.ExtensionNotFound, ValueError):
        extension = None
    if extension is not None:
        for kind in (x509.DNSName, x509.UniformResourceIdentifier, x509.RFC822Name):
            names.extend(str(value) for value in extension.value.get_values_for_type(kind))
    macs: set[str] = set()
    for name in names[:MAX_CERTIFICATE_NAMES]:
        macs |= macs_in_name(name)
    return frozenset(sorted(macs)[:MAX_CERTIFICATE_MACS])
