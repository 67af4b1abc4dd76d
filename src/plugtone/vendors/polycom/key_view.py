"""A SoundPoint IP's line keys as the phone lays them out, and the raw names of the
neutral settings, for the admin UI (:meth:`VendorPlugin.key_layout`,
:meth:`VendorPlugin.neutral_setting_names`).

The number of line keys per model and the order the SIP application fills them in
(registrations, then the static BLF, then speed dials) are :mod:`.keys`' (SIP 3.1
Administrator's Guide p. A-109, Engineering Advisory 62475); the placement here
reuses :func:`.keys.key_layout`, the code that writes the files. The keys are drawn in
one column beside the display (assumed: no document found here gives the side).
"""

from __future__ import annotations

from plugtone.vendors.base import PhoneView
from plugtone.vendors.key_layout import KeyFace, KeyGroup, KeyLayout, faces_in
from plugtone.vendors.polycom.keys import FAMILY, LINE_KEYS, key_layout

SOURCE = "Line keys per model: Polycom SIP 3.1 Administrator's Guide p. A-109 (reg.x.lineKeys)."


def polycom_key_layout(phone: PhoneView) -> KeyLayout | None:
    capacity = LINE_KEYS.get(phone.model)
    if capacity is None:
        return None
    laid = key_layout(phone)
    numbers = {line.index: line.number for line in phone.lines}
    faces: list[KeyFace] = []
    for index, count in sorted(laid.line_keys.items()):
        number = numbers.get(index)
        faces += [KeyFace("line", number, number, index)] * count
    faces += [KeyFace("blf", item.label or None, item.address) for item in laid.blf]
    faces += [KeyFace("speeddial", dial.label, dial.number) for dial in laid.speed_dials]
    placed = dict(enumerate(faces[:capacity], start=1))
    group = KeyGroup("Line keys", FAMILY, faces_in(capacity, placed))
    note = (
        "An IP 650 takes expansion modules; plugtone assumes none (the inventory does not "
        "say), so only its own 6 line keys are shown."
        if phone.model == "IP650"
        else ""
    )
    return KeyLayout(phone.model, (group,), note, SOURCE)


NEUTRAL_NAMES: dict[str, tuple[str, ...]] = {
    # neutral setting: the parameters ``parameters.site_parameters``/``line_parameters``
    # write it as (names are case-sensitive XML attributes)
    "sip_server": ("reg.*.server.1.address",),
    "sip_port": ("reg.*.server.1.port", "voIpProt.SIP.outboundProxy.port",
                 "voIpProt.SIP.local.port"),
    "sip_transport": ("reg.*.server.1.transport",),
    "registration_period": ("reg.*.server.1.expires",),
    "dtmf_method": ("voIpProt.SIP.dtmfViaSignaling.rfc2976", "tone.dtmf.viaRtp",
                    "tone.dtmf.rfc2833Control"),
    "dial_plan": ("dialplan.digitmap",),
    "digit_timeout": ("dialplan.digitmap.timeOut",),
    "voicemail": ("msg.mwi.*.callBack", "msg.mwi.*.callBackMode"),
    "conference": ("voIpProt.SIP.conference.address",),
    "codecs": ("voice.codecPref.*",),
    "ntp_servers": ("tcpIpApp.sntp.address", "tcpIpApp.sntp.address.overrideDHCP"),
    "timezone": ("tcpIpApp.sntp.gmtOffset*", "tcpIpApp.sntp.daylightSavings.*"),
    "nat": ("nat.keepalive.interval",),
    "lines": ("reg.*.displayName", "reg.*.address", "reg.*.label", "reg.*.auth.userId",
              "reg.*.auth.password"),
    "keys": ("reg.*.lineKeys", "attendant.*"),
}  # fmt: skip
