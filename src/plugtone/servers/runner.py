"""``plugtone serve``: every phone-facing server, and the admin listener, on one loop.

One process holds the resolver (and its caches), the event recorder and each
transport. Signals are handled here rather than by uvicorn, so SIGINT/SIGTERM stop
every server together and flush the event log before exit.

The admin listener (``plugtone.web``: the REST API) is a separate ASGI app on its own
uvicorn server and port, never a route of the phone app, so nothing a phone can
reach answers for it. Its service calls are synchronous SQLAlchemy run in worker
threads, so a slow admin request never stalls a phone on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from plugtone.inventory.store import Store, check_schema, check_secret_key
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.sweep_guard import SweepGuard
from plugtone.servers.http import ZeroCopyHttpToolsProtocol, create_phone_app
from plugtone.settings import SecuritySettings, Settings, load_settings
from plugtone.vendors import default_registry

log = logging.getLogger(__name__)


@dataclass
class ServeOptions:
    db_url: str
    host: str
    http_port: int
    https_port: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tftp_port: int | None = None
    tftp_max_transfers: int = 1000
    cache_phones: int = 20_000
    ftp_port: int | None = None
    ftp_factory_accounts: bool = True
    ftp_accounts: tuple[tuple[str, str], ...] = ()
    ftp_passive_ports: tuple[int, ...] | None = None
    ftp_masquerade: str | None = None
    data_dir: Path = Path("var")
    admin_port: int | None = None
    """The admin listener's port; ``None`` runs none."""
    admin_host: str | None = None
    """Where the admin listener listens; ``None`` means ``host``."""
    settings: Settings | None = None
    """What the admin app is handed; ``None`` loads them for ``data_dir`` and ``db_url``."""
    security: SecuritySettings = field(default_factory=SecuritySettings)


class _QuietSignalsServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the runner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(options: ServeOptions, ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or cancellation)."""
    store = Store(options.db_url, data_dir=options.data_dir)
    check_schema(store.engine)
    check_secret_key(store.engine)  # a wrong key serves nothing, not wrong files
    provisioner = Provisioner.for_store(
        store, default_registry(), options.data_dir, cache_phones=options.cache_phones,
        trusted_networks=options.security.trusted_networks,
        guard=SweepGuard(options.security),  # sweep and login thresholds of [security]
    )  # fmt: skip
    collect_garbage_less_often()
    try:
        await serve_with(provisioner, options, ready)
    finally:
        store.dispose()


YOUNG_COLLECTION_THRESHOLD = 20_000
"""Container objects allocated (net of those freed) between two collections of the
youngest generation.  Python's default, 700, is less than the objects a few hundred
transfers in flight hold at any moment, so during a boot storm the collector ran every
few dozen transfers, promoted every live transfer to the older generations and ran full
collections of the whole inventory cache about once per 6,000 transfers: measured, a
sixth of the server's CPU per transfer.  At 20,000 a storm of 6,000 transfers sees about
one young collection and no full one.  The objects of a request are freed by reference
counting as soon as it ends; only reference cycles wait for the collector, and 20,000
objects are a few MB at most."""


def collect_garbage_less_often() -> None:
    """Raise the young-generation threshold for a long-running server process."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, oldest)


async def serve_with(
    provisioner: Provisioner, options: ServeOptions, ready: asyncio.Event | None = None
) -> None:
    """Every server of ``options`` over ``provisioner``, until SIGINT/SIGTERM.

    Separate from :func:`serve` so that tests and benchmarks run the very servers
    ``plugtone serve`` runs (uvicorn with zero-copy, FTP, TFTP) over a provisioner of
    their own; the caller owns the provisioner's store.
    """
    app = create_phone_app(provisioner)
    servers = [_uvicorn(app, options.host, options.http_port)]
    if options.https_port is not None:
        if not (options.tls_cert and options.tls_key):
            raise SystemExit("HTTPS needs a certificate and key: run 'plugtone init --tls'")
        client_ca = client_ca_bundles(options.security.client_ca, options.data_dir)
        secure = _uvicorn(app, options.host, options.https_port, options.tls_cert,
                          options.tls_key, client_ca=client_ca)  # fmt: skip
        servers.append(secure)
    elif options.security.client_ca:
        log.warning("[security] client_ca is set but HTTPS is off: no certificate is asked for")
    admin_host = options.admin_host or options.host
    if options.admin_port is not None:
        servers.append(_admin_server(provisioner, options, admin_host))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(quiet_disconnects)
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(server.serve(), name="http") for server in servers]
    tftp = None
    if options.tftp_port is not None:
        from plugtone.servers.tftp import start_tftp_server

        tftp = await start_tftp_server(
            provisioner, options.host, options.tftp_port, max_transfers=options.tftp_max_transfers
        )
    recorder = asyncio.create_task(provisioner.recorder.run(), name="events")
    ftp = None
    if options.ftp_port is not None:
        from plugtone.servers.ftp import FtpAccount, start_ftp_server

        logins = list(options.ftp_accounts)
        if options.ftp_factory_accounts:
            logins = provisioner.resolver.registry.factory_ftp_accounts() + logins
        ftp = await start_ftp_server(
            provisioner, options.host, options.ftp_port,
            accounts=[FtpAccount(user, password) for user, password in logins],
            passive_ports=options.ftp_passive_ports,
            masquerade_address=options.ftp_masquerade,
        )  # fmt: skip
    try:
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                for task in tasks:
                    if task.done() and task.exception():
                        raise task.exception()  # type: ignore[misc]
                raise SystemExit("a server could not start (is the port in use?)")
            await asyncio.sleep(0.05)
        log.info(
            "plugtone serving on %s (HTTP %s%s%s)", options.host, options.http_port,
            f", HTTPS {options.https_port}" if options.https_port else "",
            f", TFTP {options.tftp_port}" if options.tftp_port is not None else "",
        )  # fmt: skip
        if options.ftp_port is not None:
            log.info("FTP on %s:%s", options.host, options.ftp_port)
        if options.admin_port is not None:
            log.info("admin API on %s:%s", admin_host, options.admin_port)
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        if tftp is not None:
            tftp.close()
        if ftp is not None:
            await ftp.close()
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        recorder.cancel()
        await asyncio.gather(recorder, return_exceptions=True)


