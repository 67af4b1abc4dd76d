"""``GET /metrics``: the phone side's counters in Prometheus' text format, admin listener only.

Nothing is counted here: the phone listeners keep plain integers where things happen
(``Provisioner.stats``, the resolver's render counters, the sweep guard's
``GuardCounters``, the event recorder, the TFTP server) and :class:`PhoneSideCollector`
turns them into metric families when a scraper asks, so a request costs the phones a
few integer increments and nothing more. The counters live in the ``plugtone serve``
process that runs the phone listeners; the runner hands the admin app its provisioner
(``app.state.provisioner``) as it hands it the guard's counters, and an admin app
without one answers 503.

A scrape needs the API's bearer token (any role: counts are no secret, but who asks
what still is, of a sort), unless ``metrics_public = true`` in ``plugtone.toml`` for a
scraper that can send none (keep the admin listener on a network only it reaches).
Nothing in the metrics names a phone, a path or an address: labels are the transport,
the vendor plug-in and the status the server assigns, so their number is bounded.

With ``plugtone serve --workers N`` the admin port is shared too, so a scrape reaches
one worker at random; that worker answers for the whole server (:class:`WorkerMetrics`).
Each worker listens on a Unix socket of its own (Linux's abstract namespace, named by
the supervisor's pid and the worker's index: no socket file to clean up, no path
length limit, and each end checks the other runs as the same user) and answers a
sibling's connection with a snapshot of its families, collected on its own loop. The
answering worker asks every sibling at once, adds their samples to its own
(counters, histograms' buckets, sums and counts, and gauges such as active transfers
and pending events) and labels with ``worker="<index>"`` what only means anything per
process (:func:`per_process`: ``process_*``, the inventory generation). The
``plugtone_workers`` and ``plugtone_workers_counted`` gauges say how many there are
and how many answered this scrape. A worker that does not answer (being started again,
too slow) is counted as it last showed itself, from the ledger the workers keep under
the data directory's ``run/``, so the sums never drop, which Prometheus would read as a
counter reset (:class:`WorkerMetrics`). ``GET /metrics?scope=worker`` answers with the
answering worker's own counters alone, as before. A scrape costs a connection, a few
kilobytes of JSON per worker and a small file written by each; the phones pay nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plugtone.web.deps import current_actor
from plugtone.web.problems import problem

log = logging.getLogger(__name__)

PATH = "/metrics"
SIBLING_TIMEOUT = 2.0
"""Seconds a sibling worker has to send its snapshot; one slower is left out of the
sums (``plugtone_workers_counted`` says so) rather than holding up the scrape."""
PER_PROCESS = frozenset({"plugtone_inventory_generation"})
"""Families that mean something only per process, besides ``process_*``: labelled by
worker instead of summed (the generation each worker serves: a laggard shows)."""

SECURITY_HELP = {
    "stranger_answers": "Strangers' requests for per-device file names",
    "unknown_macs": "Requests naming a MAC that is no phone of the inventory",
    "failed_credentials": "Requests whose credentials proved nothing",
    "forgiven": "Strangers' requests later proven to be the phone's own",
    "slowed": "Stranger requests slowed by the sweep guard",
    "blocked": "Stranger requests blocked by the sweep guard",
    "alerts": "Sweep alerts raised (one per episode of a source)",
    "login_failures": "Failed FTP logins",
    "throttled_logins": "FTP logins made to wait before their password was checked",
    "refused_logins": "FTP logins refused outright (the address failed too often)",
}
"""Help texts of the ``plugtone_security_*_total`` counters (``GuardCounters`` fields);
a field added there later is exported with a generic text."""


class PhoneSideCollector(Collector):
    """Reads the phone listeners' counters of one ``plugtone serve`` at each scrape."""

    def __init__(self, provisioner: Any, resync: Callable[[], dict[str, int]] | None = None):
        self.provisioner = provisioner
        self.resync = resync
        """Resync outcomes by name, when the resync service counts them."""

    def collect(self) -> Iterator[Metric]:
        provisioner = self.provisioner
        stats = provisioner.stats
        requests = CounterMetricFamily(
            "plugtone_requests", "Phone requests answered, by transport, vendor plug-in "
            "(empty when none was identified) and outcome",
            labels=("transport", "vendor", "status"),
        )  # fmt: skip
        for (transport, vendor, status), count in sorted(stats.requests.items()):
            requests.add_metric((transport, vendor, status), count)
        yield requests
        durations = HistogramMetricFamily(
            "plugtone_transfer_duration_seconds", "Time from a phone's request to the last "
            "byte of its answer, for answers (partly) sent", labels=("transport",),
        )  # fmt: skip
        for transport, histogram in sorted(stats.durations.items()):
            durations.add_metric((transport,), histogram.cumulative(), histogram.total)
        yield durations
        resolver = provisioner.resolver
        yield CounterMetricFamily(
            "plugtone_render_cache_hits", "Files answered from the cache of rendered files "
            "and memoized answers, without rendering", value=resolver.render_hits,
        )  # fmt: skip
        yield CounterMetricFamily(
            "plugtone_render_cache_misses", "Files a vendor plug-in had to render",
            value=resolver.render_misses,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "plugtone_inventory_generation", "The inventory generation being served",
            value=resolver.generation,
        )  # fmt: skip
        tftp = stats.tftp
        if tftp is not None:
            yield GaugeMetricFamily(
                "plugtone_tftp_active_transfers", "TFTP transfers under way", value=tftp.active
            )
            yield CounterMetricFamily(
                "plugtone_tftp_dropped_requests", "TFTP requests ignored because "
                "--tftp-max-transfers were under way", value=tftp.dropped,
            )  # fmt: skip
        for name, count in provisioner.guard.counters.as_dict().items():
            text = SECURITY_HELP.get(name, f"Sweep guard counter {name}")
            yield CounterMetricFamily(f"plugtone_security_{name}", text, value=count)
        recorder = provisioner.recorder
        yield GaugeMetricFamily(
            "plugtone_events_pending", "Provisioning events waiting to be written",
            value=len(recorder.pending),
        )  # fmt: skip
        yield CounterMetricFamily(
            "plugtone_events_written", "Provisioning events written to the store",
            value=recorder.written,
        )  # fmt: skip
        yield CounterMetricFamily(
            "plugtone_events_dropped", "Provisioning events dropped (queue full or unwritable)",
            value=recorder.dropped,
        )  # fmt: skip
        if self.resync is not None:
            outcomes = CounterMetricFamily(
                "plugtone_resync", "Pushed resyncs (SIP NOTIFY) by outcome", labels=("outcome",)
            )
            for outcome, count in sorted(self.resync().items()):
                outcomes.add_metric((str(outcome),), count)
            yield outcomes


