"""Firmware use cases of the service layer, on SQLite and PostgreSQL.

Each release and pin change is one unit of work: the role is checked first (a
viewer changes nothing, an operator pins but does not add releases), a refusal
leaves the store and the repository as they were, and every change that lands
leaves an audit row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from plugtone.firmware.repository import FileStore
from plugtone.inventory.models import AuditEntry, FirmwarePin, FirmwareRelease, ModelProfile
from plugtone.inventory.store import read_generation
from plugtone.services import devices, firmware
from plugtone.services.actors import Actor, Role
from plugtone.services.errors import Conflict, Denied, Invalid, NotFound
from plugtone.services.firmware import PinOwner
from tests.conftest import apply_text
from tests.emulators.aastra import make_image

ADMIN = Actor("ada", Role.ADMIN, "api")
OPERATOR = Actor("otto", Role.OPERATOR, "api")
VIEWER = Actor("vera", Role.VIEWER, "api")
HQ = [f"00085D0000{index:02X}" for index in range(1, 11)]
LAB = "00085D0000F1"
VERSION = "4.1.0.100"


def inventory() -> str:
    lines = ["sites:", "  - {name: hq, sip_server: 10.0.0.1}", "  - {name: lab, sip_server: 10.0.0.2}",
             "phones:"]  # fmt: skip
    lines += [f"  - {{mac: {mac}, model: 6757i, site: hq}}" for mac in HQ]
    lines += [f"  - {{mac: {LAB}, model: 6731i, site: lab}}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def files(tmp_path) -> FileStore:
    return FileStore(tmp_path / "firmware")


@pytest.fixture
def fleet(store):
    apply_text(store, inventory())
    return store


def image(tmp_path: Path, version: str, name: str = "6757i.st") -> Path:
    path = tmp_path / version / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make_image(version, size=2048))
    return path


def add(store, files, tmp_path, version=VERSION, actor=ADMIN, models=("6757i",)):
    return firmware.add_release(
        store, actor, files, vendor="aastra", models=list(models), version=version,
        sources=[image(tmp_path, version)],
    )  # fmt: skip


def audit(store, kind: str | None = None) -> list[tuple[str, str, str]]:
    with store.sessions() as session:
        query = select(AuditEntry.action, AuditEntry.kind, AuditEntry.key).order_by(AuditEntry.id)
        if kind:
            query = query.where(AuditEntry.kind == kind)
        return [tuple(row) for row in session.execute(query)]


def state(store) -> tuple:
    """Everything a firmware change could touch: pins, releases, audit rows, generation."""
    with store.sessions() as session:
        pins = sorted(
            (row.site_id, row.phone_id, row.model_profile_id, row.applies_to, row.version,
             row.first_wave, tuple(row.wave or ()), row.promoted)
            for row in session.scalars(select(FirmwarePin))
        )  # fmt: skip
        return (
            pins,
            session.scalar(select(func.count()).select_from(FirmwareRelease)),
            session.scalar(select(func.count()).select_from(AuditEntry)),
            read_generation(session),
        )


def stored_files(files: FileStore) -> list[str]:
    root = files.root / "sha256"
    return sorted(path.name for path in root.rglob("*") if path.is_file()) if root.exists() else []


def test_releases_are_added_listed_and_removed_by_an_admin_and_audited(fleet, files, tmp_path):
    added = add(fleet, files, tmp_path)
    assert (added.vendor, added.version, added.models) == ("aastra", VERSION, ("6757i",))
    assert [(f.name, f.role, f.size) for f in added.files] == [("6757i.st", "application", 2048)]
    assert stored_files(files) == [added.files[0].sha256]
    assert audit(fleet, "release") == [("create", "release", f"aastra {VERSION}")]

    listed = firmware.list_releases(fleet, VIEWER)
    assert [(r.version, r.size, r.pinned) for r in listed] == [(VERSION, 2048, ())]

    before = state(fleet)
    with pytest.raises(Invalid) as again:
        add(fleet, files, tmp_path)
    assert any("already in the repository" in p.message for p in again.value.problems)
    assert state(fleet) == before and stored_files(files) == [added.files[0].sha256]

    removed = firmware.remove_release(fleet, ADMIN, files, "aastra", VERSION)
    assert removed.version == VERSION
    assert stored_files(files) == [] and firmware.list_releases(fleet, ADMIN) == []
    assert audit(fleet, "release")[-1] == ("delete", "release", f"aastra {VERSION}")
    with pytest.raises(NotFound, match=f"no aastra release {VERSION}"):
        firmware.remove_release(fleet, ADMIN, files, "aastra", VERSION)


def test_an_operator_pins_but_neither_adds_nor_removes_releases(fleet, files, tmp_path):
    with pytest.raises(Denied):
        add(fleet, files, tmp_path, actor=OPERATOR)
    assert stored_files(files) == []  # refused before a byte was copied
    add(fleet, files, tmp_path)
    firmware.set_pin(fleet, OPERATOR, PinOwner(site="hq"), VERSION)
    with pytest.raises(Denied):
        firmware.remove_release(fleet, OPERATOR, files, "aastra", VERSION)
    with pytest.raises(Conflict, match=r"is pinned \(site hq\); unpin it first"):
        firmware.remove_release(fleet, ADMIN, files, "aastra", VERSION)
    assert len(stored_files(files)) == 1


def test_a_viewer_is_refused_every_firmware_change_and_nothing_changes(fleet, files, tmp_path):
    add(fleet, files, tmp_path)
    firmware.set_pin(fleet, ADMIN, PinOwner(site="lab"), "none")
    before = state(fleet)
    for change in (
        lambda: firmware.set_pin(fleet, VIEWER, PinOwner(site="hq"), VERSION),
        lambda: firmware.set_pin(fleet, VIEWER, PinOwner(model="6757i"), VERSION),
        lambda: firmware.remove_pin(fleet, VIEWER, PinOwner(site="lab")),
        lambda: firmware.promote_pins(fleet, VIEWER, None),
        lambda: add(fleet, files, tmp_path, version="4.1.0.200", actor=VIEWER),
        lambda: firmware.remove_release(fleet, VIEWER, files, "aastra", VERSION),
    ):
        with pytest.raises(Denied):
            change()
        assert state(fleet) == before
    with fleet.sessions() as session:  # not even the model profile a model pin needs
        assert session.scalar(select(func.count()).select_from(ModelProfile)) == 0
    # but a viewer reads
    assert [row.version for row in firmware.list_releases(fleet, VIEWER)] == [VERSION]
    assert {row.mac for row in firmware.firmware_report(fleet, VIEWER)} == {*HQ, LAB}


def test_a_staged_pin_is_set_promoted_and_removed_each_step_audited(fleet, files, tmp_path):
    add(fleet, files, tmp_path)
    generation = state(fleet)[3]
    pinned = firmware.set_pin(fleet, OPERATOR, PinOwner(site="hq"), VERSION, first_wave="10%")
    assert pinned.changes == (f"firmware -> {VERSION} (first wave 10%)",)
    (pin,) = pinned.pins
    assert (pin.owner, pin.first_wave, len(pin.wave), pin.promoted) == ("site hq", "10%", 1, False)
    assert set(pin.wave) <= set(HQ) and pinned.generation == generation + 1
    assert audit(fleet, "pin") == [("create", "pin", "site hq")]

    report = {row.mac: row for row in firmware.firmware_report(fleet, VIEWER)}
    assert report[pin.wave[0]].target == VERSION and report[pin.wave[0]].pin == "site, first wave"
    assert {report[mac].target for mac in HQ if mac not in pin.wave} == {None}

    again = firmware.set_pin(fleet, OPERATOR, PinOwner(site="hq"), VERSION, first_wave="10%")
    assert again.changes == () and again.generation is None and again.pins[0].wave == pin.wave
    assert len(audit(fleet, "pin")) == 1  # nothing changed, nothing audited

    promoted = firmware.promote_pins(fleet, OPERATOR, PinOwner(site="hq"))
    assert promoted.changes == (f"site hq: {VERSION} promoted to every phone",)
    assert promoted.pins[0].promoted and promoted.generation == generation + 2
    assert audit(fleet, "pin")[-1] == ("promote", "pin", "site hq")
    assert {row.target for row in firmware.firmware_report(fleet, VIEWER) if row.mac in HQ} == {
        VERSION
    }
    with pytest.raises(Conflict, match="no staged pin to promote there"):
        firmware.promote_pins(fleet, OPERATOR, None)

    removed = firmware.remove_pin(fleet, OPERATOR, PinOwner(site="hq"))
    assert removed.pins[0].version == VERSION and removed.generation == generation + 3
    assert audit(fleet, "pin")[-1] == ("delete", "pin", "site hq")
    with pytest.raises(NotFound, match="no such pin"):
        firmware.remove_pin(fleet, OPERATOR, PinOwner(site="hq"))
    with fleet.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FirmwarePin)) == 0
    with fleet.sessions() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.kind == "pin")).all()
    assert {row.actor for row in rows} == {"otto"} and {row.via for row in rows} == {"api"}
    assert rows[0].after["wave"] == list(pin.wave) and rows[-1].after is None


def test_pins_on_a_model_a_phone_and_for_one_model_of_a_site(fleet, files, tmp_path):
    add(fleet, files, tmp_path)
    model = firmware.set_pin(fleet, OPERATOR, PinOwner(model="6757I"), VERSION)
    assert model.pins[0].owner == "model 6757i"
    phone = firmware.set_pin(fleet, OPERATOR, PinOwner(phone="00-08-5d-00-00-01"), "none")
    assert phone.pins[0].owner == "phone 00085D000001"
    narrowed = firmware.set_pin(fleet, OPERATOR, PinOwner(site="lab", applies_to="6731i"),
                                "none")  # fmt: skip
    assert narrowed.pins[0].owner == "site lab (6731i)"
    report = {row.mac: row for row in firmware.firmware_report(fleet, VIEWER)}
    assert report[HQ[0]].target is None and report[HQ[0]].pin == "phone"
    assert report[HQ[1]].target == VERSION and report[HQ[1]].pin == "model"
    assert report[LAB].pin == "site (6731i)"
    assert [key for _, _, key in audit(fleet, "pin")] == [
        "model 6757i", "phone 00085D000001", "site lab (6731i)",
    ]  # fmt: skip


def test_bad_pins_name_their_field_and_change_nothing(fleet, files, tmp_path):
    add(fleet, files, tmp_path)
    before = state(fleet)

    def refused(error, owner, version=VERSION, **options):
        with pytest.raises(error) as caught:
            firmware.set_pin(fleet, OPERATOR, owner, version, **options)
        assert state(fleet) == before
        return caught.value

    assert refused(Invalid, PinOwner(site="hq"), "../x").problems[0].where == "version"
    assert refused(Invalid, PinOwner(site="hq"), first_wave="0%").problems[0].where == "first_wave"
    wave = refused(Invalid, PinOwner(site="hq"), first_wave=["00:08:5D:ZZ"]).problems[0]
    assert wave.where == "first_wave" and wave.message.startswith("first wave:")
    assert refused(Invalid, PinOwner()).problems[0].where == "owner"
    assert refused(Invalid, PinOwner(site="hq", model="6757i")).problems[0].where == "owner"
    assert refused(Invalid, PinOwner(model="6757i", applies_to="6757i")).problems[0].where == "for"
    unknown = refused(Invalid, PinOwner(model="9999x")).problems[0]
    assert unknown.where == "model" and "unknown model '9999x'" in unknown.message
    assert refused(NotFound, PinOwner(site="nowhere")).message == "no site 'nowhere'"
    assert "in the inventory" in refused(NotFound, PinOwner(phone="00085D00EEEE")).message
    missing = refused(Invalid, PinOwner(site="hq"), "8.8.8.8").problems
    assert missing[0].where == "site hq" and "has no release" in missing[0].message
    labelled = refused(Invalid, PinOwner(site="hq"), "8.8.8.8", where="command line").problems
    assert labelled[0].where == "command line"


def test_a_firmware_path_is_named_not_shown(fleet, files, tmp_path, registry):
    add(fleet, files, tmp_path)
    firmware.set_pin(fleet, OPERATOR, PinOwner(site="hq"), VERSION)
    with pytest.raises(NotFound, match="is sent a stored firmware file") as named:
        devices.rendered_file(fleet, registry, VIEWER, HQ[0], "6757i.st", firmware_files=files)
    assert f"({2048} bytes" in named.value.message
    with pytest.raises(NotFound, match=r"not served to .* \(no firmware repository\)"):
        devices.rendered_file(fleet, registry, VIEWER, HQ[0], "6757i.st")
