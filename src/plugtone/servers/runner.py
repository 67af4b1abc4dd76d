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
import os
import signal
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.config import create_ssl_context

from plugtone.acs import service as acs_service
from plugtone.acs.serving import acs_app
from plugtone.inventory.store import Store, check_schema, check_secret_key
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.request_log import RequestLog
from plugtone.provisioning.sweep_guard import SweepGuard
from plugtone.servers.http import PhoneApp, ZeroCopyHttpToolsProtocol, create_phone_app
from plugtone.servers.http_front import PhoneHttpProtocol
from plugtone.settings import SecuritySettings, Settings, load_settings
from plugtone.vendors import default_registry

log = logging.getLogger(__name__)


@dataclass
class ServeOptions:
    db_url: str
    host: str
    http_port: int | None
    """Each port: ``None`` runs no such server, 0 binds a free port."""
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
    log_requests: int | None = None
    """The level of the line logged per phone request (``--log-requests``); ``None``: none."""
    reuse_port: bool = False
    """Bind every phone and admin listener with ``SO_REUSEPORT``, sharing its port with
    the other workers of ``plugtone serve --workers N`` (:mod:`plugtone.servers.workers`)."""
    worker: int | None = None
    """This process's index among those workers; ``None``: the only process."""
    workers: int = 1
    """How many workers share the ports (TFTP steers each client address to one)."""
    once_per_host: bool = True
    """Whether this process runs the duties one process per host does (the event log's
    pruning): with workers, only worker 0."""
    rcs_port: int | None = None
    """A listener for the redirection service alone, at its root (``--rcs-port``); it
    also answers under /rcs/ of the HTTP and HTTPS listeners."""
    cwmp_port: int | None = None
    """A listener for the TR-069 ACS alone (``--cwmp-port``); it also answers on /cwmp of
    the HTTP and HTTPS listeners."""
    stun_port: int | None = None
    """The TR-111 STUN server's UDP port (``--stun-port``); ``None`` runs none."""
    tls_contexts: dict[str, ssl.SSLContext] = field(default_factory=dict, repr=False,
                                                    compare=False)  # fmt: skip
    """TLS contexts already made, by listener (``HTTPS``, ``admin API``; see
    :func:`tls_contexts`), used instead of making new ones: the supervisor of
    ``--workers`` makes them once before it forks, so that every worker holds the same
    session-ticket keys (OpenSSL draws them when a context is made, and Python's ssl
    cannot set them) and a phone resumes its TLS session on whichever worker its next
    connection reaches."""


