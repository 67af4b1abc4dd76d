"""Staged firmware roll-outs and the firmware commands' refusals, against ``plugtone serve``.

One server for the module, with a generated inventory of Aastra 6757i phones: 20 at
branch1 (pinned with ``plugtone firmware pin --first-wave 10%``), 20 at branch2 (pinned
through the inventory file's ``firmware: {version, first_wave}``), 6 at branch3 (a wave
named by MAC). Phones boot over HTTP with the emulator, which flashes any image it gets
(tests/emulators/aastra.py), so "gets the image" is what the phone did, not what a
table says; the tables (``firmware pin``'s output, ``phones --firmware``) must agree.

Bad input goes through the command, which must say what is wrong and change nothing:
neither the store (``firmware list``, ``phones --firmware``) nor the files under
``<data>/firmware``.

Every change (apply, pin, promote, add, remove) runs the real ``plugtone`` in a
subprocess, as an admin would. Reading the tables and the battery of refusals run the
same click command in this process (``command``): a subprocess costs a second of
start-up each, and there are dozens of them.
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from plugtone.cli import main
from plugtone.macaddr import colon_mac
from tests.conftest import RunningServer, run_cli, start_server, stop_server
from tests.emulators.aastra import AastraPhone, make_image

OLD = "3.2.2.1136"
BEFORE = "5.0.0.1"  # branch2's pin before the staged one
STAGED = "5.1.0.2"


def macs(site: int, count: int) -> list[str]:
    return [f"00085D{site:02X}00{index:02X}" for index in range(1, count + 1)]


BRANCH1, BRANCH2, BRANCH3 = macs(0x10, 20), macs(0x20, 20), macs(0x30, 6)


def phones_yaml(site: str, phone_macs: list[str]) -> list[str]:
    return [f"  - {{mac: {colon_mac(mac)}, model: 6757i, site: {site}}}" for mac in phone_macs]


def sites_file() -> str:
    """branch1 and branch3, applied once: their pins come from the command line."""
    lines = ["sites:"]
    for name in ("branch1", "branch3"):
        lines += [f"  - name: {name}", "    sip_server: 10.0.0.1"]
    lines += ["phones:", *phones_yaml("branch1", BRANCH1), *phones_yaml("branch3", BRANCH3)]
    return "\n".join(lines) + "\n"


def branch2_file(firmware: str) -> str:
    """branch2 with its pin written in the file (``firmware`` is the YAML value)."""
    lines = ["sites:", "  - name: branch2", "    sip_server: 10.0.0.2",
             f"    firmware: {firmware}", "phones:", *phones_yaml("branch2", BRANCH2)]  # fmt: skip
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("rollout")
    running = start_server(root / "data")
    try:
        (root / "sites.yaml").write_text(sites_file())
        run_cli("apply", str(root / "sites.yaml"), data=running.data)
        for version in (BEFORE, STAGED):
            image = root / version / "6757i.st"
            image.parent.mkdir()
            image.write_bytes(make_image(version, size=2048))
            run_cli("firmware", "add", "--vendor", "aastra", "--model", "6757i",
                    "--version", version, str(image), data=running.data)  # fmt: skip
        yield running
    finally:
        stop_server(running)


# -- helpers


def fleet(phone_macs: list[str], firmware: str) -> dict[str, AastraPhone]:
    return {
        mac: AastraPhone(mac=mac, model="6757i", firmware=firmware, checks_firmware=True)
        for mac in phone_macs
    }


def boot_all(served: RunningServer, phones: dict[str, AastraPhone]) -> dict[str, list[str]]:
    """Boot every phone until stable; the versions each one flashed, by MAC."""
    with httpx.Client(base_url=served.base, timeout=10) as client:
        return {
            mac: [d.to_version for d in phone.boot_until_stable(phone.over_http(client))]
            for mac, phone in phones.items()
        }


def printed_wave(output: str) -> set[str]:
    found = re.search(r"^first wave: (\d+) phone\(s\): (.*)$", output, re.MULTILINE)
    assert found, output
    wave = {mac.replace(":", "") for mac in found.group(2).split(", ") if mac}
    assert len(wave) == int(found.group(1))
    return wave


def command(data: Path, *args: str) -> subprocess.CompletedProcess:
    """``plugtone ARGS --data DATA`` run in this process, as a CompletedProcess."""
    result = CliRunner().invoke(main, [*args, "--data", str(data)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def firmware_table(data: Path) -> dict[str, dict[str, str]]:
    """``plugtone phones --firmware``, one dict per phone by MAC (12 hex digits)."""
    result = command(data, "phones", "--firmware")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    table = [
        dict(zip(header, re.split(r"\s{2,}", line.strip()), strict=True)) for line in lines[1:]
    ]
    return {row["MAC"].replace(":", ""): row for row in table}


def rows(served: RunningServer, phone_macs: list[str]) -> dict[str, dict[str, str]]:
    table = firmware_table(served.data)
    return {mac: table[mac] for mac in phone_macs}


def recorded_rows(served: RunningServer, phone_macs: list[str], check) -> dict[str, dict[str, str]]:
    """:func:`rows` once ``check(rows)`` holds: device state is written every 250 ms."""
    for _ in range(50):
        table = rows(served, phone_macs)
        if check(table):
            return table
        time.sleep(0.1)
    return table


def with_pin(table: dict[str, dict[str, str]], pin: str) -> set[str]:
    return {mac for mac, row in table.items() if row["PIN"] == pin}


def fails(result: subprocess.CompletedProcess, *needles: str) -> None:
    """A refused command: non-zero exit, each needle in what it printed, no traceback."""
    said = result.stdout + result.stderr
    assert result.returncode != 0, f"{result.args} succeeded:\n{said}"
    assert "Traceback" not in said, said
    for needle in needles:
        assert needle in said, f"{result.args}: {needle!r} not in:\n{said}"


def snapshot(served: RunningServer) -> tuple[str, str, list[tuple[str, int]]]:
    """What an admin can see of firmware: the releases, every phone's state, the files."""
    listed = command(served.data, "firmware", "list")
    table = command(served.data, "phones", "--firmware")
    assert listed.returncode == 0 and table.returncode == 0, listed.stderr + table.stderr
    root = served.data / "firmware"
    files = sorted(
        (str(path.relative_to(root)), path.stat().st_size)
        for path in root.rglob("*")
        if path.is_file()
    )
    return listed.stdout, table.stdout, files