def quiet_disconnects(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Phones drop connections all the time; that is not worth a traceback per phone."""
    if isinstance(context.get("exception"), ConnectionResetError | BrokenPipeError):
        log.debug("client went away: %s", context.get("message"))
        return
    loop.default_exception_handler(context)


def _admin_server(provisioner: Provisioner, options: ServeOptions, host: str):
    """The admin app on its own server: HTTPS when the phone HTTPS pair exists."""
    from plugtone.web.app import create_admin_app

    settings = options.settings or load_settings(str(options.data_dir), options.db_url)
    resolver = provisioner.resolver
    app = create_admin_app(resolver.store, resolver.registry, settings)
    app.state.security_counters = provisioner.guard.counters.as_dict
    cert, key = options.tls_cert, options.tls_key
    tls = cert is not None and key is not None and cert.is_file() and key.is_file()
    assert options.admin_port is not None
    return _uvicorn(app, host, options.admin_port, cert if tls else None, key if tls else None)


def client_ca_bundles(bundles: tuple[Path, ...], data_dir: Path) -> tuple[Path, ...]:
    """The ``[security] client_ca`` bundles, checked before anything listens.

    A relative path is read from the data directory (where ``plugtone.toml`` is). A
    bundle that is missing, unreadable or holds no PEM certificate stops the server
    with a message naming it: serving HTTPS without the check the admin asked for would
    quietly demote every phone that relies on its certificate to a stranger.
    """
    found: list[Path] = []
    for bundle in bundles:
        path = bundle if bundle.is_absolute() else data_dir / bundle
        try:
            text = path.read_bytes()
        except OSError as problem:
            raise SystemExit(
                f"[security] client_ca: cannot read {path}: {problem.strerror or problem}"
            ) from None
        probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            if b"-----BEGIN CERTIFICATE-----" not in text:
                raise ssl.SSLError("no PEM certificate in it")
            probe.load_verify_locations(cafile=str(path))
        except ssl.SSLError as problem:
            raise SystemExit(
                f"[security] client_ca: {path} is not a PEM CA bundle ({problem})"
            ) from None
        found.append(path)
    return tuple(found)


def _uvicorn(app, host: str, port: int, cert: Path | None = None, key: Path | None = None,
             client_ca: tuple[Path, ...] = ()):  # fmt: skip
    """One uvicorn server; with ``client_ca``, its TLS asks each client for a certificate
    (``CERT_OPTIONAL``: a phone without one is still served, judged by the other rules)
    and verifies one it sends against those bundles, all loaded into the context."""
    # httptools plus the ASGI zero-copy extension, so firmware goes out by os.sendfile
    # (see plugtone.servers.http).
    extra = {}
    if client_ca and cert and key:

        def context(config: uvicorn.Config, default: Callable[[], ssl.SSLContext]):
            made = default()
            made.verify_mode = ssl.CERT_OPTIONAL
            for bundle in client_ca:
                made.load_verify_locations(cafile=str(bundle))
            return made

        extra["ssl_context_factory"] = context
    config = uvicorn.Config(
        app,
        http=ZeroCopyHttpToolsProtocol,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        ssl_version=ssl.PROTOCOL_TLS_SERVER,
        lifespan="off",
        **extra,
    )
    return _QuietSignalsServer(config)
