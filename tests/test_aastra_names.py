"""Every parameter name the Aastra plug-in writes is one the vendor documents.

A rich inventory (every key type, several lines, custom and named zones, every
configuration-server scheme, a firmware pin, branding, a provisioning login) is rendered
for every Aastra model; each name in aastra.cfg, <model>.cfg and <MAC>.cfg must be in
the plug-in's table of documented names (vendors/aastra/names.py). Raw vendor settings
are left out: their names are the admin's.
"""

from __future__ import annotations

from plugtone.vendors.aastra import AastraPlugin
from plugtone.vendors.aastra.models import MODELS
from plugtone.vendors.aastra.names import GROUPS, documented
from plugtone.vendors.base import (
    NEUTRAL_KEY_TYPES,
    BrandingView,
    FileRef,
    FileScope,
    FirmwareFile,
    FirmwareView,
    KeyView,
    LineView,
    ModelView,
    PhoneView,
    SiteView,
)
from tests.emulators.aastra import parse_aastra

PLUGIN = AastraPlugin()
CONFIG_SERVERS = (
    "tftp://10.0.0.5",
    "http://prov.example.com:8080/aastra/",
    "https://prov.example.com/p",
    "ftp://prov-user:ftp%23pw@prov.example.com/aastra",
)
ZONES = ("Europe/Amsterdam", "America/New_York", "Australia/Sydney", "Asia/Tokyo", "Asia/Tehran")
VALUES = {"speeddial": "8001", "blf": "203", "park": "*68;*88;broadworks", "xml": "http://x/a.xml"}


def keys_for(model) -> tuple[KeyView, ...]:
    keys = [
        KeyView(key_type, value=VALUES.get(key_type), label=f"L {key_type}",
                line=2 if key_type in ("line", "blf") else None)
        for key_type in NEUTRAL_KEY_TYPES
    ]  # fmt: skip
    own = sum(count for family, count in model.own_families)
    keys = keys[:own]
    if any(family.startswith("expmod") for family, _ in model.families):
        keys.append(KeyView("speeddial", value="9", family="expmod2 key", slot=7))
    return tuple(keys)


def views(model) -> list[PhoneView]:
    found = []
    release = FirmwareView("aastra", "3.3.1.4322", (model.spec.name,),
                           (FirmwareFile(f"{model.spec.name}.st", "ab" * 32, 10),))  # fmt: skip
    for index, zone in enumerate(ZONES):
        site = SiteView(
            name="hq", sip_server="pbx.example.com", sip_port=5080, sip_transport="tcp",
            timezone=zone, ntp_servers=("ntp1", "ntp2", "ntp3", "ntp4"), dial_plan="[2-8]xxx",
            digit_timeout=5, voicemail="*97", conference="conf", dtmf_method="info",
            codecs=("g722", "pcmu", "pcma", "g729"), resync_time="03:30",
            config_server=CONFIG_SERVERS[index % len(CONFIG_SERVERS)],
            tr069={"enabled": True, "bootstrap_username": "acs", "periodic_inform_interval": 600,
                   "acs_url": "https://acs.example.com:7548/cwmp", "connection_request_port": 7547,
                   "connection_request_path": "aastra", "trusted_certificates": "ca.pem"},
            tr069_password="s3cret",
        )  # fmt: skip
        lines = tuple(
            LineView(n, f"20{n}", f"Name {n}", f"auth{n}", f"pw{n}")
            for n in range(1, model.max_lines + 1)
        )
        found.append(
            PhoneView(
                mac="00085D000051",
                model=model.spec.name,
                vendor="aastra",
                site=site,
                lines=lines,
                keys=keys_for(model),
                firmware=release,
                branding=BrandingView(name="acme"),
                http_user="00085D000051",
                http_password="Zq81pLm0",
            )
        )
    return found


def rendered_names(view: PhoneView) -> set[str]:
    names = set()
    for ref, model_view in (
        (FileRef("aastra", "aastra.cfg", FileScope.COMMON), None),
        (FileRef("aastra", "model.cfg", FileScope.MODEL, model=view.model),
         ModelView(view.model, "aastra")),
        (FileRef("aastra", "mac.cfg", FileScope.DEVICE, mac=view.mac), None),
    ):  # fmt: skip
        body = PLUGIN.render(ref, view if ref.scope is FileScope.DEVICE else None, model_view)
        names |= set(parse_aastra(body.decode()))
    return names


def test_every_name_every_model_is_written_with_is_documented():
    used_sources = set()
    for model in MODELS:
        for view in views(model):
            assert [f.message for f in PLUGIN.check_phone(view) if f.refuse] == [], model
            for name in rendered_names(view):
                source = documented(name)
                assert source is not None, f"{model.spec.name}: {name!r} is in no Aastra guide"
                used_sources.add(source)
    # the inventory is rich enough that every group of the table is written somewhere
    assert used_sources == {group.source for group in GROUPS}


def test_the_table_refuses_names_no_guide_has():
    for name in ("dst config", "prgkey1 label", "expmod1 key1 label", "sip line10 password",
                 "dst [start|end] relative date", "topsoftkey1 states", "sip park pickup config"):  # fmt: skip
        assert documented(name) is None, name
    assert documented("expmod3 key84 value") and documented("sip line9 park pickup config")