def quiet_snapshot(served: RunningServer) -> tuple[str, str, list[tuple[str, int]]]:
    """:func:`snapshot` once the event recorder has written what earlier tests' phones
    did (it writes every 250 ms): two snapshots in a row, 0.3 s apart, agree."""
    last = snapshot(served)
    for _ in range(30):
        time.sleep(0.3)
        current = snapshot(served)
        if current == last:
            return current
        last = current
    raise AssertionError("the store kept changing")


def stored_path(served: RunningServer, content: bytes) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    return served.data / "firmware" / "sha256" / digest[:2] / digest


# -- staged by the command line


def test_a_first_wave_of_10_percent_gets_the_image_and_promote_lets_the_rest(served):
    pinned = run_cli("firmware", "pin", STAGED, "--site", "branch1", "--first-wave", "10%",
                     data=served.data).stdout  # fmt: skip
    assert f"firmware -> {STAGED} (first wave 10%)" in pinned
    wave = printed_wave(pinned)
    assert len(wave) == 2 and wave <= set(BRANCH1)
    table = rows(served, BRANCH1)
    assert with_pin(table, "site, first wave") == wave
    assert {table[mac]["TARGET"] for mac in wave} == {STAGED}
    # the others have no pin besides this one: they are left alone until the promotion
    assert {row["TARGET"] for mac, row in table.items() if mac not in wave} == {"(leave)"}

    phones = fleet(BRANCH1, OLD)
    flashed = boot_all(served, phones)
    assert {mac for mac, versions in flashed.items() if versions} == wave
    assert all(flashed[mac] == [STAGED] for mac in wave)
    assert all(phone.fetched[-1] == ("6757i.st", 404) for phone in phones.values())

    # pinning the same again changes nothing, the wave included
    again = run_cli("firmware", "pin", STAGED, "--site", "branch1", "--first-wave", "10%",
                    data=served.data).stdout  # fmt: skip
    assert "no change" in again and printed_wave(again) == wave

    promoted = run_cli("firmware", "promote", "--site", "branch1", data=served.data).stdout
    assert f"site branch1: {STAGED} promoted to every phone" in promoted
    flashed = boot_all(served, phones)
    assert {mac for mac, versions in flashed.items() if versions} == set(BRANCH1) - wave
    assert all(versions == [STAGED] for mac, versions in flashed.items() if mac not in wave)
    assert boot_all(served, phones) == {mac: [] for mac in BRANCH1}  # and never again
    table = recorded_rows(
        served, BRANCH1,
        lambda table: all(row["RUNNING"] == row["DELIVERED"] == STAGED for row in table.values()),
    )  # fmt: skip
    assert {(row["TARGET"], row["PIN"], row["RUNNING"]) for row in table.values()} == {
        (STAGED, "site", STAGED)
    }
    assert {row["DELIVERED"] for row in table.values()} == {STAGED}
    fails(command(served.data, "firmware", "promote", "--site", "branch1"),
          "no staged pin to promote there")  # fmt: skip


