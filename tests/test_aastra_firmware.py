"""Aastra firmware: image names, releases, versions, the loop guard and the flash loop.

The last tests boot the emulator against a small stand-in for the server that keeps
per-device firmware state the way the issue describes (running version from the
User-Agent, delivery and attempts per pin) and asks the plug-in's own offer policy.
The end-to-end test over HTTP and TFTP against ``plugtone serve`` lives with the server.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import pytest

from plugtone.vendors.aastra import AastraPlugin
from plugtone.vendors.aastra.firmware import MAX_ATTEMPTS
from plugtone.vendors.base import (
    BrandingView,
    FileRef,
    FileScope,
    FirmwareDevice,
    FirmwareFile,
    FirmwareView,
    Image,
    LineView,
    PhoneView,
    SiteView,
    VendorPlugin,
)
from tests.emulators.aastra import AastraPhone, make_image, parse_aastra, read_image_version

PLUGIN = AastraPlugin()
OLD, PINNED = "3.2.2.1136", "3.3.1.4322"


def image_file(name: str, content: bytes) -> FirmwareFile:
    return FirmwareFile(name, hashlib.sha256(content).hexdigest(), len(content))


def release(*names: str, models: tuple[str, ...] = ("6757i",), version: str = PINNED):
    return FirmwareView(
        vendor="aastra",
        version=version,
        models=models,
        files=tuple(image_file(name, make_image(version)) for name in names),
    )


def phone(model: str = "6757i", **overrides) -> PhoneView:
    site = SiteView(
        name="hq",
        sip_server="pbx.example.com",
        vendor_settings={"aastra": {"sip mode": "1", "language 1": "lang_fr.txt"}},
    )
    values = {
        "mac": "00085D000001",
        "model": model,
        "vendor": "aastra",
        "site": site,
        "lines": (LineView(1, "201", "Ann", "201", "pw1"),),
        "keys": (),
        "firmware": release("6757i.st", "6869i.st", models=("6757i", "6869i")),
    }
    values.update(overrides)
    return PhoneView(**values)


def device(running: str | None = None, delivered: bool = False, attempts: int = 0):
    return FirmwareDevice(running_version=running, delivered=delivered, attempts=attempts)


def offer(path: str, view: PhoneView, state: FirmwareDevice) -> FirmwareFile | None:
    ref = PLUGIN.match(path)
    assert ref is not None and ref.scope is FileScope.FIRMWARE
    return PLUGIN.offer_firmware(ref, view, state)


# -- names, roles, releases


def test_every_known_model_token_dot_st_is_the_application_image():
    for name in ("6757i.st", "57i.st", "6869i.ST", "9143i.st", "43i.st", "6757i-CT.st"):
        assert PLUGIN.firmware_role(name) == "application", name
    assert PLUGIN.firmware_role("firmware/6731i.st") == "application"
    for name in ("6999i.st", ".st", "6757i.cfg", "lang_fr.txt", "aastra.tuz", "6757i.st.bak"):
        assert PLUGIN.firmware_role(name) is None, name


def test_release_problems_name_each_model_without_its_image():
    assert PLUGIN.check_release(["6757i", "6869i"], ["6757i.st", "6869I.ST", "readme.txt"]) == []
    assert PLUGIN.check_release(["6757i"], ["57i.st"]) == []  # older packages
    assert PLUGIN.check_release(["6757i", "6869i", "6731i"], ["6869i.st"]) == [
        "no 6757i.st (or 57i.st) for model 6757i",
        "no 6731i.st (or 31i.st) for model 6731i",
    ]
    assert PLUGIN.check_release(["6869i"], ["6867i.st"]) == ["no 6869i.st for model 6869i"]
    assert PLUGIN.check_release(["7960"], ["6757i.st"]) == ["7960 is not an Aastra model"]


def test_image_requests_are_firmware_files_named_as_asked():
    root = PLUGIN.match("6757i.st")
    assert root == FileRef("aastra", "6757i.st", FileScope.FIRMWARE, model="6757i")
    sub = PLUGIN.match("firmware/6869i.st")
    assert (sub.name, sub.scope, sub.model) == ("6869i.st", FileScope.FIRMWARE, "6869i")
    assert PLUGIN.match("FIRMWARE/6869I.ST").name == "6869I.ST"
    assert PLUGIN.match("57i.st").model == "6757i"
    assert PLUGIN.match("a/b/57iCT.st").model == "6757i-CT"
    for path in ("6999i.st", "firmware/.st", "../6757i.st", "a//6757i.st", "./6757i.st"):
        assert PLUGIN.match(path) is None, path


def test_config_matches_are_unchanged_by_image_matching():
    assert PLUGIN.match("aastra.cfg").scope is FileScope.COMMON
    assert PLUGIN.match("6757i.cfg").scope is FileScope.MODEL
    assert PLUGIN.match("00085D000001.cfg").scope is FileScope.DEVICE
    assert PLUGIN.match("sub/aastra.cfg") is None
    assert PLUGIN.match("firmware/6757i.cfg") is None
    ref = PLUGIN.match("6757i.st")
    assert PLUGIN.render(ref, phone(), None) is None  # images are never rendered


# -- versions


def test_user_agent_versions_come_out_as_admins_write_them():
    facts = PLUGIN.identify("Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.0.70-SIP")
    assert facts.firmware_version == "3.2.0.70"
    assert PLUGIN.identify("Aastra57i MAC:00-08-5D-00-00-01 V:2.6.0.1008").firmware_version == (
        "2.6.0.1008"
    )
    assert PLUGIN.identify("Mitel6869i MAC:14-00-E9-1E-DB-52 V:5.1.0.2051-sip").model == "6869i"


def test_versions_match_ignoring_case_wrapping_and_leading_zeros():
    assert PLUGIN.version_matches("3.3.1.4322-SIP", "3.3.1.4322")
    assert PLUGIN.version_matches("V:3.3.1.4322-SIP", " 3.3.1.4322 ")
    assert PLUGIN.version_matches("4.0.0.1A-sip", "4.0.0.1a")
    assert PLUGIN.version_matches("3.2.0.070", "3.2.0.70")
    assert not PLUGIN.version_matches("3.2.2.1136", "3.3.1.4322")
    assert not PLUGIN.version_matches("3.3.1", "3.3.1.4322")


# -- the offer policy


def test_a_phone_on_the_pinned_version_gets_nothing():
    assert offer("6757i.st", phone(), device(running=PINNED)) is None
    assert offer("6757i.st", phone(), device(running=f"{PINNED}-SIP")) is None


def test_a_phone_on_another_version_is_offered_until_the_attempts_run_out():
    for attempts in range(MAX_ATTEMPTS):
        got = offer("6757i.st", phone(), device(running=OLD, attempts=attempts))
        assert got is not None and got.name == "6757i.st"
    assert offer("6757i.st", phone(), device(running=OLD, attempts=MAX_ATTEMPTS)) is None
    # a known older version still gets it after a delivery that did not take
    assert offer("6757i.st", phone(), device(running=OLD, delivered=True, attempts=1))


def test_a_phone_of_unknown_version_is_served_once_per_pin():
    assert offer("6757i.st", phone(), device()) is not None
    assert offer("6757i.st", phone(), device(delivered=True, attempts=1)) is None
    # offered but not completely sent (a transfer cut short): it may try again, a few times
    assert offer("6757i.st", phone(), device(attempts=1)) is not None
    assert offer("6757i.st", phone(), device(attempts=MAX_ATTEMPTS)) is None


def test_an_image_is_never_served_to_another_model():
    assert offer("6869i.st", phone("6757i"), device(running=OLD)) is None
    assert offer("6757i.st", phone("6869i"), device(running=OLD)) is None
    assert offer("6869i.st", phone("6869i"), device(running=OLD)).name == "6869i.st"
    # a release not for the phone's model, whatever files it holds
    only_6869 = release("6757i.st", "6869i.st", models=("6869i",))
    assert offer("6757i.st", phone(firmware=only_6869), device(running=OLD)) is None
    # a release without this model's image
    assert offer("6757i.st", phone(firmware=release("6869i.st")), device(running=OLD)) is None


def test_no_pin_means_no_image():
    assert offer("6757i.st", phone(firmware=None), device(running=OLD)) is None


def test_an_old_package_name_serves_the_model_asking_by_its_full_name_and_back():
    old_package = phone(firmware=release("57i.st"))
    assert offer("6757i.st", old_package, device(running=OLD)).name == "57i.st"
    assert offer("firmware/57I.ST", phone(), device(running=OLD)).name == "6757i.st"


def test_a_versioned_request_for_another_release_gets_nothing():
    ref = replace(PLUGIN.match("6757i.st"), version="3.2.0.70")
    assert PLUGIN.offer_firmware(ref, phone(), device(running=OLD)) is None
    ref = replace(ref, version=f"{PINNED}-SIP")
    assert PLUGIN.offer_firmware(ref, phone(), device(running=OLD)) is not None


# -- branding


def test_branding_settings_sit_between_site_and_model_and_raw_keys_win():
    branding = BrandingView(
        name="acme",
        logo=Image("0" * 64, b"\x89PNG"),
        vendor_settings={"aastra": {"Language 1": "lang_de.txt", "sip mode": "7", "x": "1"}},
    )
    view = phone(branding=branding, phone_settings={"sip mode": "3"})
    ref = FileRef("aastra", "mac.cfg", FileScope.DEVICE, mac=view.mac)
    settings = parse_aastra(PLUGIN.render(ref, view, None).decode())
    assert settings["language 1"] == "lang_de.txt"  # branding over site
    assert settings["x"] == "1"
    assert settings["sip mode"] == "3"  # the phone's raw key over branding
    # a logo has no Aastra key to carry it: the file is what it was without one
    without_logo = replace(view, branding=replace(branding, logo=None))
    assert PLUGIN.render(ref, without_logo, None) == PLUGIN.render(ref, view, None)


# -- the emulator's flash-and-reboot loop


@dataclass
class DeviceRecord:
    remembered: str | None = None
    fresh: bool = False
    """The remembered version was reported after the last delivery, so it is current."""
    delivered: bool = False
    attempts: int = 0


@dataclass
class FakeServer:
    """Answers an Aastra phone as the resolver would, for one pinned phone.

    ``transport`` ``"http"`` passes the User-Agent, ``"tftp"`` passes none (the phone
    is known by an earlier ``<MAC>.cfg`` request from its address, its version only
    from what was remembered).
    """

    view: PhoneView
    images: dict[str, bytes]
    plugin: VendorPlugin = PLUGIN
    transport: str = "http"
    record: DeviceRecord = field(default_factory=DeviceRecord)
    served: list[str] = field(default_factory=list)

    def fetch_for(self, emulated: AastraPhone):
        if self.transport == "http":
            return emulated.over_http(self)
        return lambda path: self.answer(path, None)

    def get(self, url: str, *, headers: dict[str, str]) -> SimpleNamespace:
        """What the emulator's ``over_http`` calls, as on an ``httpx.Client``."""
        status, body = self.answer(url.removeprefix("/"), headers.get("User-Agent"))
        return SimpleNamespace(status_code=status, content=body)

    def answer(self, path: str, user_agent: str | None) -> tuple[int, bytes]:
        facts = self.plugin.identify(user_agent)
        if facts is not None and facts.firmware_version:
            self.record.remembered, self.record.fresh = facts.firmware_version, True
        ref = self.plugin.match(path)
        if ref is None:
            return 404, b""
        if ref.scope is not FileScope.FIRMWARE:
            body = self.plugin.render(ref, self.view, None)
            return (200, body) if body is not None else (404, b"")
        running = self.record.remembered if self.record.fresh else None
        state = FirmwareDevice(running, self.record.delivered, self.record.attempts)
        offered = self.plugin.offer_firmware(ref, self.view, state)
        if offered is None:
            return 404, b""
        self.record.attempts += 1
        self.record.delivered, self.record.fresh = True, False
        self.served.append(offered.name)
        return 200, self.images[offered.sha256]


