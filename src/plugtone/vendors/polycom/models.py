"""Polycom SoundPoint IP and SoundStation IP models (SIP application 3.x).

Each model has the name the inventory uses (``IP650``), the token the phone reports in
its User-Agent (``SPIP_650``) and the token the master file uses for per-model
elements (``APPLICATION_SPIP650``, ``APP_FILE_PATH_SPIP650``). The tokens are the
vendor's, as in its stock ``000000000000.cfg``; the names people use ("SoundPoint IP
650", "IP 650") are aliases so an inventory may say either.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugtone.vendors.base import ModelSpec


@dataclass(frozen=True)
class PolycomModel:
    spec: ModelSpec
    token: str
    """The master file's model token: ``SPIP650`` in ``APPLICATION_SPIP650``."""


def _model(name: str, token: str, reported: str, label: str) -> PolycomModel:
    aliases = (reported, label)
    if name != token:
        aliases = (*aliases, token)
    return PolycomModel(ModelSpec(name=name, aliases=aliases, description=label), token)


MODELS: tuple[PolycomModel, ...] = (
    _model("IP321", "SPIP321", "SPIP_321", "SoundPoint IP 321"),
    _model("IP331", "SPIP331", "SPIP_331", "SoundPoint IP 331"),
    _model("IP335", "SPIP335", "SPIP_335", "SoundPoint IP 335"),
    _model("IP560", "SPIP560", "SPIP_560", "SoundPoint IP 560"),
    _model("IP650", "SPIP650", "SPIP_650", "SoundPoint IP 650"),
    _model("SSIP6000", "SSIP6000", "SSIP_6000", "SoundStation IP 6000"),
    _model("SSIP7000", "SSIP7000", "SSIP_7000", "SoundStation IP 7000"),
)