# -- staged by the inventory file


def test_a_first_wave_from_the_inventory_file_survives_reapplying_it(served, tmp_path):
    inventory = tmp_path / "branch2.yaml"
    inventory.write_text(branch2_file(BEFORE))
    run_cli("apply", str(inventory), data=served.data)
    phones = fleet(BRANCH2, BEFORE)
    assert boot_all(served, phones) == {mac: [] for mac in BRANCH2}  # they run it already

    inventory.write_text(branch2_file(f"{{version: {STAGED}, first_wave: 10%}}"))
    applied = run_cli("apply", str(inventory), data=served.data).stdout
    assert f"firmware -> {STAGED} (first wave 10%)" in applied
    table = rows(served, BRANCH2)
    wave = with_pin(table, "site, first wave")
    assert len(wave) == 2
    waiting = f"site, waiting for {STAGED} (not in first wave)"
    assert with_pin(table, waiting) == set(BRANCH2) - wave
    assert {table[mac]["TARGET"] for mac in wave} == {STAGED}
    assert {row["TARGET"] for mac, row in table.items() if mac not in wave} == {BEFORE}

    # one phone outside the wave runs something older: it gets the previous pin's image
    behind = sorted(set(BRANCH2) - wave)[0]
    phones[behind].firmware = OLD
    flashed = boot_all(served, phones)
    assert {mac: versions for mac, versions in flashed.items() if versions} == {
        **{mac: [STAGED] for mac in wave},
        behind: [BEFORE],
    }

    # applying the same file again keeps the wave, before and after a promotion
    assert "no changes" in run_cli("apply", str(inventory), data=served.data).stdout
    table = rows(served, BRANCH2)
    assert with_pin(table, "site, first wave") == wave
    assert with_pin(table, waiting) == set(BRANCH2) - wave
    run_cli("firmware", "promote", "--site", "branch2", data=served.data)
    assert "no changes" in run_cli("apply", str(inventory), data=served.data).stdout
    table = rows(served, BRANCH2)
    assert {(row["TARGET"], row["PIN"]) for row in table.values()} == {(STAGED, "site")}

    flashed = boot_all(served, phones)
    assert {mac for mac, versions in flashed.items() if versions} == set(BRANCH2) - wave
    assert all(versions == [STAGED] for mac, versions in flashed.items() if mac not in wave)
    assert boot_all(served, phones) == {mac: [] for mac in BRANCH2}


# -- a wave named by MAC


def test_a_first_wave_named_by_mac_gets_the_image_alone(served):
    chosen = {BRANCH3[1], BRANCH3[4]}
    named = f"{colon_mac(BRANCH3[1])},{colon_mac(BRANCH3[4]).replace(':', '-').lower()}"
    pinned = run_cli("firmware", "pin", STAGED, "--site", "branch3", "--first-wave", named,
                     data=served.data).stdout  # fmt: skip
    assert f"firmware -> {STAGED} (first wave list)" in pinned
    assert printed_wave(pinned) == chosen
    assert with_pin(rows(served, BRANCH3), "site, first wave") == chosen
    flashed = boot_all(served, fleet(BRANCH3, OLD))
    assert {mac for mac, versions in flashed.items() if versions} == chosen


# -- bad input: a clear error, and nothing changed


