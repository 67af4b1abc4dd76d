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
the supervisor's pid and the worker's index: nothing on disk to clean up, no path
length limit, and each end checks the other runs as the same user) and answers a
sibling's connection with a snapshot of its families, collected on its own loop. The
answering worker asks every sibling at once, adds their samples to its own
(counters, histograms' buckets, sums and counts, and gauges such as active transfers
and pending events) and labels with ``worker="<index>"`` what only means anything per
process (:func:`per_process`: ``process_*``, the inventory generation). The
``plugtone_workers`` and ``plugtone_workers_counted`` gauges say how many there are
and how many this answer sums (one starting again is missing: its share is absent, and
a worker started again counts from zero, which Prometheus' ``rate`` reads as a
reset). ``GET /metrics?scope=worker`` answers with the answering worker's own counters
alone, as before. A scrape costs a connection and a few kilobytes of JSON per
sibling; the phones pay nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
from collections.abc import Callable, Iterable, Iterator
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


class WorkerMetrics:
    """One worker's part in answering ``/metrics`` for all: it answers its siblings
    with its families (:meth:`start`) and asks them for theirs
    (:meth:`server_families`)."""

    def __init__(self, app: FastAPI, index: int, count: int, group: int) -> None:
        self.app, self.index, self.count, self.group = app, index, count, group
        self.server: asyncio.AbstractServer | None = None

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

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if _same_user(writer.get_extra_info("socket")):
                registry = _registry(self.app)
                families = to_wire(registry.collect()) if registry is not None else []
                writer.write(json.dumps(families).encode())
                await writer.drain()
        except (OSError, ValueError) as problem:
            log.debug("a sibling's /metrics request failed: %s", problem)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _ask(self, index: int) -> list[dict[str, Any]] | None:
        """Sibling ``index``'s families, or ``None`` if it does not answer in time."""
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
                    return json.loads(await reader.read())
                finally:
                    writer.close()
        except (OSError, TimeoutError, ValueError):
            return None
        finally:
            if sock is not None:
                sock.close()

    async def server_families(self, registry: Any) -> list[Metric]:
        """Every live worker's families summed (see :func:`merge`), this one's
        collected here, on the loop, after its siblings answered."""
        others = [index for index in range(self.count) if index != self.index]
        answers = await asyncio.gather(*(self._ask(index) for index in others))
        snapshots = [(self.index, to_wire(registry.collect()))]
        snapshots += [(index, got) for index, got in zip(others, answers, strict=True) if got]
        merged = merge(sorted(snapshots, key=lambda snapshot: snapshot[0]))  # by index
        merged.append(GaugeMetricFamily(
            "plugtone_workers", "Worker processes of this plugtone serve (--workers)",
            value=self.count,
        ))  # fmt: skip
        merged.append(GaugeMetricFamily(
            "plugtone_workers_counted", "Workers whose counters this answer sums (fewer "
            "than plugtone_workers while one starts again or does not answer)",
            value=len(snapshots),
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
