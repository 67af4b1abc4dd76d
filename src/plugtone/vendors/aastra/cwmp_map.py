"""The Aastra TR-069 data-model map: which parameters carry a phone's inventory.

Source: the Aastra TR-069 Configuration Guide, 41-001373-01 REV02 05.2014 (release
3.3.1 SP3), "seed 002": "Voice Profile" (one global profile,
``X_Aastra_GlobalVoiceProfile``, for the global settings, and ``VoiceProfile.{i}`` for
line *i*, each with exactly one ``Line.1``) and its parameter table (Appendix B):
``Device.LAN.MACAddress``; under ``Device.Services.VoiceService.1.``:
``X_Aastra_GlobalVoiceProfile.SIP.*``, ``X_Aastra_GlobalVoiceProfile.X_Aastra_DTMFMethod``,
``...Line.1.CallingFeatures.CallerIDName``, ``VoiceProfile.{i}.SIP.*`` and
``VoiceProfile.{i}.Line.1.SIP.AuthUserName/AuthPassword``,
``VoiceProfile.{i}.Line.1.X_Aastra_ScreenName2``. The guide writes the root both as
``Device.VoiceService.`` and ``Device.Services.VoiceService.1.``: paths here are below
it, and the ACS places them under whichever root the phone's tree shows.

The SIP server, port, registration and line credentials are the standard TR-104
``VoiceProfile.{i}.SIP.*`` / ``Line.{i}.SIP.*`` leaf names the guide's table lists;
where its excerpt is truncated (``...SIP.Aut...``) the TR-104 names are assumed
(``AuthUserName``, ``AuthPassword``, ``URI``) and the ACS sets only names the phone's
own tree reports, so an unknown name is never sent.
"""

from __future__ import annotations

from collections.abc import Callable

from plugtone.acs.datamodel import CwmpMap, Values
from plugtone.vendors.aastra.trust import MAC_PREFIXES
from plugtone.vendors.base import PhoneView

GLOBAL = "X_Aastra_GlobalVoiceProfile"
DTMF_METHOD = {"inband": 0, "rfc2833": 1, "info": 2}
"""``X_Aastra_DTMFMethod`` (int in the guide's table): the values of the ``sip dtmf
method`` configuration parameter it mirrors (41-001343-02, SIP Advanced Settings)."""
TRANSPORT = {"udp": 1, "tcp": 2, "tls": 4}
"""``SIPTransportProtocol`` (int): the values of ``sip transport protocol``."""


def voice_values(phone: PhoneView, has: Callable[[str], bool]) -> Values:
    """The global profile from the site, one ``VoiceProfile.{i}`` per assigned line."""
    site = phone.site
    values: Values = {
        f"{GLOBAL}.SIP.ProxyServer": site.sip_server,
        f"{GLOBAL}.SIP.ProxyServerPort": site.sip_port,
        f"{GLOBAL}.SIP.RegistrarServer": site.sip_server,
        f"{GLOBAL}.SIP.RegistrarServerPort": site.sip_port,
        f"{GLOBAL}.SIP.RegisterExpires": site.registration_period,
        f"{GLOBAL}.SIP.SIPTransportProtocol": TRANSPORT[site.sip_transport],
        f"{GLOBAL}.X_Aastra_DTMFMethod": DTMF_METHOD[site.dtmf_method],
    }
    if site.dial_plan:
        values[f"{GLOBAL}.DigitMap"] = site.dial_plan
    for line in phone.lines:
        profile = f"VoiceProfile.{line.index}."
        if not has(profile):
            continue  # the model has fewer lines; the apply's checks report it
        name = line.name or line.number
        values.update({
            f"{profile}SIP.ProxyServer": site.sip_server,
            f"{profile}SIP.ProxyServerPort": site.sip_port,
            f"{profile}SIP.RegistrarServer": site.sip_server,
            f"{profile}SIP.RegistrarServerPort": site.sip_port,
            f"{profile}SIP.RegisterExpires": site.registration_period,
            f"{profile}Line.1.Enable": "Enabled",
            f"{profile}Line.1.DirectoryNumber": line.number,
            f"{profile}Line.1.CallingFeatures.CallerIDName": name,
            f"{profile}Line.1.X_Aastra_ScreenName2": name,
            f"{profile}Line.1.SIP.AuthUserName": line.auth_user,
            f"{profile}Line.1.SIP.AuthPassword": line.password or "",
            f"{profile}Line.1.SIP.URI": line.number,
        })  # fmt: skip
    return values


CWMP_MAP = CwmpMap(
    vendor="aastra",
    ouis=tuple(prefix.upper() for prefix in MAC_PREFIXES),
    manufacturers=("Aastra", "Mitel"),
    mac_parameters=("Device.LAN.MACAddress",),
    voice_values=voice_values,
)
