"""Which release a phone should run: the pin rules, alone and through the inventory file."""

from __future__ import annotations

import pytest

from plugtone.firmware.pins import Pin, choose_wave, parse_percent, target
from plugtone.firmware.repository import FileStore, FirmwareError, add_release
from plugtone.inventory.models import FirmwarePin
from plugtone.services.inventory_apply import ApplyRefused
from plugtone.services.inventory_export import export_yaml
from tests.conftest import apply_text

MAC = "00085D000001"


def test_the_most_specific_pin_wins():
    pins = [
        Pin("model", "1.0"),
        Pin("site", "2.0"),
        Pin("site", "3.0", applies_to="aastra"),
        Pin("site", "4.0", applies_to="6757i"),
    ]
    assert target(pins, MAC, "aastra", "6757i").version == "4.0"
    assert target(pins, MAC, "aastra", "6731i").version == "3.0"
    assert target(pins, MAC, "polycom", "IP650").version == "2.0"
    assert target([*pins, Pin("phone", "5.0")], MAC, "aastra", "6757i").version == "5.0"
    assert target([Pin("model", "1.0")], MAC, "aastra", "6757i").version == "1.0"
    assert target([], MAC, "aastra", "6757i").version is None


def test_none_means_leave_the_firmware_alone_even_over_a_model_default():
    outcome = target([Pin("model", "1.0"), Pin("phone", "none")], MAC, "aastra", "6757i")
    assert outcome.version is None and outcome.pin is not None and outcome.pin.level == "phone"


def test_a_staged_pin_reaches_only_its_wave_until_promoted():
    staged = Pin("site", "2.0", previous_version="1.0", first_wave="10%", wave=frozenset({MAC}))
    assert target([staged], MAC, "aastra", "6757i").version == "2.0"
    waiting = target([staged], "00085D000002", "aastra", "6757i")
    assert (waiting.version, waiting.waiting) == ("1.0", True)
    # with no previous version, phones outside the wave fall through to a broader pin
    fresh = Pin("site", "2.0", first_wave="10%", wave=frozenset({MAC}))
    assert target([fresh, Pin("model", "0.9")], "00085D000002", "aastra", "6757i").version == "0.9"
    promoted = Pin("site", "2.0", first_wave="10%", wave=frozenset({MAC}), promoted=True)
    assert target([promoted], "00085D000002", "aastra", "6757i").version == "2.0"


def test_a_percentage_wave_is_exact_stable_and_spread():
    macs = [f"00085D{index:06X}" for index in range(1, 201)]
    wave = choose_wave("10%", "4.0", macs)
    assert len(wave) == 20 and wave <= set(macs)
    assert choose_wave("10%", "4.0", reversed(macs)) == wave
    assert choose_wave("10%", "4.1", macs) != wave
    assert len(choose_wave("1%", "4.0", macs[:5])) == 1  # at least one phone of a set
    assert choose_wave("10%", "4.0", []) == frozenset()
    assert [parse_percent(text) for text in ("10%", "0%", "100%", "x%", "10")] == [
        10.0, None, None, None, None,
    ]  # fmt: skip


@pytest.fixture
def release(store, registry, tmp_path):
    image = tmp_path / "6757i.st"
    image.write_bytes(b"PLUGTONE-TEST-IMAGE V:4.1.0.100\n" + b"x" * 1000)
    with store.sessions() as session:
        add_release(
            session, registry, FileStore(tmp_path / "firmware"), vendor="aastra",
            models=["6757i"], version="4.1.0.100", sources=[image],
        )  # fmt: skip
        session.commit()
    return "4.1.0.100"


def pinned(text: str, line: str) -> str:
    """The example inventory with ``line`` added to the 6757i model default."""
    return text + f"\nmodels:\n  - model: 6757i\n    {line}\n"


def example_without_models() -> str:
    from tests.conftest import EXAMPLE

    text = EXAMPLE.read_text()
    return text.split("\nmodels:")[0] if "\nmodels:" in text else text


def test_pins_in_the_inventory_file_round_trip_and_keep_their_wave(store, release):
    base = example_without_models()
    apply_text(store, pinned(base, "firmware: {version: 4.1.0.100, first_wave: 50%}"))
    with store.sessions() as session:
        pin = session.query(FirmwarePin).one()
        assert pin.first_wave == "50%" and len(pin.wave) == 1  # one 6757i in the example
        pin.promoted = True
        session.commit()
        exported = export_yaml(session)
    assert "first_wave: 50%" in exported
    assert apply_text(store, exported).changes == []  # export, then apply: a no-op
    with store.sessions() as session:
        assert session.query(FirmwarePin).one().promoted  # re-applying does not un-promote


def test_a_pin_without_a_release_is_refused_and_changes_nothing(store, release):
    base = example_without_models()
    apply_text(store, base)
    with store.sessions() as session:
        before = export_yaml(session)
    with pytest.raises(ApplyRefused) as refused:
        apply_text(store, pinned(base, "firmware: 9.9.9"))
    assert "aastra 9.9.9 is pinned for phone 00085D000001 (6757i)" in str(refused.value)
    assert "inventory.yaml:" in str(refused.value)  # says where the pin was written
    with store.sessions() as session:
        assert export_yaml(session) == before


def test_a_site_pin_for_every_phone_must_suit_every_phone(store, release):
    text = example_without_models().replace(
        "  - name: hq\n", "  - name: hq\n    firmware: 4.1.0.100\n", 1
    )
    with pytest.raises(ApplyRefused) as refused:
        apply_text(store, text)
    assert "00085D000002 (6731i)" in str(refused.value)  # the 6731i has no such release
    fixed = text.replace("    firmware: 4.1.0.100\n", "    firmware: {6757i: 4.1.0.100}\n", 1)
    apply_text(store, fixed)


def test_bad_pins_are_reported_with_their_place(store):
    base = example_without_models()
    for line, expected in {
        "firmware: ../etc": "is not a firmware version",
        "firmware: {version: 1.0, first_wave: 0%}": "is not a percentage",
        "firmware: {version: 1.0, first_wave: [nonsense]}": "MAC",
        "firmware: {version: none, first_wave: 10%}": "'none' cannot be staged",
    }.items():
        with pytest.raises(AssertionError) as problem:
            apply_text(store, pinned(base, line))
        assert expected in str(problem.value) and "inventory.yaml:" in str(problem.value), line


def test_adding_a_release_checks_before_writing(store, registry, tmp_path):
    files = FileStore(tmp_path / "firmware")
    stray = tmp_path / "notes.txt"
    stray.write_text("hello")
    cases = [
        (dict(vendor="aastra", models=["9999x"], version="1.0", sources=[stray]), "no model"),
        (dict(vendor="nobody", models=["6757i"], version="1.0", sources=[stray]), "unknown vendor"),
        (dict(vendor="aastra", models=["6757i"], version="a/b", sources=[stray]), "not a usable"),
        (dict(vendor="aastra", models=["6757i"], version="1.0", sources=[stray]), "notes.txt"),
    ]
    for arguments, expected in cases:
        with store.sessions() as session, pytest.raises(FirmwareError) as error:
            add_release(session, registry, files, **arguments)
        assert expected in str(error.value), arguments
    assert not (tmp_path / "firmware" / "sha256").exists()  # nothing was stored