def install(app: FastAPI) -> None:
    """Serve ``GET /metrics`` on the admin app (outside ``/api`` and its OpenAPI)."""

    @app.get(PATH, include_in_schema=False)
    async def metrics(request: Request, scope: str = "server") -> Response:
        settings = request.app.state.settings
        if not getattr(settings, "metrics_public", False):
            # the token is a database look-up: off the loop the phones share
            await run_in_threadpool(current_actor, request)
        if scope not in ("server", "worker"):
            return problem(400, "scope is 'server' (every worker's sums) or 'worker'")
        registry = _registry(request.app)
        if registry is None:
            return problem(503, "the metrics live in the plugtone serve that runs the phone "
                           "listeners, and this admin app runs without them")  # fmt: skip
        source: Any = registry
        workers = getattr(request.app.state, "worker_metrics", None)
        if workers is not None and scope == "server":
            source = _Families(await workers.server_families(registry))
        # Collected on the event loop, where the phone listeners update the counters.
        return Response(generate_latest(source), media_type=CONTENT_TYPE_LATEST)


class _Families:
    """Families already collected, in the shape ``generate_latest`` reads."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def per_process(name: str) -> bool:
    """Whether the family ``name`` is labelled by worker rather than summed."""
    return name.startswith("process_") or name in PER_PROCESS


def to_wire(families: Iterable[Metric]) -> list[dict[str, Any]]:
    """Families as JSON-ready dicts (what a worker sends its siblings)."""
    return [
        {"name": family.name, "help": family.documentation, "type": family.type,
         "unit": family.unit,
         "samples": [[sample.name, sample.labels, sample.value] for sample in family.samples]}
        for family in families
    ]  # fmt: skip


def merge(snapshots: Iterable[tuple[int, list[dict[str, Any]]]]) -> list[Metric]:
    """One server's families from each worker's ``(index, to_wire(...))``: a sample
    present in several workers (same name and labels) summed, those of
    :func:`per_process` families labelled ``worker`` instead; families and samples in
    the order first seen."""
    heads: dict[str, dict[str, Any]] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for worker, families in snapshots:
        for family in families:
            name = family["name"]
            slot = values.get(name)
            if slot is None:
                heads[name], slot = family, values.setdefault(name, {})
            labelled = per_process(name)
            for sample, labels, value in family["samples"]:
                if labelled:
                    labels = {**labels, "worker": str(worker)}
                key = (sample, tuple(labels.items()))
                slot[key] = slot.get(key, 0) + value
    merged = []
    for name, head in heads.items():
        family = Metric(name, head["help"], head["type"], head["unit"])
        for (sample, labels), value in values[name].items():
            family.add_sample(sample, dict(labels), value)
        merged.append(family)
    return merged


_CREDENTIALS = struct.Struct("3i")
"""``struct ucred`` (pid, uid, gid), as ``SO_PEERCRED`` gives it."""


def _same_user(sock: socket.socket | None) -> bool:
    """Whether the process at the other end of the Unix socket ``sock`` runs as this
    one's user: an abstract socket has no file mode, so anyone on the host may connect
    to it (or bind its name first)."""
    if sock is None:
        return False
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    except OSError:
        return False
    return _CREDENTIALS.unpack(raw)[1] == os.getuid()


def sibling_address(group: int, index: int) -> str:
    """Worker ``index``'s socket in the abstract namespace, for the workers of the
    supervisor ``group``."""
    return f"\0plugtone-metrics-{group}-{index}"


LEDGER = "run"
"""The data directory's subdirectory holding each ``--workers`` server's ledger
(``run/metrics-<supervisor pid>/``)."""
RETIRED = "retired.json"


def ledger_directory(data_dir: Path, group: int) -> Path:
    """Where the workers of the supervisor ``group`` keep the counts they have shown."""
    return Path(data_dir) / LEDGER / f"metrics-{group}"


def _kept(families: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The families a ledger keeps: what only grows (counters, histograms) and adds up
    (not :func:`per_process`); a gauge of a dead worker means nothing."""
    return [
        family
        for family in families
        if family["type"] in ("counter", "histogram") and not per_process(family["name"])
    ]


