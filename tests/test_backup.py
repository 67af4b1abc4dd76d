"""``plugtone backup`` while phones boot against a real ``plugtone serve``, and
``plugtone restore`` into PostgreSQL and into SQLite: the restored store serves the
same bytes, its rows are one instant's, and a non-empty target or a changed archive
is refused with nothing changed."""

from __future__ import annotations

import io
import json
import stat
import tarfile
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from plugtone.inventory.models import DeviceState, ProvisioningEvent
from plugtone.inventory.store import normalize_url
from tests.conftest import EXAMPLE, run_cli, start_server, stop_server

AASTRA_AGENT = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"
POLYCOM = "0004f2000607"
IMAGE = b"\x7fAASTRA-IMAGE" + bytes(range(256)) * 40


def boot_phones(base: str, stop: threading.Event, statuses: list[int]) -> None:
    """Emulated phones booting over and over: the Aastra's three files, the Polycom's
    master file then its boot log upload, the Cisco's file."""
    with httpx.Client(base_url=base, timeout=10) as client:
        while not stop.is_set():
            for path in ("/aastra.cfg", "/6757i.cfg", "/00085D000001.cfg"):
                statuses.append(client.get(path, headers={"User-Agent": AASTRA_AGENT}).status_code)
            statuses.append(client.get(f"/{POLYCOM}.cfg").status_code)
            log = f"boot {len(statuses)}\n".encode()
            statuses.append(client.put(f"/{POLYCOM}-boot.log", content=log).status_code)
            statuses.append(client.get("/SIP00115C93AFD1.cnf").status_code)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A served example inventory with a pinned firmware release, and an archive taken
    while phones kept booting."""
    root = tmp_path_factory.mktemp("backup")
    data = root / "data"
    running = start_server(data, trusted=True)
    try:
        run_cli("apply", str(EXAMPLE), data=data)
        image = root / "6757i.st"
        image.write_bytes(IMAGE)
        run_cli("firmware", "add", "--vendor", "aastra", "--model", "6757i", "--version",
                "3.3.1.4322", str(image), data=data)  # fmt: skip
        run_cli("firmware", "pin", "3.3.1.4322", "--model", "6757i", data=data)
        stop, statuses = threading.Event(), []
        booting = threading.Thread(target=boot_phones, args=(running.base, stop, statuses))
        booting.start()
        try:
            while len(statuses) < 60:  # the phones are booting before the backup starts
                stop.wait(0.05)
            before = len(statuses)
            archive = root / "plugtone.tgz"
            made = run_cli("backup", str(archive), data=data)
            during = len(statuses) - before
        finally:
            stop.set()
            booting.join()
    finally:
        stop_server(running)
    assert set(statuses) <= {200, 204}, sorted(set(statuses))
    assert during > 0  # requests were served (and logged) while the backup ran
    assert "the archive holds the secret key" in made.stdout
    run_cli("export-tree", str(root / "tree-source"), data=data)
    return root, data, archive


def tree(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def manifest(archive: Path) -> dict:
    with tarfile.open(archive, "r:gz") as opened:
        return json.loads(opened.extractfile("manifest.json").read())


def consistent(url: str) -> dict[str, int]:
    """Each device's request counter against its logged requests: they are written in
    one transaction, so a torn snapshot (events read at another instant than device
    states) shows a difference."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            counters = dict(connection.execute(select(DeviceState.mac, DeviceState.requests)).all())
            logged = dict(
                connection.execute(
                    select(ProvisioningEvent.mac, func.count())
                    .where(ProvisioningEvent.mac.is_not(None))
                    .group_by(ProvisioningEvent.mac)
                ).all()
            )
    finally:
        engine.dispose()
    assert counters and counters == logged
    return counters


def test_the_archive_is_private_and_lists_every_member(source):
    archive = source[2]
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    listed = manifest(archive)
    assert listed["format_version"] == 1 and listed["schema_revision"]
    assert listed["tables"]["phones"]["rows"] == 4
    assert listed["tables"]["provisioning_events"]["rows"] > 0
    with tarfile.open(archive, "r:gz") as opened:
        names = set(opened.getnames())
    assert names == {*listed["members"], "manifest.json"}
    assert {"key/secret.key", "settings/plugtone.toml", "db/blobs.jsonl",
            f"uploads/{POLYCOM.upper()}/{POLYCOM}-boot.log"} <= names  # fmt: skip
    assert any(name.startswith("firmware/sha256/") for name in names)
    # secrets stay sealed in the rows: no SIP password of the example in clear
    with tarfile.open(archive, "r:gz") as opened:
        extensions = opened.extractfile("db/extensions.jsonl").read().decode()
    assert "22222" not in extensions and "enc:v1:" in extensions