class _QuietSignalsServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the runner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    options: ServeOptions,
    ready: asyncio.Event | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or cancellation); see :func:`serve_with`."""
    store = Store(options.db_url, data_dir=options.data_dir)
    check_schema(store.engine)
    check_secret_key(store.engine)  # a wrong key serves nothing, not wrong files
    provisioner = Provisioner.for_store(
        store, default_registry(), options.data_dir, cache_phones=options.cache_phones,
        trusted_networks=options.security.trusted_networks,
        guard=SweepGuard(options.security),  # sweep and login thresholds of [security]
    )  # fmt: skip
    if options.log_requests is not None:
        provisioner.request_log = RequestLog(options.log_requests)
    collect_garbage_less_often()
    from plugtone.inventory.change_feed import start_change_feed

    resolver = provisioner.resolver  # other processes' and hosts' changes, at once
    feed = start_change_feed(store, lambda: resolver.refresh(force=True))
    try:
        await serve_with(provisioner, options, ready, announce)
    finally:
        if feed is not None:
            feed.stop()
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
    provisioner: Provisioner,
    options: ServeOptions,
    ready: asyncio.Event | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Every server of ``options`` over ``provisioner``, until SIGINT/SIGTERM.

    Separate from :func:`serve` so that tests and benchmarks run the very servers
    ``plugtone serve`` runs (uvicorn with zero-copy, FTP, TFTP) over a provisioner of
    their own; the caller owns the provisioner's store.

    Every listener is bound before any is served: one that cannot be (a busy port, a
    privileged one) raises :class:`ListenError` naming it, with those bound before it
    closed, so a failed start leaves nothing listening. Only then is the line listing
    what listens where (:func:`serving_line`) handed to ``announce`` (logged without
    one) and ``ready`` set: whoever reads it can connect at once.
    """
    app = create_phone_app(provisioner)
    app.acs = acs_app(provisioner, app.digest, options)
    planned: list[tuple[str, str, int, _QuietSignalsServer]] = []
    if options.rcs_port is not None:  # the redirection service alone (plugtone.redirect)
        from plugtone.redirect.phone_app import rcs_root_app

        rcs = _uvicorn(rcs_root_app(provisioner), options.host, options.rcs_port)
        planned.append(("RCS", options.host, options.rcs_port, rcs))
    if options.cwmp_port is not None:
        cwmp = _uvicorn(app.acs, options.host, options.cwmp_port)
        planned.append(("CWMP", options.host, options.cwmp_port, cwmp))
    if options.http_port is not None:
        http = _uvicorn(app, options.host, options.http_port)
        planned.append(("HTTP", options.host, options.http_port, http))
    if options.https_port is not None:
        if not (options.tls_cert and options.tls_key):
            raise StartupError("HTTPS needs a certificate and key: run 'plugtone init --tls'")
        context = options.tls_contexts.get("HTTPS") or https_context(options)
        secure = _uvicorn(app, options.host, options.https_port, context)
        planned.append(("HTTPS", options.host, options.https_port, secure))
    elif options.security.client_ca:
        log.warning("[security] client_ca is set but HTTPS is off: no certificate is asked for")
    admin_host = options.admin_host or options.host
    admin_scheme = "http"
    siblings = None
    if options.admin_port is not None:
        admin, admin_scheme, siblings = _admin_server(provisioner, options, admin_host)
        planned.append(("admin API", admin_host, options.admin_port, admin))
    for _, _, _, server in planned:
        server.config.load()  # the app and protocol classes, before anything listens
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(quiet_disconnects)
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    running = _Running()
    try:
        for transport, host, port, server in planned:
            sockets = bind_tcp(transport, host, port, reuse_port=options.reuse_port)
            running.bound.append((transport, host, server, sockets))
        if options.tftp_port is not None:
            running.tftp = await _start_tftp(provisioner, options)
            provisioner.stats.tftp = running.tftp  # its active transfers, for /metrics
        if options.ftp_port is not None:
            running.ftp = await _start_ftp(provisioner, options)
        running.recorder = asyncio.create_task(provisioner.recorder.run(), name="events")
        if siblings is not None:  # /metrics answered for every worker
            running.siblings = siblings
            await siblings.start()
        if options.stun_port is not None and options.once_per_host:  # TR-111 STUN: one a host
            await app.acs.start_stun(options.host, options.stun_port)
            acs_service.use_stun_sender(app.acs.stun.sendto)  # the API's and UI's requests
        if options.once_per_host:
            running.retention = asyncio.create_task(_pruner(provisioner, options).run(),
                                                    name="retention")  # fmt: skip
        running.windows = asyncio.create_task(follow_once_windows(provisioner.resolver),
                                              name="once-windows")  # fmt: skip
        for transport, _, server, sockets in running.bound:
            running.tasks.append(asyncio.create_task(server.serve(sockets=sockets), name=transport))
        await running.started()
        line = serving_line(running.listeners(options), admin_scheme)
        if announce is not None:
            announce(line)
        else:
            log.info("%s", line)
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        acs_service.use_stun_sender(None)
        app.acs.close_stun()
        await running.close()


class StartupError(RuntimeError):
    """``plugtone serve`` cannot start; the message is the one line the user is shown."""


class ListenError(StartupError):
    """A listener could not be bound (``cannot listen for TFTP on 0.0.0.0:6969: address
    already in use``)."""

    def __init__(self, transport: str, host: str, port: int, problem: BaseException) -> None:
        self.transport, self.host, self.port = transport, host, port
        self.reason = _reason(problem)
        super().__init__(f"cannot listen for {transport} on {host_port(host, port)}: {self.reason}")


def _reason(problem: BaseException) -> str:
    """``address already in use``: the system's words for ``problem``, without the
    ``[Errno 98]`` and the address asyncio wraps around them."""
    if isinstance(problem, OSError) and problem.errno and not isinstance(
        problem, socket.gaierror
    ):  # fmt: skip
        text = os.strerror(problem.errno)
    elif isinstance(problem, OSError) and problem.strerror:
        text = problem.strerror
    else:
        text = str(problem) or type(problem).__name__
    return text[:1].lower() + text[1:]