def pinned_server(image_name: str = "6757i.st", **overrides) -> FakeServer:
    content = make_image(PINNED)
    pin = FirmwareView("aastra", PINNED, ("6757i",), (image_file(image_name, content),))
    return FakeServer(
        phone(firmware=pin), {hashlib.sha256(content).hexdigest(): content}, **overrides
    )


def test_image_header_round_trips():
    assert read_image_version(make_image("3.3.1.4322", size=100)) == "3.3.1.4322"
    assert len(make_image("1", size=100)) == 100
    with pytest.raises(AssertionError):
        read_image_version(b"# generated by plugtone\n")


def test_existing_boot_api_asks_for_configs_only():
    server = pinned_server()
    emulated = AastraPhone(mac="00085D000001", model="6757i", firmware=OLD)
    assert emulated.boot(server.fetch_for(emulated)) is False
    assert [name for name, _ in emulated.fetched] == [
        "aastra.cfg",
        "6757i.cfg",
        "00085D000001.cfg",
    ]
    assert server.served == []


@pytest.mark.parametrize("transport", ["http", "tftp"])
def test_an_old_6757i_gets_the_image_once_then_never_again(transport):
    server = pinned_server(transport=transport)
    emulated = AastraPhone(mac="00085D000001", model="6757i", firmware=OLD, checks_firmware=True)
    downloads = emulated.boot_until_stable(server.fetch_for(emulated))
    assert [(d.name, d.from_version, d.to_version) for d in downloads] == [
        ("6757i.st", OLD, PINNED)
    ]
    assert emulated.firmware == PINNED and emulated.reboots == 1
    assert emulated.user_agent.endswith(f"V:{PINNED}-SIP")
    assert emulated.fetched[-1] == ("6757i.st", 404)
    assert emulated.settings["sip line1 user name"] == "201"
    for _ in range(5):  # daily resyncs and power cuts
        assert emulated.boot_until_stable(server.fetch_for(emulated)) == []
    assert server.served == ["6757i.st"] and emulated.boots == 7


