"""CSV sheets through the REST API (multipart), as a script or the web UI sends them:
the same checks, report and all-or-none rule as ``plugtone import``."""

from __future__ import annotations

from tests.test_api import api  # noqa: F401 - the running-server fixture

SITES = {"name": "hq", "sip_server": "10.0.0.1"}
SECRET = "Sheet-Secret-31"


def sheet(bad_row: int | None = None) -> bytes:
    rows = ["mac;model;site;line1"]
    for n in range(1, 51):
        model = "6799x" if n + 1 == bad_row else "6757i"  # row 1 is the header
        rows.append(f"00:08:5D:00:10:{n:02X};{model};hq;")
    return ("\ufeff" + "\r\n".join(rows) + "\r\n").encode()


def test_a_sheet_of_50_phones_with_one_bad_row(api):  # noqa: F811
    with api.client() as client:
        assert client.post("/api/sites", json=SITES).status_code == 201
        files = {"file": ("phones.csv", sheet(bad_row=27), "text/csv")}
        dry = client.post("/api/import", files=files, data={"dry_run": "true"})
        assert dry.status_code == 200, dry.text
        report = dry.json()
        assert not report["accepted"] and report["totals"]["error"] == 1
        (problem,) = report["problems"]
        assert (problem["row"], problem["column_name"]) == (27, "model")
        assert problem["where"].startswith("phones.csv:27:2")

        refused = client.post("/api/import", files=files).json()
        assert not refused["accepted"] and "nothing was imported" in refused["summary"]
        assert client.get("/api/phones").json()["items"] == []

        done = client.post("/api/import", files=files, data={"partial": "true"}).json()
        assert done["accepted"] and done["totals"]["created"] == 49
        assert len(client.get("/api/phones", params={"limit": 100}).json()["items"]) == 49

        extensions = f"number,site,password\n3003,hq,{SECRET}\n".encode()
        answer = client.post("/api/import", files={"file": ("ext.csv", extensions)})
        assert answer.json()["totals"]["created"] == 1 and SECRET not in answer.text

    viewer = api.token_for("vic", "viewer")
    with api.client(viewer) as client:
        denied = client.post("/api/import", files={"file": ("phones.csv", sheet())})
        assert denied.status_code == 403
        assert denied.headers["content-type"].startswith("application/problem+json")
    assert SECRET not in api.log()
