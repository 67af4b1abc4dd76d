"""What each plug-in tells the admin UI: its models' key layouts and the raw names of the
neutral settings.

The layouts hold the model table's key counts, with every key where the files put it;
the raw names are checked against the files themselves: every name pattern a plug-in
gives for a neutral setting matches a name its files for a phone with every site setting
set really write, so the settings page never claims an override that does nothing.
"""

from __future__ import annotations

import re
from dataclasses import replace
from fnmatch import fnmatchcase

import pytest

from plugtone.vendors import default_registry
from plugtone.vendors.base import (
    BrandingView,
    FileScope,
    FirmwareFile,
    FirmwareView,
    Image,
    KeyView,
    LineView,
    PhoneView,
    SiteView,
)

SITE = SiteView(
    name="hq", sip_server="pbx.example", sip_port=5070, sip_transport="tcp",
    timezone="Pacific/Auckland", ntp_servers=("ntp1.example", "ntp2.example", "ntp3.example"),
    dial_plan="[1-7]xx|9xxxxxxx", digit_timeout=5, voicemail="*97", conference="conf",
    dtmf_method="info", registration_period=600, codecs=("g722", "pcma", "pcmu"),
    config_server="ftp://prov:secret@10.0.0.5/phones", resync_time="02:00", nat=True,
    public_url="http://10.0.0.5:8080",
)  # fmt: skip
LINES = (LineView(1, "201", "Ann", "201", "pw1"), LineView(2, "202", "Bob", "202", "pw2"))
PHONES = {
    "aastra": [
        ("6757i", (KeyView("blf", "203", "Cy"), KeyView("speeddial", "9", "Out", family="expmod1 key",
                                                       slot=1))),
        ("6755i", tuple(KeyView("speeddial", f"8{n}", "Lab") for n in range(7))),  # 6 prgkeys
    ],
    # the same phone at sites whose configuration server has another scheme
    "aastra+": [(f"6757i@{url}", ()) for url in ("tftp://10.0.0.5", "http://10.0.0.5/p",
                                                  "https://10.0.0.5:8443/p")],
    "polycom": [("IP650", (KeyView("line", line=1), KeyView("blf", "203", "Cy"),
                           KeyView("speeddial", "9", "Out")))],
    "cisco79xx": [("7960", (KeyView("speeddial", "9", "Out"),
                            KeyView("services", "http://10.0.0.5/services")))],
}  # fmt: skip


def view(vendor: str, model: str, keys: tuple[KeyView, ...]) -> PhoneView:
    """The phone; ``model@url`` puts it at a site with that configuration server."""
    model, _, server = model.partition("@")
    site = replace(SITE, config_server=server) if server else SITE
    logo = Image("0" * 64, _png())
    release = FirmwareView(vendor, "8.12.00", (model,), (
        FirmwareFile("P0S3-8-12-00.loads", "1" * 64, 10, "loads"),
        FirmwareFile("P0S3-8-12-00.sb2", "2" * 64, 10, "image"),
    ))  # fmt: skip
    return PhoneView("00085D000009", model, vendor, site, LINES, keys,
                     branding=BrandingView("look", logo=logo),
                     firmware=release if vendor == "cisco79xx" else None)  # fmt: skip


def _png() -> bytes:
    import io

    from PIL import Image as Picture

    out = io.BytesIO()
    Picture.new("RGB", (20, 10)).save(out, "PNG")
    return out.getvalue()


def written_names(vendor: str) -> set[str]:
    """Every setting name the plug-in's own files for the phones above write."""
    plugin = default_registry().get(vendor)
    names: set[str] = set()
    for model, keys in PHONES[vendor] + PHONES.get(f"{vendor}+", []):
        phone = view(vendor, model, keys)
        for path in plugin.served_files([phone.model], [phone.mac]):
            ref = plugin.match(path)
            if ref is None or ref.scope is not FileScope.DEVICE:
                continue
            text = (plugin.render(ref, phone, None) or b"").decode("utf-8", "replace")
            names |= {m.strip() for m in re.findall(r"^\s*([A-Za-z0-9_][^:#\n]*?)\s*:", text, re.M)}
            names |= set(re.findall(r"([A-Za-z][A-Za-z0-9_.]*)=\"", text))
    return {plugin.setting_name_key(name) for name in names}


@pytest.mark.parametrize("vendor", ["aastra", "cisco79xx", "polycom"])
def test_every_raw_name_of_a_neutral_setting_is_one_the_files_write(vendor):
    plugin = default_registry().get(vendor)
    written = written_names(vendor)
    patterns = plugin.neutral_setting_names()
    assert {"sip_server", "timezone", "lines", "keys"} <= set(patterns)
    for neutral, names in patterns.items():
        for pattern in names:
            key = plugin.setting_name_key(pattern)
            assert any(fnmatchcase(name, key) for name in written), (neutral, pattern)


def test_each_plug_in_lays_its_models_keys_out_with_the_model_tables_counts():
    registry = default_registry()
    aastra = registry.get("aastra").key_layout(view("aastra", *PHONES["aastra"][0]))
    families = {group.family: group for group in aastra.groups}
    assert [len(families[name].faces) for name in ("topsoftkey", "softkey", "expmod1 key")] == [
        10, 20, 60]  # fmt: skip
    assert families["topsoftkey"].faces[0].label == "Cy" and families["topsoftkey"].faces[1].empty
    assert families["expmod1 key"].faces[0].value == "9" and families["expmod1 key"].per_page == 20
    prg = registry.get("aastra").key_layout(view("aastra", *PHONES["aastra"][1])).groups[0]
    assert (prg.family, len(prg.faces), prg.faces[0].value) == ("prgkey", 6, "80")

    polycom = registry.get("polycom").key_layout(view("polycom", *PHONES["polycom"][0]))
    faces = polycom.groups[0].faces
    assert [face.type for face in faces] == ["line", "line", "blf", "speeddial", "empty", "empty"]
    cisco = registry.get("cisco79xx").key_layout(view("cisco79xx", *PHONES["cisco79xx"][0]))
    buttons = cisco.groups[0].faces
    assert [face.type for face in buttons] == ["line", "line", "speeddial", "empty", "empty",
                                               "empty"]  # fmt: skip
    assert "http://10.0.0.5/services" in cisco.note
