"""Settings: command-line flag, then ``PLUGTONE_*`` environment, then ``<data>/plugtone.toml``.

The data directory holds everything a single-machine install needs: the SQLite
store, the TLS pair and the settings file ``plugtone init`` writes. Ports default
to the protocols' own (HTTP 80, HTTPS 443, TFTP 69, FTP 21) when running as root, else
to unprivileged ones (8080, 8443, 6969, 2121), so the first command works for anyone;
the default is decided by whoever runs the command, never written into the settings
file. The admin listener (the REST API) is on 8088 for root and non-root alike: it is
not a protocol port phones expect, and an admin port below 1024 would buy nothing.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from plugtone.provisioning.trust import NetworkRule, parse_network_rules

# Neither the store nor the key module is imported here: every command reads its
# settings, and ``plugtone --help`` needs neither (see load_settings, secret_key_file).

DEFAULT_DATA = "./var"
SETTINGS_FILE = "plugtone.toml"
DEFAULT_CACHE_PHONES = 20_000
DEFAULT_ADMIN_PORT = 8088


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def default_ports() -> dict[str, int]:
    if is_root():
        return {"http_port": 80, "https_port": 443, "tftp_port": 69, "ftp_port": 21}
    return {"http_port": 8080, "https_port": 8443, "tftp_port": 6969, "ftp_port": 2121}


@dataclass(frozen=True)
class SecuritySettings:
    """The ``[security]`` table of ``plugtone.toml``: whom phones' secrets go to.

    Nothing is trusted by default: a new install gives secrets only to phones that
    authenticate, or while an admin has armed a provisioning window.
    """

    trusted_networks: tuple[NetworkRule, ...] = ()
    """Networks trusted for every site's phones (sites may add their own)."""
    client_ca: tuple[Path, ...] = ()
    """CA bundles (PEM) whose client certificates authenticate phones over HTTPS."""

    # Sweep defence (plugtone.provisioning.sweep_guard). The defaults are sized for a
    # fleet of about 10,000 phones in sites of up to a few hundred behind one NAT.
    sweep_seconds: float = 300.0
    """The window the sweep thresholds count over: a source's count of suspicious
    requests (strangers asking for per-device names, unknown MACs, failed credentials)
    leaks ``sweep_alert / sweep_seconds`` per second. Five minutes: a site's phones
    are back within a minute or two of a power cut, so its boot falls in one window,
    and a sweep must stay under 100 names per five minutes (under 30,000 a day) to go
    unnoticed."""
    sweep_alert: int = 100
    """Suspicious requests within ``sweep_seconds`` from one address, or one /24 (IPv4)
    or /64 (IPv6), that raise a ``sweep`` alert. A phone asks for one to four names of
    its own at boot (one to four, by vendor), so a site of 200 stranger phones
    behind one NAT rebooting (200 to 800 names in a minute or two) raises it; a
    sweeper reaches it in a fraction of a second. Phones with their own logins are
    forgiven their first, challenged, request, so they do not add up to it; trusted
    phones count only for MACs the inventory does not have."""
    sweep_block: int = 300
    """The count past which a source's stranger requests are blocked (``block_seconds``).
    Between ``sweep_alert`` and this they are slowed. Three times the alert: a
    sequential sweeper slowed to ``sweep_delay_max`` still outpaces the leak (four
    requests a second against a third of one) and reaches it within a minute, having
    asked a few hundred names instead of the thousands it asked for per second."""
    sweep_prefix_alert: int = 1000
    """As ``sweep_alert``, for every request naming one vendor prefix (the first six hex
    digits of the MAC), whoever asks: a sweep spread over many addresses. Ten times the
    per-address figure, since a whole fleet's strangers share a few prefixes."""
    sweep_prefix_block: int = 3000
    """As ``sweep_block``, for a vendor prefix."""
    sweep_delay_max: float = 0.25
    """Longest wait of a slowed stranger request, in seconds (the wait grows with the
    count from ``sweep_alert`` to ``sweep_block``). A quarter second takes a sweeper from
    thousands of names a second to four, and is nothing to a phone's boot: privileged
    requests never wait, and a phone answering a challenge waits once."""
    block_seconds: float = 600.0
    """How long a blocked source (or an address refused FTP logins) stays blocked; a
    sweeper that keeps going is blocked again at once. Ten minutes: long enough to
    make a sweep pointless, short enough that a misconfigured site recovers by itself."""
    login_failures_before_delay: int = 3
    """Failed FTP logins (per address, and per account for logins that authenticate a
    phone) before each further attempt waits: 1 s, doubling up to ``login_delay_max``.
    Three forgives a typo and a phone retrying a stale password once or twice."""
    login_delay_max: float = 30.0
    """Longest wait of a throttled login, in seconds: two guesses a minute per address
    or account, while a phone whose own login is being guessed at still logs in, 30 s
    late at worst. Accounts are only ever delayed, never locked out."""
    login_block: int = 50
    """Failed FTP logins from one address within ``login_seconds`` after which that
    address is refused outright for ``block_seconds``. Fifty is beyond a NAT of phones
    that retry a wrong password, and is what a guesser with many parallel connections
    reaches in one round of waits."""
    login_seconds: float = 600.0
    """The window login failures count over (they leak ``login_block / login_seconds``
    per second: one failure forgotten every 12 s with the defaults)."""


