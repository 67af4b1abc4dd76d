"""The admin API end to end: a real ``plugtone serve``, driven with httpx.

The server runs as ``plugtone serve`` does in production (a subprocess, the admin
listener on its own port); tokens come from ``plugtone token create``. What is
checked is what an admin relies on: a change made through the API is what phones are
served, every change is audited with no password in the log, roles and tokens are
enforced, bad input is refused with a problem document and changes nothing, and no
password reaches a response or the server's output.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from plugtone.services.unit_of_work import MASK
from tests.conftest import RunningServer, run_cli, start_server, stop_server

ADMIN_PASSWORD = "admin password for tests"
SIP_SECRET = "Sip-Secret-4711"
UA = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"
PROBLEM = "application/problem+json"

SITE = {"name": "hq", "sip_server": "10.100.2.127", "timezone": "America/Los_Angeles"}
EXTENSION = {"number": "3003", "site": "hq", "name": "John 3003", "password": SIP_SECRET}
PHONE = {"mac": "00-08-5d-00-00-01", "model": "6757i", "site": "hq", "lines": ["3003"]}


@dataclass
class Api:
    server: RunningServer
    token: str

    def client(self, token: str | None = None, headers: dict | None = None) -> httpx.Client:
        """A client with ``token`` (default: the admin's), or with exactly ``headers``."""
        if headers is None:
            headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.server.admin_base, headers=headers, timeout=30,
                            verify=False)  # fmt: skip

    def token_for(self, user: str, role: str) -> str:
        secret = self.server.data / f"{user}.pw"
        secret.write_text(f"{user} password 1\n")
        run_cli("user", "add", user, "--role", role, "--password-file", str(secret),
                data=self.server.data)  # fmt: skip
        return run_cli("token", "create", "--user", user, data=self.server.data).stdout.strip()

    def log(self) -> str:
        return (self.server.data / "serve.log").read_text()


