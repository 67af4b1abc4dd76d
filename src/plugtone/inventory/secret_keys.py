"""The key that encrypts secrets at rest, kept outside the database.

Where the key lives, in order: ``PLUGTONE_SECRET_KEY`` (base64 of 32 bytes; wins),
else ``<data>/secret.key`` (mode 0600, one base64 key per line, made by ``plugtone
init`` or by the migration that first encrypts, never overwritten). A database dump
or a copied database file alone therefore reveals no password.

Each value is AES-256-GCM with a random 96-bit nonce, written as
``enc:v1:<key id>:<base64(nonce + ciphertext + tag)>``. The key id (the first 8 hex
digits of a SHA-256 of the key) names the key that sealed a value, so a store holding
values of two keys (a rotation cut short) is read with both, and a wrong key is told
apart from tampering. ``secret.key.old``, present only while ``plugtone rotate-key``
runs (or after it was cut short), holds the keys of before the rotation; they open
values but never seal new ones.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE = "secret.key"
OLD_KEY_FILE = "secret.key.old"
ENV_KEY = "PLUGTONE_SECRET_KEY"
PREFIX = "enc:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12
AAD = b"plugtone secret v1"


class SecretKeyError(RuntimeError):
    """A secret cannot be sealed or opened: no key, a wrong key, a damaged value.

    The message is one line for an admin and never holds a secret.
    """


def key_id(key: bytes) -> str:
    """A short public name for ``key``: tells keys apart, reveals nothing of them."""
    return hashlib.sha256(b"plugtone key id\x00" + key).hexdigest()[:8]


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str, where: str) -> bytes:
    """One base64 key; ``where`` names its source in the error."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretKeyError(f"{where} is not a base64 key") from None
    if len(key) != KEY_BYTES:
        raise SecretKeyError(f"{where} must hold {KEY_BYTES} bytes (base64), not {len(key)}")
    return key


def is_sealed(value: str) -> bool:
    """Whether ``value`` is a sealed secret (as opposed to clear text)."""
    return value.startswith(PREFIX)


@dataclass
class Keyring:
    """The key that seals, and every key that may open."""

    current: bytes
    older: tuple[bytes, ...] = ()
    source: str = "the secret key"
    """Where the keys came from, for messages (``/var/plugtone/secret.key``)."""
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for key in (*self.older, self.current):
            self._ciphers[key_id(key)] = AESGCM(key)

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def knows(self, kid: str) -> bool:
        return kid in self._ciphers

    def seal(self, plain: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        kid = self.current_id
        sealed = self._ciphers[kid].encrypt(nonce, plain.encode("utf-8"), AAD + kid.encode())
        return f"{PREFIX}{kid}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def open(self, value: str) -> str:
        kid, body = parse_sealed(value)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise SecretKeyError(
                f"a secret in the store was encrypted with key {kid}, which {self.source} "
                f"does not hold (it holds {self.current_id}): use the key this store was "
                f"encrypted with ({ENV_KEY} or the data directory's {KEY_FILE})"
            )
        try:
            plain = cipher.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], AAD + kid.encode())
        except InvalidTag:
            raise SecretKeyError(
                f"a secret in the store does not decrypt with key {kid}: it was altered"
            ) from None
        return plain.decode("utf-8")


def parse_sealed(value: str) -> tuple[str, bytes]:
    """``(key id, nonce + ciphertext)`` of a sealed value; clear text is refused."""
    if not is_sealed(value):
        raise SecretKeyError(
            "a secret in the store is not encrypted (clear text from before encryption, "
            "or written around plugtone): run 'plugtone init' to migrate the store"
        )
    kid, _, text = value[len(PREFIX) :].partition(":")
    try:
        body = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        body = b""
    if len(kid) != 8 or len(body) < NONCE_BYTES + 16:
        raise SecretKeyError("a secret in the store is damaged (not a sealed value)")
    return kid, body


