"""Cisco 7940 and 7960 on SIP firmware: the models and what differs between them.

The two phones run the same SIP image (``P0S3-8-12-00`` and earlier) and read the same
files; they differ in how many line buttons they have, and in the ``loadInformation``
element an SCCP phone looks for in ``XMLDefault.cnf.xml`` before it has SIP firmware
(device type 8 is the 7940, 7 the 7960: julianhead/CiscoPhones ``XMLDefault.cnf.xml``,
and the same pair in other published trees). Which image a phone gets is the inventory's
firmware pin; there is no built-in image (see :mod:`.firmware`).
"""

from __future__ import annotations

from dataclasses import dataclass

from plugtone.vendors.base import ModelSpec


@dataclass(frozen=True)
class CiscoModel:
    spec: ModelSpec
    lines: int
    """Line buttons: ``line1_*`` .. ``lineN_*`` exist up to this number."""
    load_tag: str
    """The ``XMLDefault.cnf.xml`` element this model reads its image name from."""
    load_model: str
    """The ``model`` attribute of that element."""


MODELS: tuple[CiscoModel, ...] = (
    CiscoModel(
        spec=ModelSpec("7940", aliases=("CP-7940G", "7940G"), description="two line buttons"),
        lines=2,
        load_tag="loadInformation8",
        load_model="IP Phone 7940",
    ),
    CiscoModel(
        spec=ModelSpec("7960", aliases=("CP-7960G", "7960G"), description="six line buttons"),
        lines=6,
        load_tag="loadInformation7",
        load_model="IP Phone 7960",
    ),
)

BY_NAME = {model.spec.name: model for model in MODELS}
MAX_LINES = max(model.lines for model in MODELS)