def test_a_backup_taken_while_phones_boot_restores_into_postgresql_and_serves_the_same(
    source, pg_url, tmp_path
):
    root, data, archive = source
    target = tmp_path / "restored"
    done = run_cli("restore", str(archive), "--data", str(target), "--db", pg_url)
    assert "restored" in done.stdout
    run_cli("export-tree", str(tmp_path / "tree"), "--data", str(target), "--db", pg_url)
    assert tree(tmp_path / "tree") == tree(root / "tree-source")
    listed = run_cli("firmware", "list", "--data", str(target), "--db", pg_url).stdout
    assert listed == run_cli("firmware", "list", data=data).stdout and "3.3.1.4322" in listed
    # one instant's rows, though phones were logging requests throughout
    counters = consistent(pg_url)
    assert sum(counters.values()) >= 60  # the requests of before the backup, at least
    # the files came along: firmware byte for byte, the uploads, the key 0600
    assert tree(target / "firmware") == tree(data / "firmware")
    uploads = tree(target / "uploads")
    assert list(uploads) == [f"{POLYCOM.upper()}/{POLYCOM}-boot.log"]
    assert next(iter(uploads.values())).startswith(b"boot ")
    assert (target / "secret.key").read_bytes() == (data / "secret.key").read_bytes()
    assert stat.S_IMODE((target / "secret.key").stat().st_mode) == 0o600
    # the sequences moved past the restored ids: a new change gets new rows
    extra = tmp_path / "extra.yaml"
    extra.write_text('extensions:\n  - {number: "3005", site: hq, password: "44444"}\n')
    run_cli("apply", str(extra), "--data", str(target), "--db", pg_url)

    # a second restore into the now non-empty database: one line, nothing changed
    engine = create_engine(normalize_url(pg_url))
    try:
        with engine.connect() as connection:
            before = connection.scalar(text("SELECT count(*) FROM audit_log"))
        again = run_cli("restore", str(archive), "--data", str(tmp_path / "other"),
                        "--db", pg_url, check=False)  # fmt: skip
        assert again.returncode == 1
        assert again.stderr.strip().count("\n") == 0
        assert "restore only into an empty database; nothing was changed" in again.stderr
        assert not (tmp_path / "other").exists()
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM audit_log")) == before
    finally:
        engine.dispose()


def test_a_changed_member_is_refused_and_nothing_is_written(source, tmp_path):
    archive = source[2]
    tampered = tmp_path / "tampered.tgz"
    with tarfile.open(archive, "r:gz") as original, tarfile.open(tampered, "w:gz") as copy:
        for member in original:
            body = original.extractfile(member).read()
            if member.name == "db/extensions.jsonl":
                body = body.replace(b'"3004"', b'"3009"')
                member.size = len(body)
            copy.addfile(member, io.BytesIO(body))
    target = tmp_path / "restored"
    refused = run_cli("restore", str(tampered), "--data", str(target), check=False)
    assert refused.returncode == 1
    assert "db/extensions.jsonl in the archive does not match its SHA-256" in refused.stderr
    assert not target.exists()


def test_sqlite_to_sqlite_without_the_key_needs_it_and_refuses_a_wrong_one(source, tmp_path):
    root, data, archive = source
    keyless = tmp_path / "keyless.tgz"
    made = run_cli("backup", str(keyless), "--without-key", data=data)
    assert "the key is not in the archive" in made.stdout
    assert "key/secret.key" not in manifest(keyless)["members"]
    refused = run_cli("restore", str(keyless), "--data", str(tmp_path / "a"), check=False)
    assert "holds no secret key" in refused.stderr and not (tmp_path / "a").exists()
    wrong = tmp_path / "wrong.key"
    wrong.write_text("ZmFrZWZha2VmYWtlZmFrZWZha2VmYWtlZmFrZWZha2U=\n")
    refused = run_cli("restore", str(keyless), "--data", str(tmp_path / "b"), "--key",
                      str(wrong), check=False)  # fmt: skip
    assert "was encrypted with key" in refused.stderr and not (tmp_path / "b").exists()
    target = tmp_path / "c"
    run_cli("restore", str(keyless), "--data", str(target), "--key", str(data / "secret.key"))
    run_cli("export-tree", str(tmp_path / "tree"), "--data", str(target))
    assert tree(tmp_path / "tree") == tree(root / "tree-source")
    consistent(f"sqlite:///{target / 'plugtone.db'}")
    # a second restore into the same data directory: one line, nothing changed
    files = tree(target)
    refused = run_cli("restore", str(archive), "--data", str(target), check=False)
    assert refused.returncode == 1
    assert "is not an empty directory" in refused.stderr
    assert "nothing was changed" in refused.stderr
    assert tree(target) == files
