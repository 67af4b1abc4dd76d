"""``/api/rcs`` in process (the admin app over a real store, Starlette's test client):
account-scoped tokens, an idempotent PUT, bulk outcomes, the CSV import, tenancy."""

from __future__ import annotations

import shutil

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from plugtone.inventory.store import Store, migrate
from plugtone.redirect import services as rcs
from plugtone.services.accounts import create_token, ensure_first_admin
from plugtone.services.actors import local_admin
from plugtone.settings import load_settings
from plugtone.vendors import default_registry
from plugtone.web.app import create_admin_app


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    path = tmp_path_factory.mktemp("rcs-api")
    store = Store(f"sqlite:///{path}/rcs.db", data_dir=path)
    migrate(store.engine)
    ensure_first_admin(store, "admin password 1")
    store.dispose()
    return path / "rcs.db"


@pytest.fixture
def api(migrated, tmp_path, monkeypatch):
    monkeypatch.setattr(rcs, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    shutil.copy(migrated, tmp_path / "rcs.db")
    url = f"sqlite:///{tmp_path}/rcs.db"
    store = Store(url, data_dir=tmp_path)
    app = create_admin_app(store, default_registry(), load_settings(str(tmp_path), url))
    admin_token, _ = create_token(store, local_admin(), "admin")
    client = TestClient(app, base_url="http://admin")
    admin = {"Authorization": f"Bearer {admin_token}"}
    for name in ("acme", "other"):
        assert (
            client.post("/api/rcs/accounts", json={"name": name}, headers=admin).status_code == 201
        )
    tokens = {}
    for name in ("acme", "other"):
        made = client.post(f"/api/rcs/tokens?account={name}", json={"role": "super"},
                           headers=admin)  # fmt: skip
        assert made.status_code == 201 and made.json()["token"].startswith("rcs_")
        tokens[name] = {"Authorization": f"Bearer {made.json()['token']}"}
    yield client, admin, tokens
    client.close()
    store.dispose()


def test_put_is_idempotent_and_scoped_to_the_account(api):
    client, admin, tokens = api
    acme, other = tokens["acme"], tokens["other"]
    assert client.post("/api/rcs/servers", json={"name": "prov", "url": "https://p.example/"},
                       headers=acme).status_code == 201  # fmt: skip
    first = client.put("/api/rcs/phones/00:08:5d:00:00:01", json={"server": "prov"}, headers=acme)
    assert first.status_code == 201 and first.json()["server"] == "prov"
    again = client.put("/api/rcs/phones/00085D000001", json={"server": "prov"}, headers=acme)
    assert again.status_code == 200 and again.json() == first.json()
    held = client.put("/api/rcs/phones/00085D000001", json={}, headers=other)
    assert held.status_code == 409 and "acme" not in held.text
    assert held.headers["content-type"] == "application/problem+json"
    assert client.get("/api/rcs/phones/00085D000001", headers=other).status_code == 404
    assert client.get("/api/rcs/phones", headers=other).json()["items"] == []
    # another account's name through an account token is "no such account"
    assert client.get("/api/rcs/phones?account=acme", headers=other).status_code == 404
    # a plugtone admin reaches any account it names
    seen = client.get("/api/rcs/phones?account=acme", headers=admin).json()["items"]
    assert [p["mac"] for p in seen] == ["00085D000001"]
    assert client.get("/api/rcs/phones", headers=admin).status_code == 422
    assert client.get("/api/rcs/phones").status_code == 401
    assert client.get("/api/rcs/phones", headers={"Authorization": "Bearer rcs_nope"}
                      ).status_code == 401  # fmt: skip


def test_bulk_calls_answer_per_mac(api):
    client, _, tokens = api
    acme = tokens["acme"]
    client.post("/api/rcs/servers", json={"name": "prov", "url": "http://p/"}, headers=acme)
    body = {"macs": ["00085D000001", "bogus", "00085D000002"], "server": None}
    refused = client.post("/api/rcs/phones/bulk", json=body, headers=acme).json()
    assert [i["outcome"] for i in refused["items"]] == ["added", "refused", "added"]
    assert (refused["accepted"], refused["refused"]) == (2, 1)
    assert client.get("/api/rcs/phones", headers=acme).json()["items"] == []  # none-or-all
    done = client.post("/api/rcs/phones/bulk", json={**body, "partial": True}, headers=acme)
    assert done.json()["accepted"] == 2
    unaffiliated = client.get("/api/rcs/phones?unaffiliated=true", headers=acme).json()["items"]
    assert len(unaffiliated) == 2
    assigned = client.post("/api/rcs/phones/bulk", json={
        "macs": [p["mac"] for p in unaffiliated], "server": "prov"}, headers=acme).json()  # fmt: skip
    assert [i["outcome"] for i in assigned["items"]] == ["updated", "updated"]
    stats = client.get("/api/rcs/stats", headers=acme).json()
    assert (stats["registered"], stats["unaffiliated"]) == (2, 0)
    assert stats["servers"] == [{"name": "prov", "phones": 2, "redirected": 0, "contacts_day": 0}]
    gone = client.post("/api/rcs/phones/bulk-delete", json={"macs": ["00085D000002"]},
                       headers=acme).json()  # fmt: skip
    assert gone["items"][0]["outcome"] == "deleted"
    audit = client.get("/api/rcs/audit?mac=00085D000002", headers=acme).json()["items"]
    assert [a["action"] for a in audit] == ["delete", "move", "create"]


def test_csv_import_and_bad_input(api):
    client, _, tokens = api
    acme = tokens["acme"]
    client.post("/api/rcs/servers", json={"name": "prov", "url": "http://p/"}, headers=acme)
    sheet = "\n".join(f"00085D{n:06X}" for n in range(1, 6)) + "\nnot-a-mac\n"
    report = client.post("/api/rcs/phones/import?server=prov", content=sheet.encode(),
                         headers={**acme, "Content-Type": "text/csv"}).json()  # fmt: skip
    assert [i["outcome"] for i in report["items"]] == ["skipped"] * 5 + ["refused"]
    assert report["items"][5]["row"] == 6
    report = client.post("/api/rcs/phones/import?server=prov&partial=true",
                         content=sheet.encode(), headers=acme).json()  # fmt: skip
    assert report["accepted"] == 5
    long_name = client.post("/api/rcs/servers", json={"name": "n" * 21, "url": "http://p/"},
                            headers=acme)  # fmt: skip
    assert long_name.status_code == 422 and "at most 20 characters" in long_name.text
    scheme = client.post("/api/rcs/servers", json={"name": "x", "url": "gopher://p/"},
                         headers=acme)  # fmt: skip
    assert scheme.status_code == 422 and "gopher" in scheme.text
    moved = client.patch("/api/rcs/servers/prov", json={"url": "https://new.example/"},
                         headers=acme).json()  # fmt: skip
    assert moved["phones"] == 5


def test_user_tokens_cannot_edit_brandings(api):
    client, _, tokens = api
    made = client.post("/api/rcs/tokens", json={"role": "user"}, headers=tokens["acme"]).json()
    user = {"Authorization": f"Bearer {made['token']}"}
    body = {"settings": {"aastra": {"web interface title": "Acme"}}}
    assert client.put("/api/rcs/brandings/look", json=body, headers=user).status_code == 403
    assert (
        client.put("/api/rcs/brandings/look", json=body, headers=tokens["acme"]).status_code == 200
    )
    assert client.get("/api/rcs/brandings", headers=user).json()["items"][0]["name"] == "look"
    assert client.post("/api/rcs/tokens", json={"role": "super"}, headers=user).status_code == 403


def test_the_openapi_document_has_the_rcs_paths(api):
    client, _, _ = api
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/rcs/phones/{mac}", "/api/rcs/phones/bulk", "/api/rcs/stats"} <= set(paths)
    assert "put" in paths["/api/rcs/phones/{mac}"]
