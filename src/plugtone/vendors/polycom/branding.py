"""A branding set's picture as a Polycom background.

The SoundPoint IP 550, 560 and 650 have a high-resolution grayscale screen whose
background pictures are ``bg.hiRes.gray.bm.<x>.name`` (SIP 3.0.2 and 3.1
administrator guides, "Backgrounds <bg/>": bitmaps in 3.0.2, JPEGs in 3.1; the vendor
ships Leaf, Sailboat, ... in those slots). The IP 321/331/335 and the SoundStations
have no background pictures at all, so they get nothing.

plugtone puts the set's first picture into slot 1, named by the path the core serves
branding files at, relative to the boot server as every Polycom file name is; the
phone fetches it like a configuration file, and shows its built-in pattern if the
fetch fails. Which slot is shown at boot is ``bg.hiRes.gray.selection`` (``w,x``):
the guides do not say which ``w`` means a picture on SIP 3.x, so plugtone leaves it
alone and the phone's user (or a raw setting in the branding set, say
``bg.hiRes.gray.selection``) picks the picture. PNG is not among the formats the
guides list, so a PNG is not offered.
"""

from __future__ import annotations

from plugtone.vendors.base import PhoneView

BACKGROUNDS = {"IP560": "bg.hiRes.gray", "IP650": "bg.hiRes.gray"}
"""Models with background pictures, by the prefix of their background parameters."""
PICTURES = (".jpg", ".jpeg", ".bmp")


def background_parameters(phone: PhoneView) -> dict[str, str]:
    """``{bg...bm.1.name: path}`` when the phone's branding set has a picture it can show."""
    prefix = BACKGROUNDS.get(phone.model)
    branding = phone.branding
    if prefix is None or branding is None:
        return {}
    for item in branding.files:
        if item.name.lower().endswith(PICTURES):
            return {f"{prefix}.bm.1.name": branding.path(item.name)}
    return {}
