"""``GET /metrics`` of ``plugtone serve --workers 2``: one scrape counts the whole server.

Phones' requests are made with httpx (a new connection each, so the kernel spreads
them over both workers) and curl's TFTP client (from two addresses, steered to the two
workers); each worker's own counters (``?scope=worker``) show that both served, and
every scrape of the shared admin port, whichever worker answers it, must count all of
them exactly, parsed with prometheus-client's own parser. What means something only per
process comes labelled by worker. A killed worker's counts stay in the sums while it
is down and after it is started again. The merge is checked on hand-made families.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections import defaultdict

import httpx
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from pytest import approx

from plugtone.servers.workers import WORKER_HEADER
from plugtone.web.metrics import merge, to_wire
from tests.conftest import need
from tests.serve_processes import AASTRA_AGENT, AASTRA_FILE, make_data, serve

HTTP_REQUESTS = 60
MISSING = 9
TFTP_EACH = 6
TIMEOUT = 20


def scrape(admin: str, scope: str = "server") -> tuple[int, dict[str, dict]]:
    """One scrape: the answering worker's index, and family -> {(sample, labels): value}."""
    answer = httpx.get(f"{admin}/metrics?scope={scope}", timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    families: dict[str, dict] = {}
    for family in text_string_to_metric_families(answer.text):
        samples = families.setdefault(family.name, {})
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return int(answer.headers[WORKER_HEADER].split()[0]), families


def requests(families: dict[str, dict]) -> dict[tuple[str, str], float]:
    """``plugtone_requests_total`` by (transport, status), the vendors added up."""
    found: dict[tuple[str, str], float] = defaultdict(float)
    for (_, labels), value in families["plugtone_requests"].items():
        label = dict(labels)
        found[(label["transport"], label["status"])] += value
    return dict(found)


def durations(families: dict[str, dict]) -> dict[tuple[str, str], float]:
    """``plugtone_transfer_duration_seconds``: (transport, le or count/sum) -> value."""
    found = {}
    for (name, labels), value in families["plugtone_transfer_duration_seconds"].items():
        label = dict(labels)
        found[(label["transport"], label.get("le", name.rsplit("_", 1)[-1]))] = value
    return found


def each_worker(admin: str) -> dict[int, dict[str, dict]]:
    """Both workers' own counters (scrape until each has answered)."""
    found: dict[int, dict[str, dict]] = {}
    for _ in range(200):
        index, families = scrape(admin, "worker")
        found[index] = families
        if len(found) == 2:
            return found
    raise AssertionError(f"only workers {sorted(found)} answered 200 scrapes")


def test_one_scrape_of_the_shared_admin_port_counts_every_workers_requests(tmp_path):
    curl = need("curl")
    data = make_data(tmp_path / "data")
    served = serve(data, workers=2, tftp=True)
    try:
        _, before = scrape(served.admin)
        base = requests(before)
        for _ in range(HTTP_REQUESTS):
            answer = httpx.get(f"{served.base}/{AASTRA_FILE}", timeout=TIMEOUT,
                               headers={"User-Agent": AASTRA_AGENT})  # fmt: skip
            assert answer.status_code == 200
        for number in range(MISSING):
            assert httpx.get(f"{served.base}/missing-{number}.txt").status_code == 404
        for client in ("127.0.0.1", "127.0.0.2"):  # steered to one worker each
            for _ in range(TFTP_EACH):
                subprocess.run([curl, "-s", "--max-time", str(TIMEOUT), "--interface", client,
                                f"tftp://127.0.0.1:{served.tftp_port}/aastra.cfg"],
                               capture_output=True, check=True)  # fmt: skip
        made = {
            ("http", "ok"): HTTP_REQUESTS,
            ("http", "not_found"): MISSING,
            ("tftp", "ok"): 2 * TFTP_EACH,
        }

        own = each_worker(served.admin)
        shares: dict[tuple[str, str], list[float]] = defaultdict(list)
        for _, families in sorted(own.items()):
            for key, value in requests(families).items():
                shares[key].append(value)
        assert all(len(shares[key]) == 2 and min(shares[key]) > 0 for key in made), shares

        answered = set()
        for _ in range(30):  # whichever worker answers, the same totals
            index, families = scrape(served.admin)
            answered.add(index)
            totals = requests(families)
            assert {key: totals.get(key, 0) - base.get(key, 0) for key in made} == made
            assert totals == {key: sum(value) for key, value in shares.items()}
            timed = durations(families)
            assert timed[("http", "count")] == sum(
                durations(each)[("http", "count")] for each in own.values()
            )
            assert timed[("http", "+Inf")] == timed[("http", "count")]
            assert timed[("tftp", "count")] == 2 * TFTP_EACH
            assert families["plugtone_workers"] == {("plugtone_workers", ()): 2}
            assert families["plugtone_workers_counted"] == {("plugtone_workers_counted", ()): 2}
            assert families["plugtone_tftp_active_transfers"] == {
                ("plugtone_tftp_active_transfers", ()): 0
            }
            for per_process in ("plugtone_inventory_generation", "process_resident_memory_bytes"):
                labels = [dict(labels) for _, labels in families[per_process]]
                assert sorted(label["worker"] for label in labels) == ["0", "1"]
        assert answered == {0, 1}
        assert httpx.get(f"{served.admin}/metrics?scope=host").status_code == 400

        # A killed worker's counts stay in the sums, while it is down and once it is
        # started again (counting from zero): a sum that drops would read as a reset.
        shown = requests(families)
        os.kill(served.worker_pids[1], signal.SIGKILL)
        counted = []
        while not counted or counted[-1] < 2:
            try:
                index, families = scrape(served.admin)
            except httpx.TransportError:  # the port is shared: a worker may be starting
                continue
            assert requests(families) == shown
            counted.append(families["plugtone_workers_counted"][("plugtone_workers_counted", ())])
        assert 1 in counted, counted  # scrapes answered while worker 1 was down
        assert "worker 1" in served.output() and (data / "run").is_dir()
        for _ in range(HTTP_REQUESTS):
            httpx.get(f"{served.base}/{AASTRA_FILE}", headers={"User-Agent": AASTRA_AGENT})
        for _ in range(10):
            _, families = scrape(served.admin)
            expected = {**shown, ("http", "ok"): shown[("http", "ok")] + HTTP_REQUESTS}
            assert requests(families) == expected
    finally:
        served.stop()
    assert not list((data / "run").iterdir())  # the supervisor's ledger goes with it


def test_merge_sums_what_adds_up_and_labels_what_is_per_process():
    def worker(hits: int, active: int, seconds: list[float], generation: int):
        requests = CounterMetricFamily("plugtone_requests", "r", labels=("transport",))
        requests.add_metric(("http",), hits)
        if hits > 5:
            requests.add_metric(("tftp",), 1)
        timed = HistogramMetricFamily("plugtone_transfer_duration_seconds", "d",
                                      labels=("transport",))  # fmt: skip
        buckets = [("0.1", sum(s <= 0.1 for s in seconds)), ("+Inf", len(seconds))]
        timed.add_metric(("http",), buckets, sum(seconds))
        return to_wire([
            requests, timed,
            GaugeMetricFamily("plugtone_tftp_active_transfers", "a", value=active),
            GaugeMetricFamily("plugtone_inventory_generation", "g", value=generation),
            GaugeMetricFamily("process_resident_memory_bytes", "m", value=1000 + hits),
        ])  # fmt: skip

    merged = {family.name: family for family in merge([(0, worker(3, 2, [0.05, 0.5], 7)),
                                                       (1, worker(9, 1, [0.01], 8))])}  # fmt: skip
    samples = {name: {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
               for name, family in merged.items()}  # fmt: skip
    assert samples["plugtone_requests"] == {
        ("plugtone_requests_total", (("transport", "http"),)): 12,
        ("plugtone_requests_total", (("transport", "tftp"),)): 1,
    }
    assert samples["plugtone_transfer_duration_seconds"] == {
        ("plugtone_transfer_duration_seconds_bucket", (("le", "0.1"), ("transport", "http"))): 2,
        ("plugtone_transfer_duration_seconds_bucket", (("le", "+Inf"), ("transport", "http"))): 3,
        ("plugtone_transfer_duration_seconds_count", (("transport", "http"),)): 3,
        ("plugtone_transfer_duration_seconds_sum", (("transport", "http"),)): approx(0.56),
    }
    assert samples["plugtone_tftp_active_transfers"] == {("plugtone_tftp_active_transfers", ()): 3}
    assert samples["plugtone_inventory_generation"] == {
        ("plugtone_inventory_generation", (("worker", "0"),)): 7,
        ("plugtone_inventory_generation", (("worker", "1"),)): 8,
    }
    assert samples["process_resident_memory_bytes"] == {
        ("process_resident_memory_bytes", (("worker", "0"),)): 1003,
        ("process_resident_memory_bytes", (("worker", "1"),)): 1009,
    }
    assert [family.type for family in merged.values()] == [
        "counter", "histogram", "gauge", "gauge", "gauge"
    ]  # fmt: skip
