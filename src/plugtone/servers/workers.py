"""``plugtone serve --workers N``: N processes sharing the listening ports, and their supervisor.

One process runs on one core; a boot storm wants all of them. Each worker is a whole
``plugtone serve`` (:func:`plugtone.servers.runner.serve`) with its own resolver and
caches, over the one store, and binds every listener with ``SO_REUSEPORT``: the kernel
then spreads new TCP connections (HTTP, HTTPS, FTP control, admin) and TFTP requests
(by source address and port) over the workers, with no process in between. A TFTP
transfer runs on its own ephemeral socket in the worker that got its request; an FTP
data connection must reach the worker whose control connection opened it, so passive
ports are never shared: each worker gets its own slice of ``ftp_passive_ports`` (or
ephemeral ports, which the system never hands out twice).

The supervisor (this process, which serves nothing itself):

- does the one-time work once, before any worker starts: the store is checked and
  its files secured by ``plugtone serve`` itself (nothing migrates at serve), and each
  port is tried here, without ``SO_REUSEPORT``, so a port another program (or another
  ``plugtone serve``) holds stops start-up with the usual one line, and a port of 0 is
  resolved once, so every worker binds the same one; and the TLS contexts (HTTPS, the
  admin listener) are made here, once, and inherited by every worker through the fork,
  so that all hold the same session-ticket keys and a phone's next connection resumes
  its TLS session whichever worker it reaches (a worker spawned rather than forked,
  where there is no fork, makes its own: sessions then resume on its own connections
  only; a worker started again gets the contexts of the supervisor's start, its
  certificate included);
- starts the workers and waits until each says it listens (a worker that cannot start
  stops them all: exit 1), then prints the serving line once;
- starts again a worker that dies (after a pause growing to 10 s if it keeps dying),
  keeping in the sums of ``/metrics`` the counts it had shown (its file of the ledger
  under ``<data>/run/``, :class:`plugtone.web.metrics.WorkerMetrics`);
- on SIGTERM or SIGINT, sends SIGTERM to every worker, waits for them to flush their
  event logs and exit (SIGKILL after ``STOP_TIMEOUT``), and exits 0 (1 if a worker
  had to be killed or failed).

Once-per-host duties (the event log's pruning; the STUN listener, see
:data:`FIRST_WORKER_ONLY`) run in worker 0 only (``ServeOptions.once_per_host``); a
restarted worker 0 takes them back. Pushed resyncs
(SIP NOTIFY) are run by whichever worker answers the ``POST /api/resync``, once.
Workers learn of each other's inventory changes through the store like separate hosts
do (the generation, and at once: LISTEN/NOTIFY on PostgreSQL, this host's wake-up
sockets on SQLite; :mod:`plugtone.inventory.change_feed`).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from plugtone.servers.runner import ListenError, ServeOptions, StartupError, tls_contexts

log = logging.getLogger(__name__)

WORKER_HEADER = "x-plugtone-worker"
"""Admin listener response header naming the worker that answered: ``<index> <pid>``."""
STOP_TIMEOUT = 15.0
"""Seconds a worker has to exit after SIGTERM before it is killed."""
START_TIMEOUT = 60.0
"""Seconds a worker has to say it listens."""
RESTART_PAUSES = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0)
"""Pauses before starting a dead worker again, by how often it died in a row (one that
served for a minute starts over at the first)."""
STEADY_SECONDS = 60.0


def with_worker_header(app: Callable, index: int) -> Callable:
    """``app`` answering with ``x-plugtone-worker: <index> <pid>`` on every response, so
    whoever checks that workers share a port (a test, an operator with curl) sees which
    one answered; only on the admin listener (the phones' answers stay as they are)."""
    value = f"{index} {os.getpid()}".encode()

    async def answered_by(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with_header(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((WORKER_HEADER.encode(), value))
                message = {**message, "headers": headers}
            await send(message)

        return await app(scope, receive, send_with_header)

    return answered_by


# -- ports, resolved once


TRANSPORTS = {"http_port": "HTTP", "https_port": "HTTPS", "tftp_port": "TFTP", "ftp_port": "FTP",
              "admin_port": "admin API", "stun_port": "STUN"}  # fmt: skip
"""How a start-up error names the listener of each ``ServeOptions`` port (one not here:
its name, ``rcs_port`` -> ``RCS``)."""
UDP_PORTS = frozenset({"tftp_port", "stun_port"})
"""The ``ServeOptions`` ports that are UDP; every other ``*_port`` is a TCP listener."""
FIRST_WORKER_ONLY = frozenset({"stun_port", "cwmp_port"})
"""Listeners only worker 0 runs. The ACS's own port (``--cwmp-port``): a TR-069 session
lives in the memory of the process that began it, and a CPE may open a new connection
within one, which a shared port could hand to another worker (``/cwmp`` on the shared
HTTP listeners stays, for CPEs that keep their connection). STUN (TR-111): the ACS's
partner, a few requests a minute."""


def _ports(options: ServeOptions) -> list[tuple[str, int]]:
    """Every listener port ``options`` asks for, by field name (``http_port``...)."""
    return [
        (item.name, getattr(options, item.name))
        for item in dataclasses.fields(options)
        if item.name.endswith("_port")
        and type(getattr(options, item.name)) is int  # not reuse_port, a flag
    ]


def reserve_ports(options: ServeOptions) -> ServeOptions:
    """``options`` with every port tried and resolved (0 becomes the port the system
    picked), so that all workers bind the same ones.

    Each is bound here without ``SO_REUSEPORT`` and closed again at once: a port anyone
    holds (a reuse-port group of another ``plugtone serve`` included) fails the bind,
    with :class:`ListenError`'s one line; nothing listens, so no connection is lost.
    """
    changes: dict[str, int] = {}
    for name, port in _ports(options):
        transport = TRANSPORTS.get(name) or name.removesuffix("_port").upper()
        host = (options.admin_host or options.host) if name == "admin_port" else options.host
        kind = socket.SOCK_DGRAM if name in UDP_PORTS else socket.SOCK_STREAM
        changes[name] = _probe(transport, host, port, kind)
    return dataclasses.replace(options, **changes)


def _probe(transport: str, host: str, port: int, kind: int) -> int:
    """Bind every address ``host`` resolves to at ``port`` (the first one's if 0), then
    let go; the port bound."""
    sockets: list[socket.socket] = []
    try:
        found = socket.getaddrinfo(host or None, port, type=kind, flags=socket.AI_PASSIVE)
        for family, sock_kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, sock_kind, proto)
            sockets.append(sock)
            if kind == socket.SOCK_STREAM:  # as the listener will: TIME_WAIT is no owner
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address[0], port, *address[2:]))
            port = sock.getsockname()[1]
    except (OSError, OverflowError) as problem:
        raise ListenError(transport, host, port, problem) from None
    finally:
        for sock in sockets:
            sock.close()
    return port


