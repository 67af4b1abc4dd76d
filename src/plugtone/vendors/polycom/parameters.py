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

from plugtone.vendors.base import Finding, LineView, PhoneView, SiteView
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
"""Inventory codecs by their Polycom name in ``voice.codecPref.*``."""
NARROWBAND = ("G711Mu", "G711A", "G729AB")
WIDEBAND_6000 = (
    "G722", "G7221.16kbps", "G7221.24kbps", "G7221.32kbps", "G7221C.24kbps", "G7221C.32kbps",
    "G7221C.48kbps", "Siren14.24kbps", "Siren14.32kbps", "Siren14.48kbps",
)  # fmt: skip
WIDEBAND_7000 = (
    *WIDEBAND_6000, "Siren22.32kbps", "Siren22.48kbps", "Siren22.64kbps", "Lin16.16ksps",
    "Lin16.32ksps", "Lin16.48ksps",
)  # fmt: skip
MODEL_CODECS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    # model: (token of voice.codecPref.<token>.<codec>, or None for the plain
    # voice.codecPref.<codec>; every codec the model's preference list holds).
    # SIP 3.x names codec preferences per platform: the vendor's stock sip.cfg of SIP
    # 3.1.6 (as wazo-provd ships it, plugins/wazo_polycom/v3_1_6/var/tftpboot/sip.cfg,
    # <voice><codecs><preferences>) holds voice.codecPref.{G711Mu,G711A,G729AB} for the
    # SoundPoint IP platforms ("codec preferences for SoundPoint IP platforms",
    # Administrator Guide 1.4, 4.6.1.6.1.1 Codec Preferences) and per-platform lists for
    # IP_650 (with G722), IP_6000 and IP_7000 (with G.722.1, G.722.1C, Siren and, on
    # the 7000, Lin16). There is no G722 among the plain names ("voice.codecPref.G722"
    # is not a SIP 3.x parameter) and no list of the IP 321/331/335/560's own: they
    # take the plain list, and G.722 cannot be asked of them (check_phone says so).
    "IP321": (None, NARROWBAND),
    "IP331": (None, NARROWBAND),
    "IP335": (None, NARROWBAND),
    "IP560": (None, NARROWBAND),
    "IP650": ("IP_650", (*NARROWBAND, "G722")),
    "SSIP6000": ("IP_6000", (*NARROWBAND, *WIDEBAND_6000)),
    "SSIP7000": ("IP_7000", (*NARROWBAND, *WIDEBAND_7000)),
}

MASTER_SETTING = re.compile(r"APP_FILE_PATH(?:_([A-Z0-9]+))?")
"""Raw settings that belong in the master file, not in a configuration file."""


def site_parameters(
    site: SiteView, year: int | None = None, model: str | None = None
) -> tuple[dict[str, str], list[str]]:
    """``(parameters, notes)`` a site gives each of its phones of ``model``; notes go into
    the file. The model decides the names of the codec preferences."""
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
    digitmap, dropped = polycom_digitmap(site.dial_plan) if site.dial_plan else ("", [])
    if digitmap:
        params["dialplan.digitmap"] = digitmap
        if site.digit_timeout:
            params["dialplan.digitmap.timeOut"] = _timeouts(digitmap, site.digit_timeout)
    if dropped:
        notes.append("dial plan patterns Polycom cannot express, left out: " + "|".join(dropped))
    params.update(codec_parameters(site.codecs, model))
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


def dial_plan_findings(site: SiteView) -> list[Finding]:
    """Warnings for what of the site's dial plan a Polycom digit map cannot carry."""
    digitmap, dropped = polycom_digitmap(site.dial_plan) if site.dial_plan else ("", [])
    findings = [
        Finding(
            f"dial plan pattern {pattern!r}: a Polycom digit map cannot express it (grouping "
            "and '.' have no equivalent); the phone waits for Send or the timeout instead",
            refuse=False,
        )
        for pattern in dropped
    ]
    if site.digit_timeout and not digitmap:
        findings.append(
            Finding(
                f"digit_timeout {site.digit_timeout}: a Polycom takes one timeout per pattern of "
                "the digit map (dialplan.digitmap.timeOut) and the site gives it no dial plan "
                "it can express, so the phone keeps its own map and timeouts",
                refuse=False,
            )
        )
    return findings


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


def codec_parameters(codecs: Iterable[str], model: str | None) -> dict[str, str]:
    """The model's ``voice.codecPref.*``: priorities 1, 2, ... in inventory order for the
    codecs it has, every other codec of its list switched off (Null: "do not use"), so
    the phone offers exactly the site's codecs and no priority is given twice."""
    prefix, names = _codec_list(model)
    wanted = [CODECS[codec] for codec in codecs if CODECS.get(codec) in names]
    if not wanted:
        return {}
    ranks = {name: str(rank) for rank, name in enumerate(wanted, start=1)}
    return {prefix + name: ranks.get(name, "") for name in names}


def codec_findings(codecs: Iterable[str], model: str | None) -> list[Finding]:
    """Warnings for the site's codecs the model's list does not hold, and for a list
    the phone would widen ("if less than two codecs are specified, the phone will
    automatically use G711Mu and G711A", Administrator Guide 1.4, 4.6.1.6.1.1)."""
    codecs = list(codecs)
    if not codecs:
        return []
    _, names = _codec_list(model)
    findings = [
        Finding(
            f"codec {codec}: the {model} on SIP 3.x has no {codec} among its codec "
            "preferences; it offers the site's other codecs",
            refuse=False,
        )
        for codec in codecs
        if CODECS.get(codec) not in names
    ]
    kept = [codec for codec in codecs if CODECS.get(codec) in names]
    if not kept:
        message = f"codecs: none of the site's codecs is the {model}'s; it keeps its own"
        findings.append(Finding(message, refuse=False))
    elif len(kept) == 1:
        message = (
            f"codecs: only {kept[0]} is left for the {model}; with fewer than two codecs it "
            "also offers G.711 mu-law and A-law"
        )
        findings.append(Finding(message, refuse=False))
    return findings


def _codec_list(model: str | None) -> tuple[str, tuple[str, ...]]:
    token, names = MODEL_CODECS.get(model or "", (None, NARROWBAND))
    return (f"voice.codecPref.{token}." if token else "voice.codecPref."), names


def _timeouts(digitmap: str, seconds: int) -> str:
    """``dialplan.digitmap.timeOut``: one value per pattern of the digit map, ``|``-separated
    as the map is (the vendor's stock sip.cfg pairs its six patterns with ``3|3|3|3|3|3``;
    a pattern without its own value falls back to 3 s: UC Software 3.3 guide, as quoted in
    the community.polycom.com thread "Dial Plan on IP321"), so every pattern waits the
    site's timeout, not only the first."""
    return "|".join([str(seconds)] * len(digitmap.split("|")))


def _uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