def start_api(data, monkeypatch, **servers) -> Api:
    """``plugtone init`` (through ``start_server``) makes the first admin with the
    password from the environment, as an installer would; then a token for it."""
    monkeypatch.setenv("PLUGTONE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    running = start_server(data, admin=True, **servers)
    token = run_cli("token", "create", "--user", "admin", data=data).stdout.strip()
    assert token.startswith("pt_")
    return Api(running, token)


@pytest.fixture
def api(tmp_path, monkeypatch) -> Iterator[Api]:
    started = start_api(tmp_path / "data", monkeypatch)
    yield started
    stop_server(started.server)


def created(api: Api) -> httpx.Client:
    """A client of ``api`` after the site, extension and phone were created."""
    client = api.client()
    for path, body in (("/api/sites", SITE), ("/api/extensions", EXTENSION),
                       ("/api/phones", PHONE)):  # fmt: skip
        answer = client.post(path, json=body)
        assert answer.status_code == 201, answer.text
    return client


def served_config(api: Api, wanted: str, timeout: float = 5.0) -> str:
    """The phone's ``<MAC>.cfg`` from the phone-facing port once it holds ``wanted``
    (the resolver looks at the inventory generation twice a second)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        answer = httpx.get(f"{api.server.base}/00085D000001.cfg", headers={"User-Agent": UA})
        text = answer.text if answer.status_code == 200 else ""
        if wanted in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{wanted!r} never served; last answer: {text[:300]!r}")


def assert_problem(answer: httpx.Response, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    assert "Traceback" not in answer.text
    return body


def test_an_admin_creates_a_phone_that_is_then_served_its_account_and_all_is_audited(api):
    client = created(api)
    phone = client.get("/api/phones/00085d000001")
    assert phone.status_code == 200
    assert phone.json() == {**PHONE, "mac": "00:08:5D:00:00:01"}
    assert client.get("/api/phones", params={"site": "hq"}).json()["items"] == [phone.json()]
    config = served_config(api, SIP_SECRET)
    assert "sip line1 auth name: 3003" in config
    assert f"sip line1 password: {SIP_SECRET}" in config

    audit = client.get("/api/audit", params={"actor": "admin"})
    assert audit.status_code == 200
    rows = audit.json()["items"]
    trail = [(row["action"], row["kind"], row["key"], row["via"]) for row in reversed(rows)]
    assert trail == [
        ("create", "site", "hq", "api"),
        ("create", "extension", "hq/3003", "api"),
        ("create", "phone", "00085D000001", "api"),
    ]
    extension_row = next(row for row in rows if row["kind"] == "extension")
    assert extension_row["after"]["password"] == MASK
    everything = client.get("/api/audit", params={"limit": 1000}).text
    assert SIP_SECRET not in everything
    assert SIP_SECRET not in api.log() and "Traceback" not in api.log()


def test_a_read_modify_write_round_trip_keeps_the_password(api):
    client = created(api)
    read = client.get("/api/sites/hq/extensions/3003")
    assert read.json()["password"] == MASK and SIP_SECRET not in read.text
    changed = {**read.json(), "name": "Reception"}
    answer = client.put("/api/sites/hq/extensions/3003", json=changed)
    assert answer.status_code == 200, answer.text
    assert [c["details"] for c in answer.json()["changes"]] == [
        ["name: 'John 3003' -> 'Reception'"]
    ]
    whole = client.get("/api/inventory")
    assert SIP_SECRET not in whole.text
    again = client.put("/api/inventory", json=whole.json())
    assert again.status_code == 200 and again.json()["changes"] == []
    config = served_config(api, "Reception")
    assert SIP_SECRET in config
    patched = client.patch("/api/phones/00:08:5D:00:00:01", json={"description": "Lobby"})
    assert patched.status_code == 200 and patched.json()["changes"][0]["kind"] == "phone"
    assert client.get("/api/phones", params={"q": "lob"}).json()["items"][0]["mac"] == (
        "00:08:5D:00:00:01"
    )
    shown = client.get("/api/sites/hq/extensions/3003", params={"secrets": "true"})
    assert shown.json()["password"] == SIP_SECRET
    disclosures = client.get("/api/audit", params={"kind": "disclosure"}).json()["items"]
    assert [(row["key"], row["actor"]) for row in disclosures] == [("extension hq/3003", "admin")]


def test_a_viewer_reads_but_every_change_is_refused_and_changes_nothing(api):
    client = created(api)
    viewer = api.client(api.token_for("val", "viewer"))
    before = client.get("/api/inventory").json()
    assert viewer.get("/api/me").json() == {"name": "val", "role": "viewer"}
    assert viewer.get("/api/phones/00085D000001").status_code == 200
    assert viewer.get("/api/sites/hq/extensions/3003").json()["password"] == MASK
    attempts = [
        viewer.put("/api/phones/00085D000001", json={**PHONE, "site": "hq", "lines": []}),
        viewer.patch("/api/sites/hq/extensions/3003", json={"password": "stolen-1"}),
        viewer.post("/api/sites", json={"name": "other", "sip_server": "10.0.0.9"}),
        viewer.delete("/api/phones/00085D000001"),
        viewer.delete("/api/sites/hq/extensions/3003"),
        viewer.put("/api/inventory", json={"sites": [{"name": "x", "sip_server": "10.0.0.1"}]}),
        viewer.put("/api/sites/hq/contacts", json=[{"name": "Op", "number": "0"}]),
        viewer.get("/api/sites/hq/extensions/3003", params={"secrets": "true"}),
        viewer.get("/api/audit"),
        viewer.get("/api/users"),
        viewer.post("/api/tokens", json={"user": "admin"}),
    ]
    for answer in attempts:
        assert_problem(answer, 403)
        assert SIP_SECRET not in answer.text
    assert client.get("/api/inventory").json() == before
    rows = client.get("/api/audit").json()["items"]
    assert [row["actor"] for row in rows if row["via"] == "api"] == ["admin"] * 3
    served_config(api, SIP_SECRET)


def test_no_token_an_unknown_or_a_revoked_one_is_401(api):
    revoked = api.token_for("ops", "operator")
    run_cli("token", "revoke", revoked[:9], data=api.server.data)
    for headers in ({}, {"Authorization": "Bearer pt_not-a-token"},
                    {"Authorization": "Basic YWRtaW46cGFzc3dvcmQ="},
                    {"Authorization": f"Bearer {revoked}"}, {"Authorization": "Bearer"}):  # fmt: skip
        with api.client(headers=headers) as anonymous:
            for answer in (anonymous.get("/api/phones"),
                           anonymous.post("/api/sites", json=SITE)):  # fmt: skip
                assert_problem(answer, 401)
                assert answer.headers["www-authenticate"] == "Bearer"
    assert api.client().get("/api/sites").json()["items"] == []


def test_bad_input_is_a_problem_document_and_changes_nothing(api):
    client = created(api)
    before = client.get("/api/inventory").json()
    oversized = b'{"name": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    body = assert_problem(client.put("/api/sites/hq", content=oversized), 413)
    assert "2 MiB" in body["detail"]

    def chunks():  # no Content-Length: counted while read
        yield b'{"description": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}'

    assert_problem(client.put("/api/phones/00085D000001", content=chunks()), 413)
    malformed = f'{{"mac": "00:08:5D:00:00:01", "password": "{SIP_SECRET}",'.encode()
    for raw in (malformed, b'{"name": "a", "name": "b"}', b"NaN", b"", b"\xff\xfe"):
        answer = client.put("/api/sites/hq/extensions/3003", content=raw)
        assert_problem(answer, 400)
        assert SIP_SECRET not in answer.text
    unknown = {**EXTENSION, "colour": "red"}
    body = assert_problem(client.put("/api/sites/hq/extensions/3003", json=unknown), 422)
    assert [error["field"] for error in body["errors"]] == ["colour"]
    body = assert_problem(
        client.put("/api/phones/00085D000001", json={**PHONE, "lines": [7, {}]}), 422
    )
    assert [error["field"] for error in body["errors"]] == ["lines[1]"]
    body = assert_problem(client.get("/api/phones/00:08:5D"), 422)
    assert [error["field"] for error in body["errors"]] == ["mac"]
    body = assert_problem(
        client.post("/api/phones", json={**PHONE, "mac": "01:00:5E:00:00:01"}), 422
    )
    assert [error["field"] for error in body["errors"]] == ["mac"]
    body = assert_problem(client.get("/api/phones", params={"limit": 5000}), 422)
    assert body["errors"][0]["field"] == "limit"
    assert_problem(client.post("/api/sites", json=SITE), 409)
    body = assert_problem(client.delete("/api/sites/hq"), 409)
    assert "phone" in body["detail"]
    body = assert_problem(client.post("/api/users", json={"name": "bob", "role": "viewer",
                                                          "password": "short"}), 422)  # fmt: skip
    assert body["errors"][0]["field"] == "password" and "short" not in json.dumps(body)
    assert_problem(client.get("/api/no/such/thing"), 404)
    assert_problem(client.delete("/api/inventory"), 405)
    assert_problem(client.get("/api/sites/no-such-site"), 404)
    assert client.get("/api/inventory").json() == before
    log = api.log()
    assert SIP_SECRET not in log and "Traceback" not in log and "short" not in log


def test_the_phone_port_never_answers_for_the_api(api):
    created(api)
    for path in ("/api/phones", "/api/openapi.json", "/api/docs", "/api/sites/hq"):
        answer = httpx.get(f"{api.server.base}{path}",
                           headers={"Authorization": f"Bearer {api.token}"})  # fmt: skip
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.content == b"not found\n"


def test_docs_are_served_from_here_and_load_nothing_from_elsewhere(api):
    with httpx.Client(base_url=api.server.admin_base, timeout=30) as client:
        page = client.get("/api/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
        urls += re.findall(r"""url:\s*'([^']+)'""", page.text)
        assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls)
        assert "http://" not in page.text and "https://" not in page.text
        for url in urls:
            assert client.get(url).status_code == 200, url
        schema = client.get("/api/openapi.json").json()
        assert schema["openapi"] == "3.0.3"
        assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert "/api/phones/{mac}" in schema["paths"]


