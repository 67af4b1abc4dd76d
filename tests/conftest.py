"""Shared fixtures: stores on SQLite and on a real PostgreSQL, and a running server.

PostgreSQL comes from ``PLUGTONE_TEST_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Each test gets a database of its
own, created and dropped here. When no server answers, the PostgreSQL tests fail
with a message saying so: they are never skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import hypothesis  # noqa: F401 - imported before any server thread starts (see below)
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from plugtone.inventory.document import parse_document
from plugtone.inventory.store import Store, migrate, normalize_url
from plugtone.inventory.yaml_source import load_located
from plugtone.services.inventory_apply import apply_document
from plugtone.vendors import default_registry

# CPython 3.11.7 keeps the AST compiler's recursion counter in global state; compiling
# in two threads at once (server threads build classes while the main thread imports)
# can leave it off by a few, and the next compile fails with "AST constructor recursion
# depth mismatch". Importing Hypothesis here means its plug-in's import at the end of
# the session finds it loaded instead of compiling it then.

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "inventory.yaml"
PG_URL = os.environ.get("PLUGTONE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PLUGTONE = [sys.executable, "-m", "plugtone"]


def _admin_engine():
    return create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_admin():
    engine = _admin_engine()
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:
        pytest.fail(
            f"PostgreSQL does not answer at {PG_URL} ({type(error).__name__}: {error}). "
            "Start one (the README's test command does on Debian) or point "
            "PLUGTONE_TEST_PG_URL at one.",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = f"plugtone_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    yield url
    with pg_admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'plugtone.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db_url, tmp_path) -> Iterator[Store]:
    store = Store(db_url, data_dir=tmp_path)
    migrate(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def registry():
    return default_registry()


def apply_text(store: Store, text_: str, *, prune: bool = False, name: str = str(EXAMPLE)):
    """Apply inventory text the way ``plugtone apply`` does; raises on problems.

    ``name`` places the text for relative paths in it (the example's ``logo.png``)."""
    located = load_located(text_, name)
    document, problems = parse_document(located, default_registry())
    if problems:
        raise AssertionError("\n".join(map(str, problems)))
    with store.sessions() as session:
        result = apply_document(session, document, prune=prune, registry=default_registry())
        session.commit()
    return result


_PORT_RANGE = (20_000, 32_000)
"""Where :func:`free_port` picks: below Linux's ephemeral range (32768-60999), so the
port a test's server is about to bind is never taken meanwhile by some client's
outgoing connection, as a port the kernel handed out for ``bind(0)`` could be."""


def _port_sequence() -> Iterator[int]:
    """This process's ports: each xdist worker walks its own slice of :data:`_PORT_RANGE`
    from a random start, so two workers never pick the same port and one never picks the
    same port twice in a row."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    low, high = _PORT_RANGE
    width = (high - low) // 8
    first = low + index % 8 * width
    offset = int.from_bytes(os.urandom(2)) % width
    while True:
        for step in range(width):
            yield first + (offset + step) % width


_PORTS = _port_sequence()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 free for both TCP and UDP now, for a server to bind next."""
    for port in _PORTS:
        try:
            with socket.socket(socket.AF_INET, kind) as probe:
                probe.bind(("127.0.0.1", port))
            other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
            with socket.socket(socket.AF_INET, other) as probe:
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise AssertionError("unreachable: the port sequence is endless")


def run_cli(*args: str, data: Path | None = None, check: bool = True, **kwargs):
    """Run the real ``plugtone`` command in a subprocess."""
    command = [*PLUGTONE, *args]
    if data is not None:
        command += ["--data", str(data)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


class RunningServer:
    def __init__(self, data: Path, http_port: int, https_port: int | None, process,
                 ftp_port: int | None = None, tftp_port: int | None = None,
                 admin_port: int | None = None):  # fmt: skip
        self.data = data
        self.http_port = http_port
        self.https_port = https_port
        self.ftp_port = ftp_port
        self.tftp_port = tftp_port
        self.admin_port = admin_port
        self.process = process

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def secure_base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def admin_base(self) -> str:
        """The admin listener (HTTPS when the server has a TLS pair)."""
        scheme = "https" if self.https_port else "http"
        return f"{scheme}://127.0.0.1:{self.admin_port}"

    def store(self) -> Store:
        return Store(f"sqlite:///{self.data / 'plugtone.db'}")


LOOPBACK_TRUSTED = '\n[security]\ntrusted_networks = ["127.0.0.1/32"]\n'
"""What ``start_server(trusted=True)`` adds to ``plugtone.toml``: 127.0.0.1 is a trusted
network, so tests about file contents fetch them as a phone on a trusted LAN would.
Tests about strangers use ``trusted=False`` or another loopback address (127.0.0.2...)."""


def start_server(
    data: Path, *, tls: bool = False, ftp: bool = False, tftp: bool = False,
    admin: bool = False, trusted: bool = True, extra: tuple[str, ...] = (),
) -> RunningServer:  # fmt: skip
    """``plugtone serve`` on free ports; the admin listener (``admin``) is off unless asked
    for, so tests never contend for its default port 8088. ``trusted`` makes 127.0.0.1 a
    trusted network (:data:`LOOPBACK_TRUSTED`); ``extra`` are more ``serve`` flags."""
    run_cli("init", *(["--tls"] if tls else []), data=data)
    if trusted:
        with (data / "plugtone.toml").open("a") as settings:
            settings.write(LOOPBACK_TRUSTED)
    http_port = free_port()
    https_port = free_port() if tls else None
    ftp_port = free_port() if ftp else 0
    tftp_port = free_port(socket.SOCK_DGRAM) if tftp else 0
    admin_port = free_port() if admin else 0
    command = [*PLUGTONE, "serve", "--data", str(data), "--host", "127.0.0.1",
               "--http-port", str(http_port), "--tftp-port", str(tftp_port),
               "--ftp-port", str(ftp_port), "--admin-port", str(admin_port)]  # fmt: skip
    if https_port:
        command += ["--https-port", str(https_port)]
    command += extra
    log = open(data / "serve.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {(data / 'serve.log').read_text()}")
        try:
            httpx.get(f"http://127.0.0.1:{http_port}/probe-not-a-file", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("server did not start in 30 s")
    return RunningServer(data, http_port, https_port, process, ftp_port or None,
                         tftp_port or None, admin_port or None)  # fmt: skip


@pytest.fixture
def server(tmp_path) -> Iterator[RunningServer]:
    """``plugtone serve`` as a real process, with the example inventory applied."""
    data = tmp_path / "data"
    running = start_server(data, tls=True)
    run_cli("apply", str(EXAMPLE), data=data)
    yield running
    stop_server(running)


@contextmanager
def example_server(data: Path, **servers: bool) -> Iterator[RunningServer]:
    """A running server with the example inventory applied (``ftp=True``, ``tftp=True``...)."""
    running = start_server(data, **servers)
    try:
        run_cli("apply", str(EXAMPLE), data=data)
        yield running
    finally:
        stop_server(running)


def stop_server(running: RunningServer) -> None:
    stop_process(running.process)


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def need(tool: str) -> str:
    """The path of a real client the tests drive; its absence is a failure, not a skip."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"{tool} is not installed; the README's test command installs it", pytrace=False
        )
    return path
