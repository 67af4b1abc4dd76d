"""Polycom SoundPoint IP and SoundStation IP models (SIP application 3.x).

Each model has the name the inventory uses (``IP650``), the token the phone reports in
its User-Agent (``SPIP_650``) and the token the master file uses for per-model
elements (``APPLICATION_SPIP650``, ``APP_FILE_PATH_SPIP650``). The tokens are the
vendor's, as in its stock ``000000000000.cfg``; the names people use ("SoundPoint IP
650", "IP 650") are aliases so an inventory may say either.

A model's part number names its own files in a split firmware release
(``2345-12600-001.sip.ld``, ``2345-12600-001.bootrom.ld``); the BootROM asks for the
file of its own part number. The numbers are taken from PolyPyTools
(mjmunger/PolyPyTools, ``poly_py_tools/provision/model_meta.py``), the only public
table found that pairs models with part numbers; the numbers themselves match the
file lists of vendor releases (xivo-fetchfw's SIP 3.x application list, a Puppet
module's BootROM list), and the IP 650's is the one docs/phone-formats cites. A
model added without a confirmed number gets ``None``: it is then served the
combined ``sip.ld`` only, never another model's image.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugtone.vendors.base import ModelSpec


@dataclass(frozen=True)
class PolycomModel:
    spec: ModelSpec
    token: str
    """The master file's model token: ``SPIP650`` in ``APPLICATION_SPIP650``."""
    part_number: str | None = None
    """The vendor's part number (``2345-12600-001``), prefix of the model's own images."""


def _model(
    name: str, token: str, reported: str, label: str, part_number: str | None
) -> PolycomModel:
    aliases = (reported, label)
    if name != token:
        aliases = (*aliases, token)
    spec = ModelSpec(name=name, aliases=aliases, description=label)
    return PolycomModel(spec, token, part_number)


MODELS: tuple[PolycomModel, ...] = (
    _model("IP321", "SPIP321", "SPIP_321", "SoundPoint IP 321", "2345-12360-001"),
    _model("IP331", "SPIP331", "SPIP_331", "SoundPoint IP 331", "2345-12365-001"),
    _model("IP335", "SPIP335", "SPIP_335", "SoundPoint IP 335", "2345-12375-001"),
    _model("IP560", "SPIP560", "SPIP_560", "SoundPoint IP 560", "2345-12560-001"),
    _model("IP650", "SPIP650", "SPIP_650", "SoundPoint IP 650", "2345-12600-001"),
    _model("SSIP6000", "SSIP6000", "SSIP_6000", "SoundStation IP 6000", "3111-15600-001"),
    _model("SSIP7000", "SSIP7000", "SSIP_7000", "SoundStation IP 7000", "3111-40000-001"),
)
BY_NAME: dict[str, PolycomModel] = {model.spec.name: model for model in MODELS}
"""Models by inventory name (the canonical name a ``PhoneView`` carries)."""
BY_PART_NUMBER: dict[str, PolycomModel] = {
    model.part_number: model for model in MODELS if model.part_number
}
