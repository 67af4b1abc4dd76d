"""``plugtone serve`` starting (or not) as a new user would try it.

A busy port on any transport is one line naming the transport, address and port, a
non-zero exit, and nothing left listening; the serving line comes once every listener
is bound; ``--https-port 0`` turns HTTPS off; ``init`` run as root writes no port, so a
later unprivileged ``serve`` gets the unprivileged ports. What a process listens on is
read from ``/proc`` (its socket inodes against ``/proc/net``), as ``ss -lntup`` would.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from plugtone.inventory.store import Store, migrate
from plugtone.provisioning.provisioner import Provisioner
from plugtone.servers.runner import ListenError, ServeOptions, serve_with
from plugtone.tls import generate_self_signed
from plugtone.vendors import default_registry
from tests.conftest import PLUGTONE, free_port, run_cli, stop_process

HOST = "127.0.0.1"
TCP, UDP = socket.SOCK_STREAM, socket.SOCK_DGRAM
FLAGS = {"HTTP": "--http-port", "HTTPS": "--https-port", "TFTP": "--tftp-port",
         "FTP": "--ftp-port", "admin API": "--admin-port"}  # fmt: skip
KINDS = {"HTTP": TCP, "HTTPS": TCP, "TFTP": UDP, "FTP": TCP, "admin API": TCP}
PROC_KINDS = {TCP: "tcp", UDP: "udp"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A data directory with a TLS pair, so every transport can be asked for."""
    data = tmp_path_factory.mktemp("startup") / "var"
    run_cli("init", "--tls", data=data)
    return data


def free_ports() -> dict[str, int]:
    return {transport: free_port(kind) for transport, kind in KINDS.items()}


def serve_command(data: Path, ports: dict[str, int], *extra: str) -> list[str]:
    command = [*PLUGTONE, "serve", "--data", str(data), "--host", HOST, *extra]
    for transport, port in ports.items():
        command += [FLAGS[transport], str(port)]
    return command


def hold(kind: int, port: int) -> socket.socket:
    """Take ``port`` the way another program would (listening, for TCP)."""
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind((HOST, port))
    if kind == TCP:
        sock.listen()
    return sock


def is_free(kind: int, port: int) -> bool:
    try:
        hold(kind, port).close()
    except OSError:
        return False
    return True


def listening(pid: int) -> set[tuple[str, int]]:
    """``("tcp", port)`` and ``("udp", port)`` for every socket process ``pid`` listens on
    (TCP in LISTEN, UDP bound)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for kind in ("tcp", "tcp6", "udp", "udp6"):
        for row in Path(f"/proc/net/{kind}").read_text().splitlines()[1:]:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if inode in inodes and (kind.startswith("udp") or state == "0A"):
                found.add((kind[:3], int(local.rpartition(":")[2], 16)))
    return found


def expected(ports: dict[str, int]) -> set[tuple[str, int]]:
    return {(PROC_KINDS[KINDS[transport]], port) for transport, port in ports.items()}


def serving_line(process: subprocess.Popen, timeout: float = 30) -> str:
    """The first line ``serve`` prints; fails with its output if it exits first."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line:
        stop_process(process)
        raise AssertionError(f"serve printed nothing: {process.stderr.read()}")  # type: ignore[union-attr]
    return line.rstrip("\n")


def start(command: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )


def tftp_answers(port: int) -> bool:
    """Whether a TFTP read request to ``port`` gets a datagram back."""
    with socket.socket(socket.AF_INET, UDP) as client:
        client.settimeout(5)
        client.sendto(b"\x00\x01aastra.cfg\x00octet\x00", (HOST, port))
        try:
            return bool(client.recvfrom(600)[0])
        except TimeoutError:
            return False