def host_port(host: str, port: int) -> str:
    """``0.0.0.0:6969``, ``[::]:6969``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Listener:
    """One bound listener, as the serving line shows it."""

    transport: str
    """``HTTP``, ``HTTPS``, ``TFTP``, ``FTP`` or ``admin API``."""
    host: str
    port: int


def serving_line(listeners: list[Listener], admin_scheme: str = "http") -> str:
    """``plugtone serving HTTP on 0.0.0.0:8080, TFTP on 0.0.0.0:6969; admin API on
    http://0.0.0.0:8088/api/docs``: what listens where, ports as bound."""
    phones = [f"{item.transport} on {host_port(item.host, item.port)}"
              for item in listeners if item.transport != "admin API"]  # fmt: skip
    line = "plugtone serving " + (", ".join(phones) if phones else "no phone listener")
    for item in listeners:
        if item.transport == "admin API":
            line += f"; admin API on {admin_scheme}://{host_port(item.host, item.port)}/api/docs"
    return line


def bind_tcp(
    transport: str, host: str, port: int, backlog: int = 2048, *, reuse_port: bool = False
) -> list[socket.socket]:
    """Listening sockets for ``host``:``port``, bound here rather than by uvicorn (which
    logs a bind failure and exits the process from inside its task): one per address
    ``host`` resolves to, with the options asyncio's ``create_server`` would set
    (``reuse_port``: ``SO_REUSEPORT`` too, for workers sharing the port)."""
    sockets: list[socket.socket] = []
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except (OSError, OverflowError) as problem:
        for sock in sockets:
            sock.close()
        raise ListenError(transport, host, port, problem) from None
    return sockets


def tls_context(
    transport: str, cert: Path, key: Path, client_ca: tuple[Path, ...] = ()
) -> ssl.SSLContext:
    """The server TLS context of one listener, as uvicorn makes it (its
    ``create_ssl_context``); with ``client_ca``, it asks each client for a certificate
    (``CERT_OPTIONAL``: a phone without one is still served, judged by the other rules)
    and verifies one it sends against those bundles. Made before anything listens, so a
    TLS pair that cannot be read stops start-up with one line."""
    try:
        made = create_ssl_context(
            certfile=str(cert), keyfile=str(key), password=None,
            ssl_version=ssl.PROTOCOL_TLS_SERVER, cert_reqs=ssl.CERT_NONE, ca_certs=None,
            ciphers=None,
        )  # fmt: skip
        if client_ca:
            made.verify_mode = ssl.CERT_OPTIONAL
            for bundle in client_ca:
                made.load_verify_locations(cafile=str(bundle))
    except (OSError, ssl.SSLError) as problem:
        reason = (
            f"not a PEM certificate and its key ({problem.strerror or problem})"
            if isinstance(problem, ssl.SSLError)
            else _reason(problem)
        )
        message = f"{transport} cannot use the TLS pair {cert} and {key}: {reason}"
        raise StartupError(message) from None
    return made


def https_context(options: ServeOptions) -> ssl.SSLContext:
    """The phone HTTPS listener's context: the TLS pair, and ``[security] client_ca``."""
    if not (options.tls_cert and options.tls_key):
        raise StartupError("HTTPS needs a certificate and key: run 'plugtone init --tls'")
    client_ca = client_ca_bundles(options.security.client_ca, options.data_dir)
    return tls_context("HTTPS", options.tls_cert, options.tls_key, client_ca)


def _admin_tls(options: ServeOptions) -> tuple[Path, Path] | None:
    """The admin listener's TLS pair: the phone HTTPS pair, when both files exist."""
    cert, key = options.tls_cert, options.tls_key
    if cert is not None and key is not None and cert.is_file() and key.is_file():
        return cert, key
    return None


