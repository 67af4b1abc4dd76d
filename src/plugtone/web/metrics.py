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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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

PATH = "/metrics"

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
    async def metrics(request: Request) -> Response:
        settings = request.app.state.settings
        if not getattr(settings, "metrics_public", False):
            # the token is a database look-up: off the loop the phones share
            await run_in_threadpool(current_actor, request)
        registry = _registry(request.app)
        if registry is None:
            return problem(503, "the metrics live in the plugtone serve that runs the phone "
                           "listeners, and this admin app runs without them")  # fmt: skip
        # Collected on the event loop, where the phone listeners update the counters.
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


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