def split_passive_ports(ports: tuple[int, ...] | None, count: int) -> list[tuple[int, ...] | None]:
    """Each worker's own FTP passive ports: ``ports`` cut into ``count`` runs as even
    as they go (``None``, ephemeral ports, for each when no range is configured)."""
    if ports is None:
        return [None] * count
    if len(ports) < count:
        raise StartupError(
            f"ftp_passive_ports has {len(ports)} port(s) for {count} workers: each worker "
            "needs ports of its own (a data connection must reach the worker that opened it)"
        )
    share, extra = divmod(len(ports), count)
    slices, start = [], 0
    for index in range(count):
        end = start + share + (1 if index < extra else 0)
        slices.append(tuple(ports[start:end]))
        start = end
    return slices


def worker_options(options: ServeOptions, count: int) -> list[ServeOptions]:
    """What each of ``count`` workers serves: ports shared, passive ports split,
    once-per-host duties for worker 0."""
    passive = split_passive_ports(options.ftp_passive_ports, count)
    first_only = {name: None for name, _ in _ports(options) if name in FIRST_WORKER_ONLY}
    return [
        dataclasses.replace(
            options,
            reuse_port=True,
            worker=index,
            workers=count,
            once_per_host=index == 0,
            ftp_passive_ports=passive[index],
            **({} if index == 0 else first_only),
        )
        for index in range(count)
    ]


# -- the worker process


