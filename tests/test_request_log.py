"""``plugtone serve --log-format json --log-requests LEVEL``: one line per phone request.

A real server is asked for files over HTTP (with a User-Agent and a Basic login), TFTP
(the ``tftp`` client) and FTP (ftplib, the Polycom factory login); its stderr is read
back as an operator's log collector would: every line JSON, one request line per
request with the documented fields, and nowhere the SIP password of the phone whose
file was served, the password of the login, or the Authorization header.
"""

from __future__ import annotations

import base64
import ftplib
import json
import subprocess
import time

import httpx

from tests.conftest import RunningServer, need, run_cli, start_server, stop_server

SIP_SECRET = "ReqLog-Sip-Pw-8086"
POLYCOM_SECRET = "ReqLog-Plcm-Pw-6502"
LOGIN_PASSWORD = "ReqLog-Login-Pw-4477"
UA = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"
INVENTORY = f"""
sites:
  - {{name: hq, sip_server: 10.100.2.127, timezone: America/Los_Angeles}}
extensions:
  - {{number: "3003", site: hq, name: John 3003, password: "{SIP_SECRET}"}}
  - {{number: "201", site: hq, name: Ext 201, password: "{POLYCOM_SECRET}"}}
phones:
  - {{mac: "00:08:5D:00:00:01", model: 6757i, site: hq, lines: ["3003"]}}
  - {{mac: "00:04:f2:00:06:07", model: IP650, site: hq, lines: ["201"]}}
"""
FIELDS = {"time", "level", "logger", "message", "transport", "client", "path", "status",
          "bytes", "duration_ms", "trust"}  # fmt: skip
"""Fields every request line has (mac, vendor, user, user_agent when known)."""


def serve(data, *flags: str) -> RunningServer:
    running = start_server(data, tftp=True, ftp=True, extra=flags)
    inventory = data / "inventory.yaml"
    inventory.write_text(INVENTORY)
    run_cli("apply", str(inventory), data=data)
    return running


def request_lines(server: RunningServer, count: int) -> list[dict]:
    """The JSON request lines of the server's log, once ``count`` of them are there;
    every line but the one ``serve`` prints on stdout must be JSON."""
    deadline = time.monotonic() + 10
    while True:
        lines = (server.data / "serve.log").read_text().splitlines()
        records = [json.loads(line) for line in lines if not line.startswith("plugtone serving")]
        found = [record for record in records if record["logger"] == "plugtone.requests"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_json_request_lines_carry_the_fields_and_no_secret(tmp_path):
    server = serve(tmp_path / "data", "--log-format", "json", "--log-requests", "info")
    try:
        probes = len(request_lines(server, 0))  # start_server's own probes are requests too
        served = httpx.get(f"{server.base}/00085D000001.cfg", headers={"User-Agent": UA})
        assert served.status_code == 200 and SIP_SECRET in served.text
        login = httpx.get(f"{server.base}/nothing-here.cfg", auth=("3003", LOGIN_PASSWORD))
        assert login.status_code == 404
        output = tmp_path / "tftp.cfg"
        subprocess.run(
            [need("tftp"), "127.0.0.1", str(server.tftp_port), "-m", "octet", "-c", "get",
             "00085D000001.cfg", str(output)], check=True, timeout=20,
        )  # fmt: skip
        assert output.read_bytes() == served.content
        with ftplib.FTP() as client:
            client.connect("127.0.0.1", server.ftp_port, timeout=10)
            client.login("PlcmSpIp", "PlcmSpIp")
            chunks: list[bytes] = []
            client.retrbinary("RETR 0004f2000607.cfg", chunks.append)
        assert chunks

        lines = request_lines(server, probes + 4)[probes:]
        assert [(line["transport"], line["status"]) for line in lines] == [
            ("http", "ok"),
            ("http", "not_found"),
            ("tftp", "ok"),
            ("ftp", "ok"),
        ]
        for line in lines:
            assert set(line) >= FIELDS, line
            assert line["level"] == "info" and line["client"] == "127.0.0.1"
            assert line["time"].endswith("+00:00") and line["duration_ms"] >= 0
        http, _, tftp, ftp = lines
        assert http["path"] == "/00085D000001.cfg" and http["bytes"] == len(served.content)
        assert (http["mac"], http["vendor"]) == ("00085D000001", "aastra")
        assert http["trust"] == "trusted_network"  # 127.0.0.1 is trusted (start_server)
        assert http["user_agent"] == UA
        assert (tftp["path"], tftp["bytes"], tftp["mac"]) == (
            "00085D000001.cfg", len(served.content), "00085D000001",
        )  # fmt: skip
        assert ftp["path"] == "/0004f2000607.cfg" and ftp["bytes"] == len(b"".join(chunks))

        log = (server.data / "serve.log").read_text()
        basic = base64.b64encode(f"3003:{LOGIN_PASSWORD}".encode()).decode()
        for secret in (SIP_SECRET, POLYCOM_SECRET, LOGIN_PASSWORD, basic, "Basic "):
            assert secret not in log
    finally:
        stop_server(server)


def test_text_request_lines_at_the_chosen_level(tmp_path):
    server = serve(tmp_path / "data", "--log-requests", "warning")
    try:
        path = "/a file with spaces.cfg"
        assert httpx.get(f"{server.base}{path}", headers={"User-Agent": UA}).status_code == 404
        deadline = time.monotonic() + 10
        while True:
            log = (server.data / "serve.log").read_text()
            lines = [line for line in log.splitlines() if json.dumps(path) in line]
            if lines or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        (line,) = lines
        assert " WARNING plugtone.requests: transport=http client=127.0.0.1 " in line
        assert f"path={json.dumps(path)}" in line and " status=not_found " in line
        assert f"user_agent={json.dumps(UA)}" in line
        assert not line.lstrip().startswith("{")
    finally:
        stop_server(server)