def test_tokens_made_through_the_api_are_shown_once_and_revoke(api):
    client = api.client()
    made = client.post("/api/tokens", json={"expires_days": 7})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    token = made.json()["token"]
    assert made.json()["state"] == "active" and made.json()["expires_at"]
    with api.client(token) as own:
        assert own.get("/api/me").json()["name"] == "admin"
    listed = client.get("/api/tokens")
    assert token not in listed.text and made.json()["prefix"] in listed.text
    assert client.delete(f"/api/tokens/{made.json()['id']}").status_code == 204
    with api.client(token) as own:
        assert_problem(own.get("/api/me"), 401)
    user = client.post("/api/users", json={"name": "ops", "role": "operator",
                                           "password": "operator pass 1"})  # fmt: skip
    assert user.status_code == 201 and user.json()["role"] == "operator"
    assert client.patch("/api/users/ops", json={"role": "viewer"}).status_code == 204
    assert client.get("/api/users/ops").json()["role"] == "viewer"
    assert client.delete("/api/users/ops").status_code == 204
    assert_problem(client.get("/api/users/ops"), 404)
    assert "operator pass" not in api.log()


def test_the_admin_listener_speaks_https_when_the_server_has_a_tls_pair(tmp_path, monkeypatch):
    started = start_api(tmp_path / "data", monkeypatch, tls=True)
    try:
        assert started.server.admin_base.startswith("https://")
        with started.client() as client:
            assert client.get("/api/me").json() == {"name": "admin", "role": "admin"}
        plain = f"http://127.0.0.1:{started.server.admin_port}/api/me"
        with pytest.raises(httpx.HTTPError):
            httpx.get(plain, timeout=5).raise_for_status()
    finally:
        stop_server(started.server)
