"""A model file holding a raw setting its vendor calls secret: sent with it to a trusted
requester (and audited as a disclosure, whoever the phone), sent without it to a stranger."""

from __future__ import annotations

from plugtone.provisioning.resolver import FileRequest, Resolver, Status
from plugtone.provisioning.trust import Trust, parse_network_rules
from plugtone.vendors import default_registry

from .conftest import apply_text

INVENTORY = """
sites:
  - {name: hq, sip_server: 10.0.0.10}
models:
  - model: 6757i
    vendor_settings: {aastra: {admin password: Mdl-raw-7731, sip mode: "0"}}
  - model: 6731i
    vendor_settings: {aastra: {sip mode: "0"}}
"""


def test_a_secret_model_setting_is_audited_when_sent_and_kept_from_strangers(store):
    apply_text(store, INVENTORY)
    resolver = Resolver(store, default_registry(),
                        trusted_networks=parse_network_rules(["10.0.0.0/8"]))  # fmt: skip

    trusted = resolver.resolve(FileRequest("6757i.cfg", "tftp", client_address="10.1.1.1"))
    assert trusted.status is Status.OK and trusted.trust is Trust.TRUSTED_NETWORK
    assert b"admin password: Mdl-raw-7731" in trusted.content and trusted.secrets

    plain = resolver.resolve(FileRequest("6731i.cfg", "tftp", client_address="10.1.1.1"))
    assert b"sip mode: 0" in plain.content and not plain.secrets

    stranger = resolver.resolve(FileRequest("6757i.cfg", "tftp", client_address="192.0.2.9"))
    assert stranger.status is Status.OK and stranger.trust is Trust.STRANGER
    assert b"Mdl-raw-7731" not in stranger.content and b"sip mode: 0" in stranger.content
    assert not stranger.secrets