@pytest.mark.parametrize("transport", list(FLAGS))
def test_a_busy_port_is_one_line_naming_it_and_nothing_stays_listening(data, transport):
    ports = free_ports()
    taken = hold(KINDS[transport], ports[transport])
    try:
        result = subprocess.run(
            serve_command(data, ports), capture_output=True, text=True, timeout=60
        )
    finally:
        taken.close()
    assert result.returncode == 1
    assert result.stderr == (
        f"plugtone: cannot listen for {transport} on {HOST}:{ports[transport]}: "
        "address already in use\n"
    )
    assert result.stdout == ""  # no serving line for a start that failed
    for other, port in ports.items():
        assert is_free(KINDS[other], port), f"{other} port {port} still taken"


def test_a_failed_start_closes_the_listeners_it_had_bound(tmp_path):
    """In one process (as a bench or test runs ``serve_with``): FTP, bound last, finds
    its port taken; HTTP, HTTPS, TFTP and the admin listener, bound before it, are
    free again, and no task of the servers is left running."""
    generate_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem")
    store = Store(f"sqlite:///{tmp_path / 'plugtone.db'}", data_dir=tmp_path)
    migrate(store.engine)
    provisioner = Provisioner.for_store(store, default_registry(), tmp_path)
    ports = free_ports()
    options = ServeOptions(
        db_url=store.url, host=HOST, http_port=ports["HTTP"], https_port=ports["HTTPS"],
        tls_cert=tmp_path / "cert.pem", tls_key=tmp_path / "key.pem",
        tftp_port=ports["TFTP"], ftp_port=ports["FTP"], admin_port=ports["admin API"],
        data_dir=tmp_path,
    )  # fmt: skip
    announced: list[str] = []

    async def attempt() -> set[asyncio.Task]:
        with pytest.raises(ListenError) as failure:
            await serve_with(provisioner, options, announce=announced.append)
        assert str(failure.value) == (
            f"cannot listen for FTP on {HOST}:{ports['FTP']}: address already in use"
        )
        return asyncio.all_tasks() - {asyncio.current_task()}

    taken = hold(TCP, ports["FTP"])
    try:
        left = asyncio.run(attempt())
    finally:
        taken.close()
        store.dispose()
    assert left == set()
    assert announced == []
    for transport, port in ports.items():
        assert is_free(KINDS[transport], port), f"{transport} port {port} still taken"


@pytest.mark.parametrize("pair", ["no TLS pair", "a TLS pair"])
def test_https_port_0_turns_https_off(data, tmp_path, pair):
    """Without a pair, ``--https-port 0`` serves (it used to fail asking for one); with
    one, it listens on no HTTPS port. The serving line comes once every listener
    listens: at that moment the process listens on exactly the ports it names."""
    if pair == "no TLS pair":
        data = tmp_path / "var"
        run_cli("init", data=data)
    ports = free_ports()
    del ports["HTTPS"]
    process = start(serve_command(data, ports, "--https-port", "0"))
    try:
        line = serving_line(process)
        bound = listening(process.pid)  # at once: the line is printed once all listen
        assert tftp_answers(ports["TFTP"])
        answer = httpx.get(f"http://{HOST}:{ports['HTTP']}/not-a-file.cfg", timeout=5)
    finally:
        stop_process(process)
    scheme = "https" if pair == "a TLS pair" else "http"
    assert line == (
        f"plugtone serving HTTP on {HOST}:{ports['HTTP']}, TFTP on {HOST}:{ports['TFTP']}, "
        f"FTP on {HOST}:{ports['FTP']}; admin API on {scheme}://{HOST}:{ports['admin API']}"
        "/api/docs"
    )
    assert bound == expected(ports)
    assert answer.status_code in (401, 404)  # plugtone's HTTP answered
    out, err = process.communicate()
    assert out == "" and err == ""  # the serving line once, and no complaint