def test_an_old_package_image_reaches_a_phone_asking_under_a_sub_path():
    server = pinned_server(image_name="57i.st")
    emulated = AastraPhone(
        mac="00085D000001",
        model="6757i",
        firmware=OLD,
        checks_firmware=True,
        firmware_path="firmware/",
    )
    downloads = emulated.boot_until_stable(server.fetch_for(emulated))
    assert [d.name for d in downloads] == ["firmware/6757i.st"]
    assert server.served == ["57i.st"] and emulated.firmware == PINNED


def test_a_phone_whose_flash_does_not_take_stops_getting_the_image():
    server = pinned_server()
    emulated = AastraPhone(
        mac="00085D000001",
        model="6757i",
        firmware=OLD,
        checks_firmware=True,
        image_version=lambda body: OLD,  # it reboots on its old image every time
    )
    downloads = emulated.boot_until_stable(server.fetch_for(emulated), max_boots=MAX_ATTEMPTS + 1)
    assert len(downloads) == MAX_ATTEMPTS
    assert emulated.firmware == OLD


def test_another_models_image_request_is_not_found():
    server = pinned_server()
    emulated = AastraPhone(
        mac="00085D000001", model="6757i", firmware=OLD, checks_firmware=True, image_name="6869i.st"
    )
    assert emulated.boot_until_stable(server.fetch_for(emulated)) == []


def test_without_the_guard_the_phone_loops_as_the_seed_warns():
    class Unguarded(AastraPlugin):
        def offer_firmware(self, ref, phone, device):
            return VendorPlugin.offer_firmware(self, ref, phone, device)

    server = pinned_server(plugin=Unguarded())
    emulated = AastraPhone(mac="00085D000001", model="6757i", firmware=OLD, checks_firmware=True)
    with pytest.raises(AssertionError, match="still flashing after 4 boots"):
        emulated.boot_until_stable(server.fetch_for(emulated), max_boots=4)
    assert len(emulated.downloads) == 4