def tls_contexts(options: ServeOptions) -> dict[str, ssl.SSLContext]:
    """Every TLS context :func:`serve_with` would make for ``options``, by listener: for
    a supervisor to make once and hand to each worker (``ServeOptions.tls_contexts``)."""
    made: dict[str, ssl.SSLContext] = {}
    if options.https_port is not None:
        made["HTTPS"] = https_context(options)
    pair = _admin_tls(options)
    if options.admin_port is not None and pair is not None:
        made["admin API"] = tls_context("admin API", *pair)
    return made


async def _start_tftp(provisioner: Provisioner, options: ServeOptions):
    from plugtone.servers.tftp import start_tftp_server

    assert options.tftp_port is not None
    try:
        return await start_tftp_server(
            provisioner, options.host, options.tftp_port,
            max_transfers=options.tftp_max_transfers, reuse_port=options.reuse_port,
            workers=options.workers,
        )  # fmt: skip
    except (OSError, OverflowError) as problem:
        raise ListenError("TFTP", options.host, options.tftp_port, problem) from None


async def _start_ftp(provisioner: Provisioner, options: ServeOptions):
    from plugtone.servers.ftp import FtpAccount, start_ftp_server

    assert options.ftp_port is not None
    logins = list(options.ftp_accounts)
    if options.ftp_factory_accounts:
        logins = provisioner.resolver.registry.factory_ftp_accounts() + logins
    try:
        return await start_ftp_server(
            provisioner, options.host, options.ftp_port,
            accounts=[FtpAccount(user, password) for user, password in logins],
            passive_ports=options.ftp_passive_ports,
            masquerade_address=options.ftp_masquerade, reuse_port=options.reuse_port,
        )  # fmt: skip
    except (OSError, OverflowError) as problem:
        raise ListenError("FTP", options.host, options.ftp_port, problem) from None


@dataclass
class _Running:
    """What :func:`serve_with` has bound and started, so that it can all be stopped,
    whether start-up got to the end or not."""

    bound: list[tuple[str, str, _QuietSignalsServer, list[socket.socket]]] = field(
        default_factory=list
    )
    tftp: Any = None
    ftp: Any = None
    tasks: list[asyncio.Task] = field(default_factory=list)
    recorder: asyncio.Task | None = None
    retention: asyncio.Task | None = None
    windows: asyncio.Task | None = None
    siblings: Any = None
    """This worker's /metrics socket for its siblings (``WorkerMetrics``)."""

    async def started(self) -> None:
        """Wait for every uvicorn server to serve its sockets; one that ends first
        stops start-up with its error."""
        servers = [server for _, _, server, _ in self.bound]
        while not all(server.started for server in servers):
            for task in self.tasks:
                if task.done():
                    problem = None if task.cancelled() else task.exception()
                    if problem is not None:
                        raise problem
                    raise StartupError(f"the {task.get_name()} listener stopped while starting")
            await asyncio.sleep(0.01)

    def listeners(self, options: ServeOptions) -> list[Listener]:
        """What listens where, in the order of the serving line, ports as bound."""
        found: dict[str, Listener] = {}
        for transport, host, _, sockets in self.bound:
            found[transport] = Listener(transport, host, sockets[0].getsockname()[1])
        if self.tftp is not None:
            found["TFTP"] = Listener("TFTP", options.host, self.tftp.port)
        if self.ftp is not None:
            sockets = self.ftp.server.server.sockets
            found["FTP"] = Listener("FTP", options.host, sockets[0].getsockname()[1])
        order = ("HTTP", "HTTPS", "TFTP", "FTP", "RCS", "admin API")
        return [found[name] for name in order if name in found]

    async def close(self) -> None:
        """Stop every listener and task (each at most once)."""
        if self.tftp is not None:
            self.tftp.close()
        if self.ftp is not None:
            await self.ftp.close()
        if self.siblings is not None:
            self.siblings.close()
        for _, _, server, _ in self.bound:
            server.should_exit = True
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for _, _, _, sockets in self.bound:  # those of a server that never started
            for sock in sockets:
                sock.close()
        for follower in (self.retention, self.windows):
            if follower is not None:
                follower.cancel()
                await asyncio.gather(follower, return_exceptions=True)
        if self.recorder is not None:
            self.recorder.cancel()
            await asyncio.gather(self.recorder, return_exceptions=True)


ONCE_FOLLOW_SECONDS = 15.0
"""Most seconds between two readings of the windows while a ``once`` window is open."""


