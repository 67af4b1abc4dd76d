"""A 7940/7960's line buttons as the phone has them, and the raw names of the neutral
settings, for the admin UI (:meth:`VendorPlugin.key_layout`,
:meth:`VendorPlugin.neutral_setting_names`).

Two line buttons on a 7940, six on a 7960 (:mod:`.models`), in one column beside the
display (Cisco IP Phone 7960G/7940G user guide, "A Look at Your Phone": the line
buttons sit to the right of the screen); button N shows line N or a speed dial
(:mod:`.keys`, whose placement this reuses). Softkeys and the Messages, Directories
and Services buttons are fixed and not drawn.
"""

from __future__ import annotations

from plugtone.vendors.base import PhoneView
from plugtone.vendors.cisco79xx.keys import FAMILY, key_layout
from plugtone.vendors.key_layout import KeyFace, KeyGroup, KeyLayout, faces_in

SOURCE = "Cisco IP Phone 7960G/7940G user guide, 'A Look at Your Phone' (line buttons)."


def cisco_key_layout(phone: PhoneView) -> KeyLayout:
    laid = key_layout(phone)
    placed: dict[int, KeyFace] = {}
    for line in phone.lines:
        if line.index <= laid.buttons:
            label = laid.labels.get(line.index) or line.number
            placed[line.index] = KeyFace("line", label, line.number, line.index)
    for button, dial in laid.speed_dials.items():
        placed[button] = KeyFace("speeddial", dial.label, dial.number)
    group = KeyGroup("Line buttons", FAMILY, faces_in(laid.buttons, placed))
    note = f"The Services button opens {laid.services_url}." if laid.services_url else ""
    return KeyLayout(phone.model, (group,), note, SOURCE)


NEUTRAL_NAMES: dict[str, tuple[str, ...]] = {
    # neutral setting: the ``SIP<MAC>.cnf`` names ``config.phone_settings`` writes it as
    "sip_server": ("proxy1_address",),
    "sip_port": ("proxy1_port",),
    "registration_period": ("timer_register_expires",),
    "nat": ("nat_enable",),
    "dtmf_method": ("dtmf_outofband",),
    "codecs": ("preferred_codec",),
    "ntp_servers": ("sntp_server",),
    "timezone": ("time_zone", "dst_*", "date_format", "time_format_24hr"),
    "voicemail": ("messages_uri",),
    "public_url": ("directory_url", "logo_url"),
    "dial_plan": ("dial_template",),
    "lines": ("line*_name", "line*_authname", "line*_password", "line*_displayname",
              "line*_shortname"),
    "keys": ("speed_line*", "speed_label*", "services_url"),
    "firmware": ("image_version",),
}  # fmt: skip
"""Names are compared lower-cased, as ``config.phone_settings`` merges raw settings."""