@dataclass
class Settings:
    data_dir: Path
    db_url: str
    host: str
    http_port: int
    https_port: int
    tftp_port: int
    tftp_max_transfers: int
    cache_phones: int
    """Phones whose views and rendered files the resolver keeps in memory; a fleet
    larger than this renders its files again at every boot storm."""
    ftp_port: int
    ftp_factory_accounts: bool
    ftp_accounts: tuple[tuple[str, str], ...]
    ftp_passive_ports: tuple[int, ...] | None
    ftp_masquerade: str | None
    tls_cert: Path
    tls_key: Path
    admin_port: int = DEFAULT_ADMIN_PORT
    """The admin listener (REST API); 0 turns it off."""
    admin_host: str = ""
    """Where the admin listener listens; empty means the phone listeners' host."""

    busy_timeout: float = 30.0
    """Seconds a writer waits for another writer's turn before saying the store is busy."""
    metrics_public: bool = False
    """Whether ``GET /metrics`` on the admin listener answers without an API token (for a
    scraper that cannot send one; then only it should reach the admin listener)."""
    event_retention_days: int = 30
    """Days of provisioning events ``plugtone serve`` keeps (0: any age)."""
    event_max_rows: int = 10_000_000
    """Provisioning events kept at most, the oldest pruned first (0: no cap)."""
    workers: int = 1
    """Processes ``plugtone serve`` runs, sharing the listening ports (``--workers``);
    1 runs the one process, with no supervisor."""

    security: SecuritySettings = SecuritySettings()

    @property
    def secret_key_file(self) -> Path:
        """Where the key that encrypts the store's secrets is kept, unless
        ``PLUGTONE_SECRET_KEY`` (base64) gives it; never inside the database."""
        from plugtone.inventory.secret_keys import KEY_FILE

        return self.data_dir / KEY_FILE

    @property
    def tls_ready(self) -> bool:
        return self.tls_cert.is_file() and self.tls_key.is_file()


def load_settings(data_dir: str | None = None, db_url: str | None = None) -> Settings:
    """Resolve settings for one command invocation."""
    from plugtone.inventory.store import sqlite_url

    data = Path(data_dir or os.environ.get("PLUGTONE_DATA") or DEFAULT_DATA).expanduser()
    stored: dict = {}
    settings_file = data / SETTINGS_FILE
    if settings_file.is_file():
        with settings_file.open("rb") as handle:
            stored = tomllib.load(handle)

    def pick(name: str, default):
        env = os.environ.get(f"PLUGTONE_{name.upper()}")
        if env:
            return type(default)(env) if not isinstance(default, Path) else Path(env)
        if name in stored:
            return (
                type(default)(stored[name]) if not isinstance(default, Path) else Path(stored[name])
            )
        return default

    ports = default_ports()
    return Settings(
        data_dir=data,
        db_url=db_url or pick("db", sqlite_url(data)),
        host=pick("host", "0.0.0.0"),
        http_port=pick("http_port", ports["http_port"]),
        https_port=pick("https_port", ports["https_port"]),
        tftp_port=pick("tftp_port", ports["tftp_port"]),
        tftp_max_transfers=pick("tftp_max_transfers", 1000),
        cache_phones=pick("cache_phones", DEFAULT_CACHE_PHONES),
        ftp_port=pick("ftp_port", ports["ftp_port"]),
        ftp_factory_accounts=bool(stored.get("ftp_factory_accounts", True)),
        ftp_accounts=_ftp_accounts(stored),
        ftp_passive_ports=_port_range(stored.get("ftp_passive_ports")),
        ftp_masquerade=stored.get("ftp_masquerade_address"),
        tls_cert=pick("tls_cert", data / "tls" / "cert.pem"),
        tls_key=pick("tls_key", data / "tls" / "key.pem"),
        admin_port=pick("admin_port", DEFAULT_ADMIN_PORT),
        admin_host=pick("admin_host", ""),
        busy_timeout=pick("busy_timeout", 30.0),
        metrics_public=_flag(stored, "metrics_public"),
        event_retention_days=pick("event_retention_days", 30),
        event_max_rows=pick("event_max_rows", 10_000_000),
        workers=pick("workers", 1),
        security=_security(stored.get("security") or {}),
    )


