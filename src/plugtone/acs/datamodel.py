"""What the ACS sets on a device: the vendor's map of a phone's inventory onto its
parameters, placed under the VoiceService object the device's own tree shows.

A vendor plug-in contributes a :class:`CwmpMap` (``VendorPlugin.cwmp_map``): how its
CPEs are recognised, which parameter holds the MAC, and the voice parameters of a phone
*by their path below the VoiceService object* (``VoiceProfile.1.SIP.ProxyServer``). The
same firmware family writes that object as ``Device.VoiceService.`` in one document and
``Device.Services.VoiceService.1.`` in another, so the root is read from the tree the
device reported (GetParameterNames), never hard-coded. The management-server and time
parameters are TR-106 names every CPE shares and are the core's own (:func:`desired`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from plugtone.vendors.base import PhoneView

Values = dict[str, object]
"""Parameter name -> wanted value (``str``, ``int``, ``bool``)."""

_VOICE_ROOT = re.compile(r"^((?:[A-Za-z0-9_]+\.)*?VoiceService\.(?:\d+\.)?)([A-Za-z_].*)$")
_MANAGEMENT = re.compile(r"^((?:[A-Za-z0-9_]+\.)*?)ManagementServer\.")


@dataclass(frozen=True)
class CwmpMap:
    """A vendor's data-model map (vendor data; the ACS core stays vendor-neutral)."""

    vendor: str
    ouis: tuple[str, ...]
    """``DeviceId.OUI`` values of the vendor's CPEs (upper-case hex)."""
    manufacturers: tuple[str, ...] = ()
    """``DeviceId.Manufacturer`` values (compared case-insensitively)."""
    mac_parameters: tuple[str, ...] = ()
    """Full names of the parameter holding the device's MAC, in the order to try."""
    voice_values: Callable[[PhoneView, Callable[[str], bool]], Values] = field(
        default=lambda phone, has: {}
    )
    """``(phone, has)`` -> values by path below the VoiceService object; ``has(path)``
    says whether the device's tree has that relative path (a model with 4 lines has no
    ``VoiceProfile.5.``)."""
    secret_suffixes: tuple[str, ...] = ("Password",)
    """Parameters whose values read back empty: compared by a digest of what was set."""

    def recognises(self, oui: str, manufacturer: str) -> bool:
        return oui.upper() in self.ouis or manufacturer.strip().lower() in {
            name.lower() for name in self.manufacturers
        }


class Tree:
    """A device's parameter names (``{name: writable}``), as GetParameterNames gave them."""

    def __init__(self, names: Mapping[str, bool]) -> None:
        self.names = dict(names)
        self.device_root = _most_common(name.split(".", 1)[0] + "." for name in self.names) or ""
        self.voice_root = _most_common(
            match.group(1) for match in map(_VOICE_ROOT.match, self.names) if match
        )
        self.management_root = _most_common(
            match.group(1) + "ManagementServer."
            for match in map(_MANAGEMENT.match, self.names)
            if match
        )

    def has(self, name: str) -> bool:
        return name in self.names

    def writable(self, name: str) -> bool:
        return bool(self.names.get(name))

    def voice(self, relative: str) -> str | None:
        """The full name of ``relative`` below the VoiceService object, if the tree has it."""
        if self.voice_root is None:
            return None
        name = self.voice_root + relative
        return name if name in self.names else None

    def has_voice(self, relative: str) -> bool:
        """Whether the tree has ``relative`` (a parameter, or an object ending in ``.``)."""
        if self.voice_root is None:
            return False
        name = self.voice_root + relative
        return name in self.names or any(other.startswith(name) for other in self.names)


def _most_common(values) -> str | None:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def connection_login(phone_mac: str, bootstrap_password: str) -> tuple[str, str]:
    """The connection-request login a phone is given (in its files and by the ACS): both
    derive it from the site's bootstrap password and the MAC, so they always agree and
    the ACS needs no state to reach a phone provisioned by file only."""
    digest = hmac.new(bootstrap_password.encode(), b"cr:" + phone_mac.encode(), hashlib.sha256)
    return f"cr-{phone_mac.lower()}", digest.hexdigest()[:20]


def inform_time(mac: str, interval: int) -> datetime:
    """A PeriodicInformTime spread over the interval by the MAC: a fleet rebooted at once
    still informs at ``interval`` different offsets, not in the same second."""
    offset = int.from_bytes(hashlib.sha256(mac.encode()).digest()[:4], "big") % max(interval, 1)
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)


@dataclass(frozen=True)
class AcsSettings:
    """What the ACS tells every device about itself."""

    acs_url: str
    interval: int
    stun_host: str | None = None
    stun_port: int | None = None


def desired(
    phone: PhoneView, tree: Tree, cwmp_map: CwmpMap, settings: AcsSettings,
    device_login: tuple[str, str] | None,
) -> Values:  # fmt: skip
    """Every value ``phone``'s inventory asks of the device, by full name, keeping only
    names its tree has and may write."""
    wanted: Values = {}
    for relative, value in cwmp_map.voice_values(phone, tree.has_voice).items():
        name = tree.voice(relative)
        if name is not None:
            wanted[name] = value
    management = tree.management_root
    if management is not None and phone.site.tr069_password:
        user, password = connection_login(phone.mac, phone.site.tr069_password)
        wanted[management + "PeriodicInformEnable"] = True
        wanted[management + "PeriodicInformInterval"] = settings.interval
        wanted[management + "PeriodicInformTime"] = inform_time(phone.mac, settings.interval)
        wanted[management + "ConnectionRequestUsername"] = user
        wanted[management + "ConnectionRequestPassword"] = password
        if device_login is not None:
            wanted[management + "Username"] = device_login[0]
            wanted[management + "Password"] = device_login[1]
        if settings.stun_port and settings.stun_host:
            wanted[management + "STUNEnable"] = True
            wanted[management + "STUNServerAddress"] = settings.stun_host
            wanted[management + "STUNServerPort"] = settings.stun_port
            wanted[management + "STUNUsername"] = user
    for index, server in enumerate(phone.site.ntp_servers[:5], start=1):
        wanted[f"{tree.device_root}Time.NTPServer{index}"] = server
    return {name: value for name, value in wanted.items() if tree.writable(name)}
