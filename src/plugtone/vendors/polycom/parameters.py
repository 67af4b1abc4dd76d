"""The neutral inventory mapped onto Polycom SIP 3.x parameters.

Two functions build ordered ``{parameter: value}`` maps: one for what a site gives
every phone (server port, time, dial plan, DTMF, the PBX's conventions), one for a
phone's lines (``reg.N.*`` and ``msg.mwi.N.*``). The plug-in decides which file each
map goes to; raw vendor settings are merged over them there.

``SEED_DEFAULTS`` are the values the AltiGen MAXCS guide (the seed deployment) puts in
its ``altigen.cfg`` that the neutral model has no field for: alert-info classes for
intercom auto-answer, the RFC 2833 payload type, the last-call-return code, DTMF
timing, a silent message-waiting pattern. They are defaults, not constants: a site's
raw ``polycom`` settings replace any of them (``tone.dtmf.rfc2833Payload: 96``).

Registration expiry is the site's ``registration_period``. The seed asks for 90
seconds, and 600 once more than 100 phones register to one MAXCS server, to spare
the server; set it per site accordingly (plugtone does not count phones for you,
since the right figure depends on the server, not only on the fleet).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from plugtone.vendors.base import LineView, PhoneView, SiteView
from plugtone.vendors.polycom.digitmap import polycom_digitmap
from plugtone.vendors.polycom.keys import key_parameters
from plugtone.vendors.polycom.timezones import sntp_time_settings

SEED_DEFAULTS: dict[str, str] = {
    "voIpProt.SIP.alertInfo.1.value": "info=alert-autoanswer",
    "voIpProt.SIP.alertInfo.1.class": "3",
    "voIpProt.SIP.alertInfo.2.value": "auto-answer",
    "voIpProt.SIP.alertInfo.2.class": "3",
    "tone.dtmf.rfc2833Payload": "101",
    "dialplan.removeEndOfDial": "0",  # keep a trailing '#': '##' is voicemail in the seed
    "call.lastCallReturnString": "#69",
    "tone.dtmf.onTime": "120",
    "tone.dtmf.offTime": "120",
    "se.pat.misc.1.name": "message waiting",
    "se.pat.misc.1.inst.1.type": "silence",
    "se.pat.misc.1.inst.1.value": "1",
    "se.pat.misc.1.inst.2.type": "silence",
    "se.pat.misc.1.inst.2.value": "2",
    "se.pat.misc.1.inst.3.type": "silence",
    "se.pat.misc.1.inst.3.value": "1",
    "msg.bypassInstantMessage": "1",
}

TRANSPORT = {"udp": "UDPOnly", "tcp": "TCPOnly", "tls": "TLS"}
DTMF = {
    # neutral method: (tone.dtmf.viaRtp, tone.dtmf.rfc2833Control, SIP INFO (RFC 2976))
    "rfc2833": ("1", "1", "0"),
    "inband": ("1", "0", "0"),
    "info": ("0", "0", "1"),
}
CODECS = {"pcmu": "G711Mu", "pcma": "G711A", "g722": "G722", "g729": "G729AB"}
"""Inventory codecs a SoundPoint IP has, by ``voice.codecPref.*`` name; others are ignored."""

MASTER_SETTING = re.compile(r"APP_FILE_PATH(?:_([A-Z0-9]+))?")
"""Raw settings that belong in the master file, not in a configuration file."""


def site_parameters(site: SiteView, year: int | None = None) -> tuple[dict[str, str], list[str]]:
    """``(parameters, notes)`` a site gives each of its phones; notes go into the file."""
    notes: list[str] = []
    params: dict[str, str] = {}
    if site.conference:
        params["voIpProt.SIP.conference.address"] = site.conference
    params.update({name: value for name, value in SEED_DEFAULTS.items() if "alertInfo" in name})
    params["voIpProt.SIP.outboundProxy.port"] = str(site.sip_port)
    params["voIpProt.SIP.local.port"] = str(site.sip_port)
    via_rtp, rfc2833, info = DTMF[site.dtmf_method]
    params["voIpProt.SIP.dtmfViaSignaling.rfc2976"] = info
    params["tone.dtmf.viaRtp"] = via_rtp
    params["tone.dtmf.rfc2833Control"] = rfc2833
    if site.ntp_servers:
        params["tcpIpApp.sntp.address"] = site.ntp_servers[0]
        params["tcpIpApp.sntp.address.overrideDHCP"] = "1"
    params.update(sntp_time_settings(site.timezone, year))
    if site.dial_plan:
        digitmap, dropped = polycom_digitmap(site.dial_plan)
        if digitmap:
            params["dialplan.digitmap"] = digitmap
        if dropped:
            notes.append(
                "dial plan patterns Polycom cannot express, left out: " + "|".join(dropped)
            )
    if site.digit_timeout:
        params["dialplan.digitmap.timeOut"] = str(site.digit_timeout)
    params.update(_codecs(site.codecs))
    if site.nat:
        params["nat.keepalive.interval"] = "30"
    params.update({name: value for name, value in SEED_DEFAULTS.items() if name not in params})
    return params, notes


def line_parameters(site: SiteView, lines: Iterable[LineView]) -> dict[str, str]:
    """``reg.N.*`` (the SIP account) and ``msg.mwi.N.*`` (voicemail) for each line."""
    host = _uri_host(site.sip_server)
    params: dict[str, str] = {}
    for line in lines:
        reg = f"reg.{line.index}."
        params[reg + "displayName"] = line.name or line.number
        params[reg + "address"] = line.number
        params[reg + "label"] = line.number
        params[reg + "auth.userId"] = line.auth_user
        params[reg + "auth.password"] = line.password or ""
        params[reg + "server.1.address"] = site.sip_server
        params[reg + "server.1.port"] = str(site.sip_port)
        params[reg + "server.1.transport"] = TRANSPORT[site.sip_transport]
        params[reg + "server.1.expires"] = str(site.registration_period)
    for line in lines:
        mwi = f"msg.mwi.{line.index}."
        params[mwi + "subscribe"] = f"{line.number}@{host}"
        if site.voicemail:
            params[mwi + "callBackMode"] = "contact"
            params[mwi + "callBack"] = f"{site.voicemail}@{host}"
        else:
            params[mwi + "callBackMode"] = "disabled"
    return params


def registration_parameters(phone: PhoneView) -> dict[str, str]:
    """The lines file's derived parameters: the lines, and the keys laid on them
    (``reg.x.lineKeys``, the BLF resource list; see :mod:`.keys`)."""
    params = line_parameters(phone.site, phone.lines)
    params.update(key_parameters(phone))
    return params


def split_settings(settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Raw settings as ``(master-file attributes, configuration parameters)``."""
    master: dict[str, str] = {}
    params: dict[str, str] = {}
    for name, value in settings.items():
        (master if MASTER_SETTING.fullmatch(name) else params)[name] = value
    return master, params


def _codecs(codecs: Iterable[str]) -> dict[str, str]:
    """Priorities 1, 2, ... in inventory order; the other known codecs switched off."""
    wanted = [CODECS[codec] for codec in codecs if codec in CODECS]
    if not wanted:
        return {}
    params = {f"voice.codecPref.{name}": str(rank) for rank, name in enumerate(wanted, start=1)}
    for name in CODECS.values():
        params.setdefault(f"voice.codecPref.{name}", "")
    return params


def _uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