def _write(path: Path, value: Any) -> None:
    """``value`` as JSON at ``path``, whole or not at all (a worker killed mid-write
    leaves the previous file)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)


@contextlib.contextmanager
def _locked(directory: Path, kind: int) -> Iterator[None]:
    """``flock`` of the ledger: shared to read it whole, exclusive to retire a worker."""
    with open(directory / "lock", "a") as handle:
        fcntl.flock(handle, kind)
        yield


def open_ledger(directory: Path) -> None:
    """The supervisor's: a ledger of its own (mode 0700, counts start at zero with the
    server), and those of supervisors no longer running removed."""
    for stale in directory.parent.glob("metrics-*"):
        pid = stale.name.removeprefix("metrics-")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory.parent, 0o700)


def close_ledger(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def retire(directory: Path, index: int, pid: int) -> None:
    """The supervisor's, for a worker that died: the counts it last showed added to
    the ledger's retired totals and its own file removed, in one step under the lock,
    so that a scrape counts them once, never twice nor not at all."""
    key = f"{index}-{pid}"
    path = directory / f"{key}.json"
    try:
        with _locked(directory, fcntl.LOCK_EX):
            try:
                shown = json.loads(path.read_text())
            except (OSError, ValueError):
                return  # it never showed a count: nothing to keep
            retired = _read_retired(directory)
            folded = merge([(0, retired["families"]), (0, _kept(shown))])
            _write(directory / RETIRED,
                   {"keys": [*retired["keys"], key], "families": to_wire(folded)})  # fmt: skip
            path.unlink()
    except OSError as problem:
        log.warning("cannot keep the counts of worker %d (pid %d): %s", index, pid, problem)


def _read_retired(directory: Path) -> dict[str, Any]:
    try:
        return json.loads((directory / RETIRED).read_text())
    except (OSError, ValueError):
        return {"keys": [], "families": []}


class WorkerMetrics:
    """One worker's part in answering ``/metrics`` for all: it answers its siblings
    with its families (:meth:`start`) and asks them for theirs
    (:meth:`server_families`).

    Counts stay monotonic when a worker dies, as Prometheus wants of a counter (a sum
    that drops reads as a reset, and ``rate`` would count the whole server's total
    again): each worker writes the counters and histograms it is about to show to its
    file in the ledger (``<index>-<pid>.json``) before showing them; a sibling that
    does not answer is counted from its file (what it last showed), and the supervisor
    moves a dead worker's file into ``retired.json``. Whatever a scrape showed, the
    next shows at least as much; counts a worker made after it was last shown and
    before it died are lost, as they are when a single process dies.
    """

    def __init__(self, app: FastAPI, index: int, count: int, group: int,
                 ledger: Path | None = None) -> None:  # fmt: skip
        self.app, self.index, self.count, self.group = app, index, count, group
        self.key = f"{index}-{os.getpid()}"
        self.ledger = ledger if ledger is not None and ledger.is_dir() else None
        """Made by the supervisor; without it, a sibling that does not answer is absent."""
        self.server: asyncio.AbstractServer | None = None
        self._last_kept = ""

    async def start(self) -> None:
        """Listen for siblings; without the socket (the name taken), this worker's
        counters are left out of its siblings' answers, which say so."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(sibling_address(self.group, self.index))
            sock.listen(16)
            sock.setblocking(False)
            self.server = await asyncio.start_unix_server(self._answer, sock=sock)
        except OSError as problem:
            sock.close()
            log.warning("worker %d cannot answer its siblings' /metrics: %s", self.index,
                        problem)  # fmt: skip

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def _own(self) -> list[dict[str, Any]]:
        """This worker's families, written to its ledger file first (see the class)."""
        registry = _registry(self.app)
        families = to_wire(registry.collect()) if registry is not None else []
        if self.ledger is not None:
            text = json.dumps(_kept(families))
            if text != self._last_kept:
                try:
                    _write(self.ledger / f"{self.key}.json", json.loads(text))
                    self._last_kept = text
                except OSError as problem:
                    log.warning("cannot write %s: %s", self.ledger, problem)
        return families

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if _same_user(writer.get_extra_info("socket")):
                answer = {"key": self.key, "families": self._own()}
                writer.write(json.dumps(answer).encode())
                await writer.drain()
        except (OSError, ValueError) as problem:
            log.debug("a sibling's /metrics request failed: %s", problem)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _ask(self, index: int) -> dict[str, Any] | None:
        """Sibling ``index``'s answer (``key``, ``families``), or ``None`` if it gives
        none in time."""
        sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(SIBLING_TIMEOUT):
                # connected here: uvloop's create_unix_connection takes no abstract name
                await asyncio.get_running_loop().sock_connect(
                    sock, sibling_address(self.group, index)
                )
                if not _same_user(sock):
                    return None
                reader, writer = await asyncio.open_unix_connection(sock=sock)
                sock = None  # the transport's now, closed with it
                try:
                    answer = json.loads(await reader.read())
                finally:
                    writer.close()
            return answer if isinstance(answer, dict) and "families" in answer else None
        except (OSError, TimeoutError, ValueError):
            return None
        finally:
            if sock is not None:
                sock.close()

    def _stand_ins(self, live: set[str]) -> tuple[list[list[dict[str, Any]]], set[str]]:
        """From the ledger, read whole under its lock: the counts of every worker that
        is neither this one nor answered (its file: what it last showed) and those of
        the retired; and the keys retired (a sibling that answered and was retired
        since is counted from there, once)."""
        if self.ledger is None:
            return [], set()
        try:
            with _locked(self.ledger, fcntl.LOCK_SH):
                retired = _read_retired(self.ledger)
                keys = set(retired["keys"])
                found = [retired["families"]]
                for path in self.ledger.glob("*-*.json"):
                    key = path.name.removesuffix(".json")
                    if key == self.key or key in keys or key in live:
                        continue
                    with contextlib.suppress(OSError, ValueError):
                        found.append(_kept(json.loads(path.read_text())))
        except OSError as problem:
            log.warning("cannot read %s: %s", self.ledger, problem)
            return [], set()
        return found, keys

    async def server_families(self, registry: Any) -> list[Metric]:
        """Every worker's families summed (see :func:`merge`): those that answered as
        they are now, this one's collected here, on the loop, after its siblings
        answered, and the others' from the ledger."""
        others = [index for index in range(self.count) if index != self.index]
        answers = await asyncio.gather(*(self._ask(index) for index in others))
        live = {index: got for index, got in zip(others, answers, strict=True) if got}
        snapshots = [(self.index, self._own())]
        stand_ins, retired = self._stand_ins({got["key"] for got in live.values()})
        snapshots += [(index, got["families"]) for index, got in live.items()
                      if got["key"] not in retired]  # fmt: skip
        counted = len(snapshots)
        snapshots.sort(key=lambda snapshot: snapshot[0])  # per-worker samples by index
        snapshots += [(-1, families) for families in stand_ins]  # sums only: no label
        merged = merge(snapshots)
        merged.append(GaugeMetricFamily(
            "plugtone_workers", "Worker processes of this plugtone serve (--workers)",
            value=self.count,
        ))  # fmt: skip
        merged.append(GaugeMetricFamily(
            "plugtone_workers_counted", "Workers whose counters this answer has as they "
            "are now (the others': as they last showed them)", value=counted,
        ))  # fmt: skip
        return merged


def _registry(app: FastAPI) -> CollectorRegistry | None:
    """The app's own registry (never the process-global one), made at the first scrape."""
    state = app.state
    registry = getattr(state, "metrics_registry", None)
    if registry is not None:
        return registry
    provisioner = getattr(state, "provisioner", None)
    if provisioner is None:
        return None
    from prometheus_client import ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    resync = getattr(state, "resync_counters", None)
    registry.register(PhoneSideCollector(provisioner, resync if callable(resync) else None))
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, resident memory...
    state.metrics_registry = registry
    return registry