def bad_zip(directory: Path) -> Path:
    """A vendor zip whose image fails its CRC (one byte flipped after zipping)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("firmware/6757i.st", make_image("6.0.0.2", size=2048))
    raw = bytearray(buffer.getvalue())
    raw[raw.index(b"\xa5" * 16)] ^= 0xFF
    path = directory / "corrupt.zip"
    path.write_bytes(bytes(raw))
    return path


def test_bad_firmware_commands_say_why_and_change_nothing(served, tmp_path):
    image = tmp_path / "6757i.st"
    image.write_bytes(make_image("6.0.0.1", size=2048))
    corrupt = bad_zip(tmp_path)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(corrupt.read_bytes()[:300])
    bad_wave = tmp_path / "bad-wave.yaml"
    bad_wave.write_text(branch2_file(f"{{version: {STAGED}, first_wave: 150%}}"))
    bad_version = tmp_path / "bad-version.yaml"
    bad_version.write_text(branch2_file("../x"))
    add = ["firmware", "add", "--vendor", "aastra", "--model", "6757i"]
    expected = [
        (["firmware", "add", "--vendor", "aastra", "--model", "9999x", "--version", "6.0.0.1",
          str(image)], ["no model '9999x'"]),
        (["firmware", "pin", STAGED, "--model", "9999x"], ["unknown model '9999x'"]),
        ([*add, "--version", "6.0.0.2", str(corrupt)], ["corrupt.zip: corrupt zip archive"]),
        ([*add, "--version", "6.0.0.2", str(truncated)], ["truncated.zip"]),
        ([*add, "--version", "../x", str(image)], ["'../x' is not a usable version"]),
        ([*add, "--version", "a/b", str(image)], ["'a/b' is not a usable version"]),
        (["firmware", "pin", "../x", "--site", "branch3"], ["'../x' is not a firmware version"]),
        (["firmware", "pin", "a/b", "--model", "6757i"], ["'a/b' is not a firmware version"]),
        ([*add, "--version", STAGED, str(image)], [f"release {STAGED} is already in the repository"]),
        (["firmware", "pin", "8.8.8.8", "--site", "branch3"],
         ["aastra 8.8.8.8 is pinned for phone", "but the repository has no release"]),
        (["firmware", "pin", "8.8.8.8", "--phone", colon_mac(BRANCH1[0])],
         [f"is pinned for phone {BRANCH1[0]}", "has no release"]),
        (["firmware", "pin", STAGED, "--site", "branch1", "--first-wave", "0%"],
         ["a first wave is 1% to 99%"]),
        (["firmware", "pin", STAGED, "--site", "branch1", "--first-wave", "00:08:5D:ZZ"],
         ["first wave:"]),
        (["firmware", "pin", STAGED, "--site", "nowhere"], ["no site 'nowhere'"]),
        (["firmware", "remove", "--vendor", "aastra", "9.9.9.9"], ["no aastra release 9.9.9.9"]),
        (["apply", str(bad_wave)], ["'150%' is not a percentage"]),
        (["apply", str(bad_version)], ["'../x' is not a firmware version"]),
    ]  # fmt: skip
    before = quiet_snapshot(served)
    for args, needles in expected:
        fails(command(served.data, *args), *needles)
        assert snapshot(served) == before, f"{args} changed something"
    assert not (served.data / "x").exists() and not (served.data / "firmware" / "x").exists()


def test_a_zip_with_an_empty_image_leaves_nothing_behind(served, tmp_path):
    """A release refused for an empty file must not leave the good files it copied in."""
    path = tmp_path / "with-empty.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("6757i.st", make_image("6.0.0.3", size=2048))
        archive.writestr("6731i.st", b"")
    before = quiet_snapshot(served)
    result = run_cli("firmware", "add", "--vendor", "aastra", "--model", "6757i,6731i",
                     "--version", "6.0.0.3", str(path), data=served.data, check=False)  # fmt: skip
    fails(result, "with-empty.zip: member '6731i.st' is empty")
    assert snapshot(served) == before


def test_a_pinned_release_cannot_be_removed_until_unpinned(served, tmp_path):
    # a release for a model no phone here has, so the pin moves no phone
    content = make_image("7.0.0.1", size=2048)
    image = tmp_path / "6731i.st"
    image.write_bytes(content)
    run_cli("firmware", "add", "--vendor", "aastra", "--model", "6731i", "--version", "7.0.0.1",
            str(image), data=served.data)  # fmt: skip
    run_cli("firmware", "pin", "7.0.0.1", "--model", "6731i", data=served.data)
    stored = stored_path(served, content)
    assert stored.read_bytes() == content
    refused = command(served.data, "firmware", "remove", "--vendor", "aastra", "7.0.0.1")
    fails(refused, "aastra 7.0.0.1 is pinned (model 6731i); unpin it first")
    assert stored.is_file()
    listed = command(served.data, "firmware", "list").stdout
    assert "aastra 7.0.0.1  models: 6731i  files: 1 (2048 bytes)  pinned: model 6731i" in listed

    assert (
        "pin removed" in run_cli("firmware", "unpin", "--model", "6731i", data=served.data).stdout
    )
    removed = run_cli("firmware", "remove", "--vendor", "aastra", "7.0.0.1", data=served.data)
    assert "removed aastra 7.0.0.1" in removed.stdout
    assert not stored.exists()
    listed = command(served.data, "firmware", "list").stdout
    assert "7.0.0.1" not in listed and f"aastra {STAGED}" in listed
    # the releases still pinned keep their files
    assert stored_path(served, make_image(STAGED, size=2048)).is_file()