def test_init_as_root_then_serve_as_another_user(tmp_path):
    """``init`` run as root writes no port into ``plugtone.toml``, so ``serve`` run by an
    unprivileged user listens on the unprivileged ports (the defaults, not root's)."""
    assert os.geteuid() == 0, "this test is about init run as root"
    data = tmp_path / "var"
    run_cli("init", "--tls", data=data)
    settings = (data / "plugtone.toml").read_text()
    assert [line for line in settings.splitlines() if not line.startswith("#")] == []
    for path in [data, *data.rglob("*")]:
        os.chown(path, 65534, 65534)
    # The interpreter lives under /root (0700): the unprivileged user keeps only the
    # right to read and search directories, to start it; it cannot bind a port < 1024.
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", "--"]  # fmt: skip
    command = [*as_nobody, *PLUGTONE, "serve", "--data", str(data), "--host", HOST,
               "--admin-port", "0"]  # fmt: skip
    process = start(command, cwd=tmp_path)
    try:
        line = serving_line(process)
        bound = listening(process.pid)
        user = int(Path(f"/proc/{process.pid}/status").read_text().split("Uid:")[1].split()[1])
        answer = httpx.get(f"http://{HOST}:8080/not-a-file.cfg", timeout=5)
    finally:
        stop_process(process)
    assert user == 65534
    assert line == (
        f"plugtone serving HTTP on {HOST}:8080, HTTPS on {HOST}:8443, TFTP on {HOST}:6969, "
        f"FTP on {HOST}:2121"
    )
    assert bound == {("tcp", 8080), ("tcp", 8443), ("udp", 6969), ("tcp", 2121)}
    assert answer.status_code in (401, 404)  # plugtone's HTTP answered


def test_the_ports_that_are_not_ports_are_refused(data):
    result = run_cli("serve", "--http-port", "70000", data=data, check=False)
    assert result.returncode == 2 and "70000 is not in the range 0<=x<=65535" in result.stderr
    off = run_cli("serve", *[arg for flag in FLAGS.values() for arg in (flag, "0")],
                  data=data, check=False)  # fmt: skip
    assert off.returncode == 1
    assert "every server is off (each port is 0): nothing to serve" in off.stderr


# -- what a command imports ----------------------------------------------------------
# Every command is a process of its own, and the suite and scripts start hundreds: a
# command imports what it needs, not the migrations machinery, the web stack or the
# password hashing of every other command.

HEAVY = {"alembic", "fastapi", "uvicorn", "starlette", "argon2", "plugtone.web",
         "plugtone.servers", "plugtone.services.accounts", "plugtone.services.firmware",
         "plugtone.cli_firmware", "plugtone.cli_security", "plugtone.cli_check"}  # fmt: skip


def test_listing_phones_imports_no_migrations_web_stack_or_other_commands(data):
    code = (
        "import sys\n"
        "from plugtone.cli import main\n"
        f"main(['phones', '--data', {str(data)!r}], standalone_mode=False)\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [PLUGTONE[0], "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.startswith("MAC ")
    loaded = result.stderr.split()
    assert "plugtone.services.devices" in loaded and "sqlalchemy" in loaded
    heavy = [name for name in loaded if any(name == h or name.startswith(f"{h}.") for h in HEAVY)]
    assert heavy == []


def test_every_command_is_listed_and_found_though_attached_when_asked_for():
    from click.testing import CliRunner

    from plugtone.cli import main

    listed = CliRunner().invoke(main, ["--help"]).output
    for name in ("init", "serve", "apply", "phones", "user", "token", "firmware", "arm",
                 "disarm", "windows", "credentials", "events", "check", "import"):  # fmt: skip
        assert f"\n  {name} " in listed, name
    assert "Usage: main windows" in CliRunner().invoke(main, ["windows", "--help"]).output
    typo = CliRunner().invoke(main, ["fimware"])
    assert typo.exit_code == 2 and "No such command 'fimware'" in typo.output


def test_the_schema_head_read_from_the_scripts_is_alembics():
    from alembic.script import ScriptDirectory

    from plugtone.inventory.store import alembic_config, head_revision

    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    assert head_revision() == script.get_current_head()