def _worker_main(options: ServeOptions, report: Connection, log_format: str) -> None:
    """A worker: ``plugtone serve`` over ``options``, saying on ``report`` when it listens
    (``("ready", line)``) or why it cannot (``("failed", message)``)."""
    from plugtone.servers import event_loop
    from plugtone.servers.runner import serve

    # the supervisor's handlers came with the fork: until the loop has its own, SIGTERM
    # ends a worker at once (it has nothing to flush yet) and SIGINT interrupts it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _die_with_parent()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("aioftp").setLevel(logging.WARNING)
    if log_format == "json":
        from plugtone.provisioning.request_log import use_json_lines

        use_json_lines()

    def announce(line: str) -> None:
        with contextlib.suppress(OSError):
            report.send(("ready", line))

    try:
        event_loop.run(serve(options, announce=announce))  # uvloop when installed
    except StartupError as error:
        with contextlib.suppress(OSError):
            report.send(("failed", str(error)))
        sys.exit(1)
    except KeyboardInterrupt:  # SIGINT before the loop's handler was in place
        pass


def _die_with_parent() -> None:
    """Have the system send this worker SIGTERM when the supervisor dies (Linux), so a
    killed supervisor leaves no worker holding the ports."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:  # the supervisor died before the call above
        os.kill(os.getpid(), signal.SIGTERM)


# -- the supervisor


@dataclasses.dataclass
class _Worker:
    index: int
    options: ServeOptions
    process: Any = None
    report: Connection | None = None
    started_at: float = 0.0
    deaths: int = 0
    """Deaths in a row without a steady minute of serving in between."""
    due: float = 0.0
    """When to start it again (monotonic), while it is down."""


class Supervisor:
    """Starts, watches and stops the workers of one ``plugtone serve --workers N``."""

    def __init__(self, options: ServeOptions, count: int, log_format: str = "text") -> None:
        self.log_format = log_format
        self.context = _process_context()
        if self.context.get_start_method() == "fork":  # a context cannot be pickled to spawn
            options = dataclasses.replace(options, tls_contexts=tls_contexts(options))
        self.workers = [
            _Worker(index, each) for index, each in enumerate(worker_options(options, count))
        ]
        self.stopping = False
        self.failed = False
        self.ledger = None
        if options.admin_port is not None:  # what /metrics showed of a worker that died
            from plugtone.web.metrics import ledger_directory, open_ledger

            self.ledger = ledger_directory(options.data_dir, os.getpid())
            try:
                open_ledger(self.ledger)
            except OSError as problem:  # the sums then drop by a dead worker's counts
                log.warning("cannot keep the workers' counts in %s: %s", self.ledger, problem)
                self.ledger = None

    def _start(self, worker: _Worker) -> None:
        receive, send = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_worker_main,
            args=(worker.options, send, self.log_format),
            name=f"plugtone-worker-{worker.index}",
            daemon=False,
        )
        process.start()
        send.close()
        worker.process, worker.report, worker.started_at = process, receive, time.monotonic()

    def start(self) -> str:
        """Start every worker; the serving line once all listen. A worker that cannot
        start stops the others and raises :class:`StartupError` with its reason."""
        for worker in self.workers:
            self._start(worker)
        line = ""
        waiting = {worker.index for worker in self.workers}
        deadline = time.monotonic() + START_TIMEOUT
        while waiting and not self.stopping:
            if time.monotonic() > deadline:
                self.stop()
                raise StartupError(
                    f"{len(waiting)} worker(s) did not start in {START_TIMEOUT:.0f} s"
                )
            for worker in self.workers:
                if worker.index not in waiting:
                    continue
                message = _receive(worker.report)
                if message is not None and message[0] == "ready":
                    if worker.index == 0 or not line:  # worker 0's: it has every listener
                        line = message[1]
                    waiting.discard(worker.index)
                    continue
                if message is not None or not worker.process.is_alive():
                    self.stop()
                    reason = message[1] if message else _how_it_ended(worker.process)
                    raise StartupError(reason if message else f"worker {worker.index} {reason}")
            if waiting:
                wait(
                    [w.process.sentinel for w in self.workers]
                    + [w.report for w in self.workers if w.report is not None],
                    timeout=0.2,
                )
        return line

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self.workers if worker.process is not None]

    def watch(self) -> None:
        """Until :meth:`request_stop`: start again each worker that dies."""
        while not self.stopping:
            now = time.monotonic()
            for worker in self.workers:
                process = worker.process
                if process is not None and not process.is_alive():
                    served = now - worker.started_at
                    worker.deaths = 1 if served >= STEADY_SECONDS else worker.deaths + 1
                    pause = RESTART_PAUSES[min(worker.deaths, len(RESTART_PAUSES)) - 1]
                    log.warning(
                        "worker %d (pid %d) %s; starting it again in %.1f s",
                        worker.index,
                        process.pid,
                        _how_it_ended(process),
                        pause,
                    )
                    if self.ledger is not None:  # its counts stay in the sums
                        from plugtone.web.metrics import retire

                        retire(self.ledger, worker.index, process.pid)
                    _close(worker)
                    worker.due = now + pause
                elif process is None and now >= worker.due:
                    self._start(worker)
                    log.info("worker %d started again (pid %d)", worker.index, worker.process.pid)
                elif worker.report is not None:
                    _receive(worker.report)  # a restarted worker's "ready": nothing to do
            alive = [w.process.sentinel for w in self.workers if w.process is not None]
            wait(alive, timeout=0.2) if alive else time.sleep(0.2)

    def request_stop(self, *_: object) -> None:
        self.stopping = True

    def stop(self) -> None:
        """SIGTERM to every worker, SIGKILL to those still there after ``STOP_TIMEOUT``."""
        self.stopping = True
        running = [w for w in self.workers if w.process is not None and w.process.is_alive()]
        for worker in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for worker in running:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                log.warning(
                    "worker %d (pid %d) did not stop in %.0f s: killed",
                    worker.index,
                    worker.process.pid,
                    STOP_TIMEOUT,
                )
                worker.process.kill()
                worker.process.join()
                self.failed = True
            elif worker.process.exitcode not in (0, -signal.SIGTERM, -signal.SIGINT):
                self.failed = True
        for worker in self.workers:
            _close(worker)
        if self.ledger is not None:
            from plugtone.web.metrics import close_ledger

            close_ledger(self.ledger)


def _process_context() -> Any:
    """Fork, with the modules every worker needs imported once here first: a forked
    worker starts in less time than a fresh interpreter takes to import them (measured
    on a loaded 2-core host: 2 workers listening 2.8 to 3.6 s after the command instead
    of 5.4 s), and they share those pages. Forking is safe while this process has one thread and
    no event loop, which the supervisor keeps so; otherwise (or where there is no
    fork) each worker is a fresh interpreter."""
    import threading

    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return multiprocessing.get_context("spawn")
    import plugtone.servers.ftp
    import plugtone.servers.tftp
    import plugtone.web.app  # noqa: F401 - imported for the workers to inherit
    from plugtone.vendors import default_registry

    default_registry()  # the plug-ins' entry points, loaded once
    return multiprocessing.get_context("fork")


def _receive(report: Connection | None) -> tuple[str, str] | None:
    if report is None:
        return None
    try:
        return report.recv() if report.poll() else None
    except (EOFError, OSError):
        return None


def _close(worker: _Worker) -> None:
    if worker.report is not None:
        worker.report.close()
    if worker.process is not None:
        worker.process.join(0)
        worker.process.close()
    worker.process, worker.report = None, None


def _how_it_ended(process: Any) -> str:
    code = process.exitcode
    if code is None:
        return "is still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def serve_workers(
    options: ServeOptions, count: int, announce: Callable[[str], None], log_format: str = "text"
) -> int:
    """Run ``count`` workers over ``options`` until SIGTERM/SIGINT; the exit status.

    Raises :class:`StartupError` (one line) when a port cannot be had or a worker
    cannot start; nothing is left running then.
    """
    supervisor = Supervisor(reserve_ports(options), count, log_format)
    previous = {
        signum: signal.signal(signum, supervisor.request_stop)
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        line = supervisor.start()
        if not supervisor.stopping:
            announce(line)
            announce(
                f"plugtone: {count} workers, pids {' '.join(map(str, supervisor.pids))}"
                f" (supervisor {os.getpid()})"
            )
            supervisor.watch()
    finally:
        supervisor.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 1 if supervisor.failed else 0
