"""``GET /api/security/counters``: the sweep defence's counters, from the serve that runs the
phone listeners, as an admin's monitoring would read them."""

from __future__ import annotations

import httpx

from .conftest import EXAMPLE, run_cli, stop_server
from .test_api import start_api


def test_counters_count_what_strangers_did(tmp_path, monkeypatch):
    api = start_api(tmp_path / "data", monkeypatch, trusted=False)
    try:
        run_cli("apply", str(EXAMPLE), data=api.server.data)
        client = api.client()
        before = client.get("/api/security/counters")
        assert before.status_code == 200, before.text
        assert before.json()["counters"]["stranger_answers"] == 0
        for mac in ("00085D000001", "00085D0000AA", "00085D0000AB"):  # a phone, two unknowns
            assert httpx.get(f"{api.server.base}/{mac}.cfg").status_code == 401
        counters = client.get("/api/security/counters").json()["counters"]
        assert counters["stranger_answers"] == 3
        assert counters["unknown_macs"] == 2
        assert counters["alerts"] == counters["blocked"] == 0
        anonymous = httpx.get(f"{api.server.admin_base}/api/security/counters")
        assert anonymous.status_code == 401  # no token
    finally:
        stop_server(api.server)