@dataclass
class KeySource:
    """Where one store's keys come from: the environment, a key file, or neither.

    Loaded lazily and at most once, then again only when a value names a key this
    process lacks and the key file changed since (a ``plugtone rotate-key`` run by
    another process): a running server picks up a rotated key file by itself.
    """

    key_file: Path | None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    ephemeral: bool = False
    """A throw-away key (an in-memory SQLite store keeps nothing after the process)."""
    _ring: Keyring | None = field(default=None, init=False, repr=False)
    _stamp: tuple[float, ...] | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def from_environment(self) -> bool:
        return bool(self.environ.get(ENV_KEY))

    def keyring(self) -> Keyring:
        """The keys, loaded on first use; :class:`SecretKeyError` when there are none."""
        ring = self._ring
        if ring is not None:
            return ring
        with self._lock:
            if self._ring is None:
                self._ring = self._load()
            return self._ring

    def open(self, value: str) -> str:
        """The clear text of a sealed value, re-reading a rotated key file if needed."""
        ring = self.keyring()
        kid, _ = parse_sealed(value)
        if not ring.knows(kid) and self._file_changed():
            with self._lock:
                self._ring = self._load()
            ring = self._ring
        return ring.open(value)

    def seal(self, plain: str) -> str:
        return self.keyring().seal(plain)

    def ensure(self) -> bool:
        """Make the key file when no key is configured anywhere; True if one was made.

        Never overwrites a key file: losing it loses every secret.
        """
        if self.from_environment or self.ephemeral or self.key_file is None:
            return False
        if self.key_file.exists():
            return False
        write_key_file(self.key_file, [new_key()], exclusive=True)
        self.reset()
        return True

    def reset(self) -> None:
        """Forget the loaded keys (they are read again at the next use)."""
        with self._lock:
            self._ring = None

    def _load(self) -> Keyring:
        env = self.environ.get(ENV_KEY)
        if env:
            return Keyring(decode_key(env, ENV_KEY), source=ENV_KEY)
        if self.ephemeral:
            return Keyring(new_key(), source="a temporary key")
        if self.key_file is None:
            raise SecretKeyError(
                f"no secret key: set {ENV_KEY} or give the data directory (--data) whose "
                f"{KEY_FILE} encrypts this store's secrets"
            )
        self._stamp = self._file_stamp()
        keys = read_key_file(self.key_file)
        old = self.key_file.with_name(OLD_KEY_FILE)
        older = tuple(read_key_file(old)) if old.exists() else ()
        return Keyring(keys[0], (*older, *keys[1:]), source=str(self.key_file))

    def _file_stamp(self) -> tuple[float, ...]:
        assert self.key_file is not None
        stamps: list[float] = []
        for path in (self.key_file, self.key_file.with_name(OLD_KEY_FILE)):
            try:
                stamps.append(path.stat().st_mtime_ns)
            except OSError:
                stamps.append(-1)
        return tuple(stamps)

    def _file_changed(self) -> bool:
        if self.from_environment or self.ephemeral or self.key_file is None:
            return False
        return self._file_stamp() != self._stamp


def read_key_file(path: Path) -> list[bytes]:
    """The keys of a key file, the sealing key first."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise SecretKeyError(
            f"no secret key at {path}: run 'plugtone init', set {ENV_KEY}, or restore the "
            f"key file from the backup made with the database"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SecretKeyError(f"cannot read the secret key {path}: {error}") from None
    lines = [line.strip() for line in text.splitlines()]
    keys = [decode_key(line, str(path)) for line in lines if line and not line.startswith("#")]
    if not keys:
        raise SecretKeyError(f"the secret key file {path} holds no key")
    return keys


def write_key_file(path: Path, keys: list[bytes], *, exclusive: bool = False) -> None:
    """Write ``keys`` to ``path`` atomically with mode 0600: a temporary file in the same
    directory, fsync, rename, fsync of the directory. ``exclusive`` refuses to replace
    an existing file (a key made concurrently by another process wins)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = (
        "# plugtone secret key: back it up with the database; without it no secret opens\n"
        + "".join(encode_key(key) + "\n" for key in keys)
    ).encode("ascii")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            with contextlib.suppress(FileExistsError):  # never overwrites a key
                os.link(temporary, path)
            temporary.unlink()
        else:
            os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """fsync a directory so a rename in it survives a crash."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
