"""What the redirection service tells a factory-fresh Polycom phone.

The BootROM asks its boot server for ``<mac>.cfg`` (else ``000000000000.cfg``), the
master file; it downloads the application ``APP_FILE_PATH`` names only if it differs
from the one in flash, and then the application loads ``CONFIG_FILES`` (SIP 3.1
Administrator's Guide pp. 2-3/2-4 and A-2; docs/phone-formats section 2). So the
firmware comes first by the phone's own order, and a phone running the assigned
application skips it: no version comparison is needed here (nor possible: the
BootROM's User-Agent reports the BootROM's version, not the application's).

The answer for a registered MAC with a server:

* ``<mac>.cfg``: ``APP_FILE_PATH`` is the assigned release's application, served by
  the redirection service under ``firmware/<version>/`` (the model's own part-number
  image when the release holds it, else ``sip.ld``); with no release assigned it is
  the configuration server's ``sip.ld`` as a full URL ("Configuration file names in the
  <Ethernet address>.cfg file can include a transfer protocol, for example
  https://usr:pwd@server/dir/file.cfg", SIP 3.1 guide, "Supported Provisioning
  Protocols"). ``CONFIG_FILES`` names ``<mac>-rcs.cfg``.
* ``<mac>-rcs.cfg``: the branding's raw settings, then the boot server:
  ``device.set="1"``, ``device.prov.serverName`` with its ``.set="1"`` (the ``<device/>``
  parameters apply only with ``device.set`` and their own ``.set`` at 1, and a change
  restarts the phone: CX5100 guide p. 46; ``device.prov.serverName`` is among the
  provisioning keys of wazo-provd's Polycom template, docs/phone-formats section 2).
  The server is written as the whole URL: the boot server address "can include a
  transfer protocol, for example http://usr:pwd@server" (SIP 3.1 guide, same section),
  so no ``device.prov.serverType`` value is needed, and none is written (no document
  found gives its numbers for SIP 3.x). Assumed: ``<device/>`` parameters are UC
  Software 3.3 and later; a SIP 3.1/3.2 BootROM ignores them and keeps its boot server,
  so such a phone must be given the server by DHCP instead (said in the file).

An unknown, unregistered or unaffiliated MAC, and ``000000000000.cfg`` (it names no
MAC), are not found, the same for every MAC.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from plugtone.macaddr import MacError, normalize_mac
from plugtone.vendors.bootstrap import BootstrapAnswer, BootstrapRef, BootstrapTarget
from plugtone.vendors.polycom import firmware
from plugtone.vendors.polycom.master import master_file
from plugtone.vendors.polycom.xmlfile import serialize, xml_text

MASTER = re.compile(r"([0-9a-f]{12})\.cfg", re.I)
REDIRECT = re.compile(r"([0-9a-f]{12})-rcs\.cfg", re.I)
XML = "application/xml"
OLD_BOOTROM = "a SIP 3.1/3.2 BootROM ignores <device/> parameters: give it its boot server by DHCP"


def bootstrap_match(plugin, path: str) -> BootstrapRef | None:
    for pattern, name in ((MASTER, "master"), (REDIRECT, "redirect")):
        found = pattern.fullmatch(path)
        if found:
            try:
                mac = normalize_mac(found.group(1))
            except MacError:
                return None  # 000000000000.cfg names no phone
            return BootstrapRef(plugin.name, name, mac=mac, requested=path)
    ref = firmware.match_firmware(plugin.name, path)
    if ref is not None and ref.version is not None:
        # the BootROM's request names no MAC: the core serves the release's file
        return BootstrapRef(
            plugin.name,
            "image",
            model=ref.model,
            requested=path,
            release_file=(ref.version, path.rsplit("/", 1)[1]),
        )
    return None


def bootstrap_file(
    plugin, ref: BootstrapRef, target: BootstrapTarget | None
) -> BootstrapAnswer | None:
    if target is None or ref.name == "image":
        return None  # an image is a release_file, answered by the core
    if ref.name == "master":
        return BootstrapAnswer(
            master_file(
                _application(target),
                [f"{target.mac.lower()}-rcs.cfg"],
                {},
                ["plugtone redirection service"],
            ),
            media_type=XML,
            kind="firmware" if target.firmware else "config",
        )
    attributes = {name: xml_text(value) for name, value in target.branding.items()}
    attributes.update(
        {
            "device.set": "1",
            "device.prov.serverName": xml_text(target.server.url),
            "device.prov.serverName.set": "1",
        }
    )
    root = ET.Element("polycomConfig", attributes)
    notes = [f"plugtone redirection service: boot server {target.server.url}", OLD_BOOTROM]
    return BootstrapAnswer(serialize(root, notes), media_type=XML, kind="redirect")


def _application(target: BootstrapTarget) -> str:
    release = target.firmware
    if release is not None and firmware.SAFE_VERSION.fullmatch(release.version):
        for name in firmware.application_names(target.model or ""):
            if release.file(name) is not None:
                return f"firmware/{release.version}/{name}"
    return target.server.url.rstrip("/") + "/sip.ld"
