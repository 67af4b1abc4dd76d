"""A site's ``tr069:`` entry in the inventory file: stored (password sealed), exported
masked, applied back unchanged, and refused with its place when wrong."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from plugtone.inventory.document import parse_document
from plugtone.inventory.models import Site
from plugtone.inventory.yaml_source import load_located
from plugtone.services.actors import local_admin
from plugtone.services.inventory import apply_inventory, export_inventory_yaml
from plugtone.services.unit_of_work import MASK
from plugtone.vendors import default_registry
from tests.conftest import apply_text

SITE = """\
sites:
  - name: hq
    sip_server: 10.0.0.1
    tr069: {enabled: true, bootstrap_username: acs, bootstrap_password: "s3cret",
            periodic_inform_interval: 3600}
"""


def test_tr069_is_stored_sealed_exported_masked_and_applies_back_unchanged(store):
    apply_text(store, SITE)
    with store.sessions() as session:
        site = session.scalars(select(Site)).one()
        assert site.tr069 == {"enabled": True, "bootstrap_username": "acs",
                              "periodic_inform_interval": 3600, "allow_basic": False}  # fmt: skip
        assert site.tr069_password == "s3cret"
        raw = session.execute(text("SELECT tr069_password FROM sites")).scalar()
        assert "s3cret" not in raw
    exported = export_inventory_yaml(store, local_admin())
    assert "s3cret" not in exported and MASK in exported and "bootstrap_username: acs" in exported
    document, problems = parse_document(load_located(exported, "i.yaml"), default_registry())
    assert problems == []
    result = apply_inventory(store, local_admin(), document, default_registry())
    assert result.changes == []  # the mask keeps the stored password
    with store.sessions() as session:
        assert session.scalar(select(Site.tr069_password)) == "s3cret"


@pytest.mark.parametrize(
    ("entry", "wanted"),
    [
        ("{enabled: true, bootstrap_password: x}", "missing required field 'bootstrap_username'"),
        ("{enabled: true, bootstrap_username: acs, bootstrap_password: x, "
         "periodic_inform_interval: 5}", "out of range 30..604800"),
        ("{enabled: yes please}", "expected true or false"),
        ("{colour: red}", "unknown field 'colour'"),
    ],
)  # fmt: skip
def test_a_bad_tr069_entry_is_refused_at_its_place(store, entry, wanted):
    text_ = f"sites:\n  - name: hq\n    sip_server: 10.0.0.1\n    tr069: {entry}\n"
    with pytest.raises(AssertionError) as refused:
        apply_text(store, text_)
    assert wanted in str(refused.value)


def test_the_aastra_file_carries_the_tr69_settings_when_the_site_enables_tr069(store):
    from plugtone.acs.datamodel import connection_login
    from plugtone.provisioning.views import load_phone
    from plugtone.vendors.aastra import mac_settings
    from plugtone.vendors.aastra.names import documented

    text_ = SITE.replace("    sip_server: 10.0.0.1\n",
                         "    sip_server: 10.0.0.1\n    public_url: http://acs.example\n")  # fmt: skip
    apply_text(store, text_ + "phones:\n  - {mac: 00085D000001, model: 6757i, site: hq}\n")
    with store.sessions() as session:
        settings, _ = mac_settings(load_phone(session, "00085D000001"))
    user, password = connection_login("00085D000001", "s3cret")
    assert settings["tr69 server"] == "http://acs.example/cwmp"
    assert settings["tr69 server port"] == "80"
    assert (settings["tr69 username"], settings["tr69 password"]) == ("acs", "s3cret")
    assert settings["tr69 connection request username"] == user
    assert settings["tr69 connection request password"] == password
    assert settings["tr69 periodic inform enable"] == "1"
    assert settings["tr69 periodic inform interval"] == "3600"
    assert all(documented(name) for name in settings if name.startswith("tr69"))
    # a site without tr069 writes none of them
    apply_text(store, text_.split("    tr069")[0] + "phones:\n  - {mac: 00085D000001, "
               "model: 6757i, site: hq}\n")  # fmt: skip
    with store.sessions() as session:
        settings, _ = mac_settings(load_phone(session, "00085D000001"))
    assert not [name for name in settings if name.startswith("tr69")]