def _security(table: dict) -> SecuritySettings:
    """``[security]`` from the settings file; ``PLUGTONE_TRUSTED_NETWORKS`` (comma-separated
    networks, every transport) replaces its ``trusted_networks``. A bad network stops
    the command with a message naming it, rather than trusting less (or more) than meant."""
    if not isinstance(table, dict):
        raise SystemExit(f"{SETTINGS_FILE}: [security] must be a table")
    networks = table.get("trusted_networks", [])
    env = os.environ.get("PLUGTONE_TRUSTED_NETWORKS")
    if env is not None:
        networks = [part.strip() for part in env.split(",") if part.strip()]
    try:
        rules = parse_network_rules(networks, "security.trusted_networks")
    except ValueError as problem:
        raise SystemExit(f"{SETTINGS_FILE}: {problem}") from None
    bundles = table.get("client_ca", [])
    if isinstance(bundles, str):
        bundles = [bundles]
    return SecuritySettings(
        trusted_networks=rules,
        client_ca=tuple(Path(str(bundle)).expanduser() for bundle in bundles),
        **_sweep_limits(table),
    )


_SWEEP_LIMITS = ("sweep_seconds", "sweep_alert", "sweep_block", "sweep_prefix_alert",
                 "sweep_prefix_block", "sweep_delay_max", "block_seconds",
                 "login_failures_before_delay", "login_delay_max", "login_block",
                 "login_seconds")  # fmt: skip


def _sweep_limits(table: dict) -> dict:
    """The sweep and login thresholds ``[security]`` sets, checked: a number of the
    field's type (whole for counts), positive (zero for ``login_failures_before_delay``),
    and each block threshold above its alert."""
    limits = {}
    for name in _SWEEP_LIMITS:
        if name not in table:
            continue
        value, kind = table[name], type(getattr(SecuritySettings, name))
        if isinstance(value, bool) or not isinstance(value, int | float) or (
            kind is int and not isinstance(value, int)
        ):  # fmt: skip
            what = "whole number" if kind is int else "number"
            raise SystemExit(f"{SETTINGS_FILE}: security.{name} must be a {what}")
        least = 0 if name == "login_failures_before_delay" else 1 if kind is int else 0.001
        if value < least:
            raise SystemExit(f"{SETTINGS_FILE}: security.{name} must be at least {least}")
        limits[name] = kind(value)
    for alert, block in (("sweep_alert", "sweep_block"),
                         ("sweep_prefix_alert", "sweep_prefix_block")):  # fmt: skip
        low = limits.get(alert, getattr(SecuritySettings, alert))
        high = limits.get(block, getattr(SecuritySettings, block))
        if high <= low:
            raise SystemExit(f"{SETTINGS_FILE}: security.{block} must be above {alert}")
    return limits


def _flag(stored: dict, name: str, default: bool = False) -> bool:
    """A true/false setting: ``PLUGTONE_<NAME>`` (1/0, true/false, yes/no, on/off), else
    the settings file's boolean, else ``default``; anything else stops the command."""
    env = os.environ.get(f"PLUGTONE_{name.upper()}")
    if env:
        words = {"1": True, "true": True, "yes": True, "on": True,
                 "0": False, "false": False, "no": False, "off": False}  # fmt: skip
        if env.strip().lower() not in words:
            raise SystemExit(f"PLUGTONE_{name.upper()} must be true or false, not {env!r}")
        return words[env.strip().lower()]
    value = stored.get(name, default)
    if not isinstance(value, bool):
        raise SystemExit(f"{SETTINGS_FILE}: {name} must be true or false")
    return value


def _ftp_accounts(stored: dict) -> tuple[tuple[str, str], ...]:
    """Accounts added with ``[[ftp_accounts]]`` tables (``user``, ``password``); the
    vendors' factory accounts come from the plug-ins unless ``ftp_factory_accounts``
    is false."""
    accounts: list[tuple[str, str]] = []
    for entry in stored.get("ftp_accounts", []):
        accounts.append((str(entry["user"]), str(entry["password"])))
    return tuple(accounts)


def _port_range(value) -> tuple[int, ...] | None:
    """``"50000-50100"`` (a passive data port range for firewalls) or ``None``."""
    if not value:
        return None
    low, _, high = str(value).partition("-")
    return tuple(range(int(low), int(high or low) + 1))
