"""``GET /metrics`` on a real ``plugtone serve``, read as Prometheus reads it.

The phones' requests are made with httpx and the real ``tftp`` client; the scrape is
parsed with prometheus-client's own parser and must count exactly those requests (by
transport, vendor and status), time the transfers, and count the render cache's misses
and hits. /metrics lives on the admin listener only, and needs the API token unless
``metrics_public = true``.
"""

from __future__ import annotations

import subprocess
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningServer, need, run_cli, start_server, stop_server

ADMIN_PASSWORD = "admin password for metrics tests"
SIP_SECRET = "Metrics-Sip-Pw-5150"
INVENTORY = f"""
sites:
  - {{name: hq, sip_server: 10.100.2.127, timezone: America/Los_Angeles}}
extensions:
  - {{number: "3003", site: hq, name: John 3003, password: "{SIP_SECRET}"}}
phones:
  - {{mac: "00:08:5D:00:00:01", model: 6757i, site: hq, lines: ["3003"]}}
"""
PHONE_FILE = "00085D000001.cfg"


def serve_with_inventory(data, monkeypatch, **servers) -> tuple[RunningServer, str]:
    """A server with the admin listener, this module's inventory and an admin token."""
    monkeypatch.setenv("PLUGTONE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    running = start_server(data, admin=True, **servers)
    inventory = data / "inventory.yaml"
    inventory.write_text(INVENTORY)
    run_cli("apply", str(inventory), data=data)
    token = run_cli("token", "create", "--user", "admin", data=data).stdout.strip()
    return running, token


def scrape(server: RunningServer, token: str | None) -> dict[str, dict]:
    """Every sample of one scrape: family name -> {(sample name, labels): value}."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(f"{server.admin_base}/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    families: dict[str, dict] = {}
    for family in text_string_to_metric_families(answer.text):
        samples = families.setdefault(family.name, {})
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return families


def requests_by_label(families: dict[str, dict]) -> dict[tuple[str, str, str], float]:
    """``plugtone_requests_total`` as (transport, vendor, status) -> count."""
    found = {}
    for (name, labels), value in families["plugtone_requests"].items():
        assert name == "plugtone_requests_total"
        label = dict(labels)
        found[(label["transport"], label["vendor"], label["status"])] = value
    return found


def difference(after: dict, before: dict) -> dict:
    """What changed between two scrapes' request counts (zeros left out)."""
    changed = {key: after[key] - before.get(key, 0) for key in after}
    return {key: value for key, value in changed.items() if value}


def single(families: dict[str, dict], name: str) -> float:
    (value,) = families[name].values()
    return value


def tftp_get(server: RunningServer, name: str, output) -> subprocess.CompletedProcess:
    return subprocess.run(
        [need("tftp"), "127.0.0.1", str(server.tftp_port), "-m", "octet", "-c", "get", name,
         str(output)], capture_output=True, text=True, timeout=20,
    )  # fmt: skip


def test_metrics_count_the_requests_made(tmp_path, monkeypatch):
    server, token = serve_with_inventory(tmp_path / "data", monkeypatch, tftp=True)
    try:
        # The start-up probes of start_server are phone requests too: counted from here.
        before = scrape(server, token)
        base = requests_by_label(before)

        first = httpx.get(f"{server.base}/{PHONE_FILE}", timeout=10)
        assert first.status_code == 200 and SIP_SECRET in first.text
        rendered = scrape(server, token)
        misses = "plugtone_render_cache_misses"
        hits = "plugtone_render_cache_hits"
        assert single(rendered, misses) == single(before, misses) + 1
        assert single(rendered, hits) == single(before, hits)

        again = httpx.get(f"{server.base}/{PHONE_FILE}", timeout=10)
        assert again.content == first.content
        cached = scrape(server, token)
        assert single(cached, hits) == single(before, hits) + 1
        assert single(cached, misses) == single(rendered, misses)

        assert httpx.get(f"{server.base}/no-such-file.txt", timeout=10).status_code == 404
        assert tftp_get(server, PHONE_FILE, tmp_path / "got.cfg").returncode == 0
        assert (tmp_path / "got.cfg").read_bytes() == first.content
        tftp_get(server, "no-such-file.txt", tmp_path / "missing")  # tftp-hpa exits 0 anyway

        after = scrape(server, token)
        assert difference(requests_by_label(after), base) == {
            ("http", "aastra", "ok"): 2,
            ("http", "", "not_found"): 1,
            ("tftp", "aastra", "ok"): 1,
            ("tftp", "", "not_found"): 1,
        }

        durations = after["plugtone_transfer_duration_seconds"]
        for transport, sent in (("http", 2), ("tftp", 1)):
            label = (("transport", transport),)
            count = durations[("plugtone_transfer_duration_seconds_count", label)]
            assert count == sent
            buckets = sorted(
                (float(dict(labels)["le"]), value)
                for (name, labels), value in durations.items()
                if name.endswith("_bucket") and dict(labels)["transport"] == transport
            )
            assert buckets[-1] == (float("inf"), count)
            assert [value for _, value in buckets] == sorted(value for _, value in buckets)
            assert 0 < durations[("plugtone_transfer_duration_seconds_sum", label)] < 20

        assert single(after, "plugtone_tftp_active_transfers") == 0
        assert single(after, "plugtone_security_alerts") == 0  # the sweep guard's counters
        assert single(after, "plugtone_inventory_generation") >= 1
        deadline = time.monotonic() + 5  # the event log is written in batches
        while single(scrape(server, token), "plugtone_events_written") < 4:
            assert time.monotonic() < deadline, "events were never written"
            time.sleep(0.1)
        assert "process_resident_memory_bytes" in after
        assert (
            SIP_SECRET
            not in httpx.get(
                f"{server.admin_base}/metrics", headers={"Authorization": f"Bearer {token}"}
            ).text
        )

        # Phone side and admin side stay apart; and without a token nothing is shown.
        assert httpx.get(f"{server.base}/metrics", timeout=10).status_code == 404
        assert httpx.get(f"{server.admin_base}/metrics", timeout=10).status_code == 401
        wrong = {"Authorization": "Bearer pt_not-a-token"}
        assert httpx.get(f"{server.admin_base}/metrics", headers=wrong).status_code == 401
        # No request line is logged unless --log-requests asks for it.
        assert "plugtone.requests" not in (server.data / "serve.log").read_text()
    finally:
        stop_server(server)


def test_metrics_public_needs_no_token(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "plugtone.toml").write_text("metrics_public = true\n")  # init keeps the file
    server, _ = serve_with_inventory(data, monkeypatch)
    try:
        assert httpx.get(f"{server.base}/{PHONE_FILE}", timeout=10).status_code == 200
        families = scrape(server, None)
        assert requests_by_label(families)[("http", "aastra", "ok")] == 1
        assert httpx.get(f"{server.base}/metrics", timeout=10).status_code == 404
        # the API itself still needs its token
        assert httpx.get(f"{server.admin_base}/api/phones", timeout=10).status_code == 401
    finally:
        stop_server(server)
