"""Stored files (firmware) over HTTP, HTTPS, FTP and TFTP, with real clients and sockets.

The resolver cannot answer with a stored file until a firmware release is added and
pinned, so the server here is the real ``serve_with`` (uvicorn with the zero-copy
protocol, aioftp, the TFTP server) over a real :class:`Provisioner` whose resolver is
the real :class:`Resolver` with one override: it answers one name with a
:class:`StoredFile` of a random 40 MB file. Everything else, the clients (curl, httpx,
ftplib, atftp) and the sockets, is real. The server runs as a separate process
(``python -m tests.test_large_files serve ...``) so its peak memory (``VmHWM``) is its
own: serving a 40 MB file must cost no more memory than serving a 4 MB one.

End-to-end firmware tests (``plugtone firmware add``, pins, the device state) live with
the firmware code; these are about the transports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ftplib
import hashlib
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from plugtone.inventory.models import ProvisioningEvent
from plugtone.inventory.store import Store, migrate
from plugtone.provisioning.events import EventRecorder
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import (
    Answer,
    FileRequest,
    Resolver,
    Status,
    StoredFile,
    clean_path,
)
from plugtone.provisioning.uploads import UploadStore
from plugtone.servers import event_loop, runner
from plugtone.servers.runner import ServeOptions, quiet_disconnects, serve_with
from plugtone.vendors import default_registry
from tests.conftest import free_port, stop_process

HOST = "127.0.0.1"
NAME = "firmware.bin"
ROOT = Path(__file__).resolve().parent.parent
FTP_USER = ("phone", "phone-secret")
BIG = 40 * 1024 * 1024
SMALL = 4 * 1024 * 1024


# --------------------------------------------------------------------------------------
# The server: the real servers over a resolver that answers one name with a stored file
# --------------------------------------------------------------------------------------


class StoredFileResolver(Resolver):
    """The real resolver, except that ``stored``'s names are answered from disk.

    A test double of the resolver only, standing in for firmware releases until tests
    can add one; no ``firmware_version`` is set, so no device state is involved.
    """

    def __init__(self, *args, stored: dict[str, StoredFile], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stored = {name.lower(): file for name, file in stored.items()}

    def _stored(self, request: FileRequest) -> Answer | None:
        path = clean_path(request.path)
        file = self.stored.get(path.lower()) if path else None
        if file is None:
            return None
        return Answer(Status.OK, path, file=file)  # type: ignore[arg-type]

    def cached(self, request: FileRequest) -> Answer | None:
        return self._stored(request) or super().cached(request)

    def resolve(self, request: FileRequest) -> Answer:
        return self._stored(request) or super().resolve(request)


def stored_file(path: Path) -> StoredFile:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return StoredFile(path, path.stat().st_size, digest.hexdigest())


async def serve_stored(args: argparse.Namespace) -> None:
    """``python -m tests.test_large_files serve``: run until SIGTERM."""
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{data / 'plugtone.db'}")
    migrate(store.engine)
    uploads = UploadStore(data / "uploads")
    resolver = StoredFileResolver(
        store, default_registry(), uploads=uploads, stored={args.name: stored_file(args.file)}
    )
    resolver.refresh(force=True)
    provisioner = Provisioner(resolver, EventRecorder(store), uploads)
    options = ServeOptions(
        db_url="", host=HOST, http_port=args.http_port, https_port=args.https_port,
        tls_cert=args.cert, tls_key=args.key, tftp_port=args.tftp_port,
        ftp_port=args.ftp_port, ftp_factory_accounts=False, ftp_accounts=(FTP_USER,),
        data_dir=data,
    )  # fmt: skip
    asyncio.get_running_loop().set_exception_handler(quiet_disconnects)
    if args.no_zerocopy:  # bench/firmware.py compares the streaming path this way
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        runner.ZeroCopyHttpToolsProtocol = HttpToolsProtocol  # type: ignore[misc]
        runner.PhoneHttpProtocol = HttpToolsProtocol  # type: ignore[misc]
    try:
        await serve_with(provisioner, options)
    finally:
        store.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="plugtone's servers answering NAME with FILE")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--name", default=NAME)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--https-port", type=int)
    parser.add_argument("--cert", type=Path)
    parser.add_argument("--key", type=Path)
    parser.add_argument("--ftp-port", type=int)
    parser.add_argument("--tftp-port", type=int)
    parser.add_argument("--no-zerocopy", action="store_true", help="stream files over HTTP too")
    args = parser.parse_args(argv)
    event_loop.run(serve_stored(args))  # the loop plugtone serve runs on (uvloop)


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


def need(tool: str) -> str:
    from tests.conftest import need as conftest_need

    return conftest_need(tool)


@dataclass
class Served:
    file: Path
    sha256: str
    size: int
    data: Path
    process: subprocess.Popen
    http: int
    https: int
    ftp: int
    tftp: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.http}/{NAME}"

    @property
    def secure_url(self) -> str:
        return f"https://{HOST}:{self.https}/{NAME}"

    def peak_memory_kib(self) -> int:
        """The server process's peak resident set (``VmHWM``), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def open_descriptors_of_the_file(self) -> int:
        count = 0
        for link in Path(f"/proc/{self.process.pid}/fd").iterdir():
            with contextlib.suppress(OSError):  # closed meanwhile
                count += os.readlink(link) == str(self.file)
        return count

    def events(
        self, status: str, transport: str | None = None, count: int = 1
    ) -> list[ProvisioningEvent]:
        """This status's events for the stored file, once there are ``count`` of them
        (or after 10 s): the server writes its event log every 0.25 s."""
        store = Store(f"sqlite:///{self.data / 'plugtone.db'}")
        query = select(ProvisioningEvent).where(
            ProvisioningEvent.path.in_((NAME, f"/{NAME}")), ProvisioningEvent.status == status
        )
        if transport is not None:
            query = query.where(ProvisioningEvent.transport == transport)
        try:
            deadline = time.monotonic() + 10
            while True:
                with store.sessions() as session:
                    events = list(session.scalars(query.order_by(ProvisioningEvent.id)))
                if len(events) >= count or time.monotonic() > deadline:
                    return events
                time.sleep(0.1)
        finally:
            store.dispose()


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as output:
        for _ in range(size // (1 << 20)):
            output.write(os.urandom(1 << 20))
        output.write(os.urandom(size % (1 << 20)))
    return path


@dataclass
class _Started:
    served: Served

    def stop(self) -> None:
        stop_process(self.served.process)


def start(directory: Path, size: int) -> Served:
    """A server process answering :data:`NAME` with a new random file of ``size`` bytes."""
    from plugtone.tls import generate_self_signed

    directory.mkdir(parents=True, exist_ok=True)
    file = random_file(directory / "image.bin", size)
    cert, key = directory / "cert.pem", directory / "key.pem"
    generate_self_signed(cert, key, "localhost")
    ports = {"http": free_port(), "https": free_port(), "ftp": free_port(),
             "tftp": free_port(socket.SOCK_DGRAM)}  # fmt: skip
    command = [sys.executable, "-m", "tests.test_large_files", "serve", "--file", str(file),
               "--data", str(directory / "data"), "--http-port", str(ports["http"]),
               "--https-port", str(ports["https"]), "--cert", str(cert), "--key", str(key),
               "--ftp-port", str(ports["ftp"]), "--tftp-port", str(ports["tftp"])]  # fmt: skip
    log = (directory / "serve.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    served = Served(file, stored_file(file).sha256, size, directory / "data", process, **ports)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {(directory / 'serve.log').read_text()}")
        try:
            httpx.head(served.url, timeout=1)
            return served
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not start in 30 s")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """One server with a 40 MB stored file, shared by the tests that only read."""
    running = _Started(start(tmp_path_factory.mktemp("large"), BIG))
    yield running.served
    running.stop()


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def curl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([need("curl"), "-sS", *args], capture_output=True, timeout=timeout)


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------


def test_curl_downloads_the_whole_image_and_it_is_logged_complete(served, tmp_path):
    output = tmp_path / "image"
    result = curl("-D", str(tmp_path / "headers"), "-o", str(output), served.url)
    assert result.returncode == 0, result.stderr
    assert sha256(output.read_bytes()) == served.sha256
    headers = (tmp_path / "headers").read_text().lower()
    assert "http/1.1 200" in headers and f"content-length: {served.size}" in headers
    assert "accept-ranges: bytes" in headers and f'etag: "{served.sha256[:32]}"' in headers
    assert "content-type: application/octet-stream" in headers
    events = served.events("ok", "http")
    assert events and events[0].bytes == served.size


def test_ranges_get_206_with_content_range(served):
    original = served.file.read_bytes()
    size = served.size
    cases = {
        "bytes=0-1048575": (0, 1048575),
        "bytes=1000-": (1000, size - 1),
        "bytes=-5000": (size - 5000, size - 1),
        f"bytes={size - 10}-{size + 1000}": (size - 10, size - 1),  # clipped to the end
    }
    with httpx.Client(timeout=30) as client:
        for header, (first, last) in cases.items():
            response = client.get(served.url, headers={"Range": header})
            assert response.status_code == 206, header
            assert response.headers["content-range"] == f"bytes {first}-{last}/{size}"
            assert int(response.headers["content-length"]) == last - first + 1
            assert response.content == original[first : last + 1], header
    partial = served.events("partial", "http", count=len(cases))
    assert sorted(event.bytes for event in partial[-len(cases) :]) == sorted(
        last - first + 1 for first, last in cases.values()
    )


def test_unsatisfiable_ranges_get_416_and_odd_ones_the_whole_file(served):
    size = served.size
    with httpx.Client(timeout=30) as client:
        for header in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=-0"):
            response = client.get(served.url, headers={"Range": header})
            assert response.status_code == 416, header
            assert response.headers["content-range"] == f"bytes */{size}"
            assert response.content == b""
        # several ranges, another unit, nonsense, a range on HEAD: the whole file (200)
        for header in ("bytes=0-1,5-6", "items=0-5", "bytes=9-1", "bytes=x-y"):
            response = client.get(served.url, headers={"Range": header})
            assert response.status_code == 200, header
            assert sha256(response.content) == served.sha256
        head = client.head(served.url, headers={"Range": "bytes=0-9"})
        assert head.status_code == 200 and head.headers["content-length"] == str(size)


def test_if_range_keeps_the_range_only_for_the_current_etag(served):
    with httpx.Client(timeout=30) as client:
        etag = client.head(served.url).headers["etag"]
        same = client.get(served.url, headers={"Range": "bytes=0-99", "If-Range": etag})
        assert same.status_code == 206 and len(same.content) == 100
        for stale in ('"0123"', f"W/{etag}", "Sat, 21 Nov 2026 07:00:00 GMT"):
            other = client.get(served.url, headers={"Range": "bytes=0-99", "If-Range": stale})
            assert other.status_code == 200 and len(other.content) == served.size, stale


def test_head_and_if_none_match(served, tmp_path):
    head = httpx.head(served.url, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(served.size)
    etag = head.headers["etag"]
    result = curl("-o", str(tmp_path / "none"), "-w", "%{http_code}",
                  "-H", f"If-None-Match: {etag}", served.url)  # fmt: skip
    assert result.stdout == b"304" and not (tmp_path / "none").exists()
    again = httpx.get(served.url, headers={"If-None-Match": '"other", ' + etag}, timeout=10)
    assert again.status_code == 304 and again.headers["etag"] == etag
    assert served.events("head", "http") and served.events("not_modified", "http")


def test_curl_resumes_a_cut_download(served, tmp_path):
    output = tmp_path / "image"
    output.write_bytes(served.file.read_bytes()[:12_345_678])
    result = curl("-C", "-", "-o", str(output), served.url)
    assert result.returncode == 0, result.stderr
    assert sha256(output.read_bytes()) == served.sha256
    ranged = curl("--range", "100-199", served.url)
    assert ranged.stdout == served.file.read_bytes()[100:200]


def test_a_phone_that_goes_away_is_logged_incomplete(served):
    before = len(served.events("incomplete", "http", count=0))
    with socket.create_connection((HOST, served.http), timeout=10) as connection:
        connection.sendall(f"GET /{NAME} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = 0
        while received < 2_000_000:
            received += len(connection.recv(65536))
        # a reset, as when a phone reboots mid-download
        connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
    events = served.events("incomplete", "http", count=before + 1)
    assert len(events) == before + 1
    assert 0 < events[-1].bytes < served.size
    assert httpx.head(served.url, timeout=10).status_code == 200  # still serving


def test_https_streams_the_same_bytes(served):
    # TLS has no sendfile: this is the streaming path
    with httpx.Client(verify=False, timeout=60) as client:
        whole = client.get(served.secure_url)
        assert whole.status_code == 200 and sha256(whole.content) == served.sha256
        part = client.get(served.secure_url, headers={"Range": "bytes=-1000"})
        assert part.status_code == 206 and part.content == served.file.read_bytes()[-1000:]
    assert served.events("ok", "https") and served.events("partial", "https")


def test_concurrent_downloads_are_each_whole(served):
    def fetch(_: int) -> str:
        with httpx.Client(timeout=60) as client, client.stream("GET", served.url) as response:
            digest = hashlib.sha256()
            for chunk in response.iter_bytes():
                digest.update(chunk)
            return digest.hexdigest()

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(fetch, range(8))) == {served.sha256}


# --------------------------------------------------------------------------------------
# FTP
# --------------------------------------------------------------------------------------


def ftp_login(served: Served) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(HOST, served.ftp, timeout=30)
    client.login(*FTP_USER)
    client.voidcmd("TYPE I")
    return client


def test_ftp_size_retr_and_rest(served):
    with ftp_login(served) as client:
        assert client.size(NAME) == served.size
        whole = io.BytesIO()
        client.retrbinary(f"RETR {NAME}", whole.write)
        assert sha256(whole.getvalue()) == served.sha256
        rest = io.BytesIO()
        client.retrbinary(f"RETR {NAME}", rest.write, rest=served.size - 777_777)
        assert rest.getvalue() == served.file.read_bytes()[-777_777:]
        with pytest.raises(ftplib.error_perm, match="554"):
            client.retrbinary(f"RETR {NAME}", io.BytesIO().write, rest=served.size + 1)
    assert [event.bytes for event in served.events("ok", "ftp")][:1] == [served.size]
    assert [event.bytes for event in served.events("partial", "ftp")] == [777_777]
    assert [event.detail for event in served.events("unsatisfiable", "ftp")] == [
        "REST beyond the end"
    ]


def test_curl_ftp_gets_the_image(served, tmp_path):
    output = tmp_path / "image"
    result = curl(
        "-o", str(output), f"ftp://{FTP_USER[0]}:{FTP_USER[1]}@{HOST}:{served.ftp}/{NAME}"
    )
    assert result.returncode == 0, result.stderr
    assert sha256(output.read_bytes()) == served.sha256


def test_an_ftp_download_cut_short_is_logged_incomplete(served):
    before = len(served.events("incomplete", "ftp", count=0))
    with ftp_login(served) as client:
        connection = client.transfercmd(f"RETR {NAME}")
        connection.recv(1_000_000)
        connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        connection.close()
        reply = client.getmultiline()
        assert reply[:3] in ("426", "226"), reply
    cut = served.events("incomplete", "ftp", count=before + 1)
    assert len(cut) == before + 1 and cut[-1].bytes < served.size


# --------------------------------------------------------------------------------------
# TFTP
# --------------------------------------------------------------------------------------


def test_curl_tftp_with_blksize_1468(served, tmp_path):
    output = tmp_path / "image"
    result = curl("--tftp-blksize", "1468", "-o", str(output),
                  f"tftp://{HOST}:{served.tftp}/{NAME}", timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sha256(output.read_bytes()) == served.sha256


def test_atftp_with_windowsize(served, tmp_path):
    output = tmp_path / "image"
    result = subprocess.run(
        [need("atftp"), "--option", "blksize 1428", "--option", "windowsize 16",
         "--option", "tsize 0", "-g", "-r", NAME, "-l", str(output), HOST, str(served.tftp)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result
    assert sha256(output.read_bytes()) == served.sha256


def rrq(served: Served, mode: str, **options: str) -> tuple[bytes, tuple]:
    """Send one RRQ; the first answer and the address it came from."""
    packet = b"\x00\x01" + NAME.encode() + b"\x00" + mode.encode() + b"\x00"
    for name, value in options.items():
        packet += name.encode() + b"\x00" + value.encode() + b"\x00"
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5)
    client.sendto(packet, (HOST, served.tftp))
    reply, peer = client.recvfrom(70000)
    client.sendto(b"\x00\x05\x00\x00stop\x00", peer)  # abort: the server must let go
    client.close()
    return reply, peer


def test_tftp_tsize_is_the_stored_size_and_netascii_is_refused(served):
    oack, _ = rrq(served, "octet", tsize="0", blksize="1468")
    assert oack[:2] == b"\x00\x06"
    fields = oack[2:].split(b"\x00")
    assert fields[fields.index(b"tsize") + 1] == str(served.size).encode()
    refused, _ = rrq(served, "netascii")
    assert refused[:4] == b"\x00\x05\x00\x04" and b"octet" in refused
    assert served.events("refused", "tftp")


def test_no_descriptor_of_the_file_is_left_open(served):
    # after every test above (full, ranged, cut and aborted transfers on each transport)
    deadline = time.monotonic() + 10
    while served.open_descriptors_of_the_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served.open_descriptors_of_the_file() == 0


# --------------------------------------------------------------------------------------
# Memory: flat in the file size
# --------------------------------------------------------------------------------------


def exercise(served: Served, work: Path) -> None:
    """Eight concurrent HTTP downloads, one over HTTPS, FTP and TFTP; all must be whole."""
    curl_path = need("curl")
    commands = [[curl_path, "-sS", "-o", str(work / f"http{index}"), served.url]
                for index in range(8)]  # fmt: skip
    commands.append([curl_path, "-sSk", "-o", str(work / "https"), served.secure_url])
    commands.append([curl_path, "-sS", "-o", str(work / "ftp"),
                     f"ftp://{FTP_USER[0]}:{FTP_USER[1]}@{HOST}:{served.ftp}/{NAME}"])  # fmt: skip
    commands.append([curl_path, "-sS", "--tftp-blksize", "1468", "-o", str(work / "tftp"),
                     f"tftp://{HOST}:{served.tftp}/{NAME}"])  # fmt: skip
    processes = [subprocess.Popen(command) for command in commands]
    for process in processes:
        assert process.wait(timeout=180) == 0
    for output in work.iterdir():
        assert output.stat().st_size == served.size, output.name
        assert stored_file(output).sha256 == served.sha256, output.name
        output.unlink()


def test_peak_memory_does_not_grow_with_the_file(tmp_path):
    peaks = {}
    for size in (SMALL, BIG):
        running = _Started(start(tmp_path / str(size), size))
        try:
            work = tmp_path / f"out{size}"
            work.mkdir()
            exercise(running.served, work)
            peaks[size] = running.served.peak_memory_kib()
        finally:
            running.stop()
    growth_mib = (peaks[BIG] - peaks[SMALL]) / 1024
    assert growth_mib < 4, f"peak RSS {peaks} KiB: +{growth_mib:.1f} MiB for a 10x larger file"


if __name__ == "__main__":
    main()