async def follow_once_windows(resolver: Any) -> None:
    """While a ``once`` window is open, read the windows again every so often (in a
    thread, off the loop): another process that sent a phone its first secret logged
    it, and this one must close the window for that phone too, late by at most a
    quarter of the grace (15 s of the default five minutes), plus the log's flush."""
    from plugtone.provisioning.trust import ONCE_GRACE

    pause = min(ONCE_FOLLOW_SECONDS, max(0.1, ONCE_GRACE / 4))
    while True:
        await asyncio.sleep(pause)
        if not any(window.once for window in resolver.windows.windows):
            continue
        try:
            await asyncio.to_thread(resolver.reload_windows)
        except Exception as problem:  # the store is away: try again next time
            log.warning("cannot read the provisioning windows again: %s", problem)


def _pruner(provisioner: Provisioner, options: ServeOptions):
    """The event log's background pruning, with the window and cap of the settings."""
    from plugtone.provisioning.retention import EventPruner

    settings = options.settings or load_settings(str(options.data_dir), options.db_url)
    return EventPruner(provisioner.recorder.store, days=settings.event_retention_days,
                       max_rows=settings.event_max_rows)  # fmt: skip


def quiet_disconnects(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Phones drop connections all the time; that is not worth a traceback per phone."""
    if isinstance(context.get("exception"), ConnectionResetError | BrokenPipeError):
        log.debug("client went away: %s", context.get("message"))
        return
    loop.default_exception_handler(context)


def _admin_server(
    provisioner: Provisioner, options: ServeOptions, host: str
) -> tuple[_QuietSignalsServer, str, Any]:
    """The admin app on its own server, its scheme (HTTPS when the phone HTTPS pair
    exists) and, in a worker, its part in answering ``/metrics`` for all workers
    (:class:`plugtone.web.metrics.WorkerMetrics`, to start once the app serves)."""
    from plugtone.web.app import create_admin_app

    settings = options.settings or load_settings(str(options.data_dir), options.db_url)
    resolver = provisioner.resolver
    app = create_admin_app(resolver.store, resolver.registry, settings)
    app.state.security_counters = provisioner.guard.counters.as_dict
    app.state.provisioner = provisioner  # its counters, read at each /metrics scrape
    pair = _admin_tls(options)
    context = None
    if pair is not None:
        context = options.tls_contexts.get("admin API") or tls_context("admin API", *pair)
    assert options.admin_port is not None
    siblings = None
    if options.worker is not None:  # which worker answered, for whoever checks the sharing
        from plugtone.servers.workers import with_worker_header
        from plugtone.web.metrics import WorkerMetrics, ledger_directory

        group = os.getppid()  # the workers' supervisor names the group
        siblings = WorkerMetrics(app, options.worker, options.workers, group,
                                 ledger_directory(options.data_dir, group))  # fmt: skip
        app.state.worker_metrics = siblings
        app = with_worker_header(app, options.worker)
    server = _uvicorn(app, host, options.admin_port, context)
    return server, "https" if context is not None else "http", siblings


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


def _uvicorn(app, host: str, port: int, tls: ssl.SSLContext | None = None):
    """One uvicorn server, over TLS with the context ``tls`` (:func:`tls_context`) if
    given: handed to uvicorn as made, so that workers given the supervisor's context
    share its session-ticket keys."""
    # httptools plus the ASGI zero-copy extension, so firmware goes out by os.sendfile
    # (see plugtone.servers.http); the phone app's cached answers are written by a
    # leaner protocol that hands every other request to that one (servers.http_front).
    extra = {}
    if tls is not None:
        extra["ssl_context_factory"] = lambda config, default: tls
    config = uvicorn.Config(
        app,
        http=PhoneHttpProtocol if isinstance(app, PhoneApp) else ZeroCopyHttpToolsProtocol,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        log_config=None,  # uvicorn's lines go through plugtone's handlers (text or JSON)
        server_header=False,
        # Trust is decided by the client address: uvicorn would otherwise take it (and
        # the scheme) from X-Forwarded-For/-Proto sent from 127.0.0.1, so any local
        # process could pose as a phone on a trusted network, or as HTTPS.
        proxy_headers=False,
        lifespan="off",
        **extra,
    )
    return _QuietSignalsServer(config)
