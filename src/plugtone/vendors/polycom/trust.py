"""The Polycom side of trust: whose MACs these are, what a stranger gets, which
parameters are secrets, and why a phone gets no provisioning login in its files.

MAC prefixes (``PolycomPlugin.mac_prefixes``)
=============================================

======== ================================= ============================================
OUI      IEEE registry (ieee-data oui.txt) where it is tied to the phones
======== ================================= ============================================
0004F2   Polycom                           SoundPoint IP file names in the seed
                                           (``0004f2000607.cfg``), wazo-provd's path
                                           samples (``0004f284389c``)
64167F   Polycom                           docs/phone-formats section 2 (Polycom OUIs)
482567   Poly                              docs/phone-formats section 2 (Polycom OUIs)
======== ================================= ============================================

What a stranger gets
====================

Every name is answered the same for every MAC, with nothing of the inventory:

- ``<MAC>.cfg``: the master file of a phone plugtone does not know, as
  ``000000000000.cfg`` is: the default ``APP_FILE_PATH`` and the vendor's stock
  ``phone1.cfg, sip.cfg`` only, upload directories at the top. A phone that reads it
  takes the path every unknown phone takes (SIP 3.1 Administrator's Guide, boot steps
  pp. 2-3/2-4): its image is not-found to a stranger, and the BootROM downloads an
  application only when the server's differs from flash or flash has none, so (assumed:
  a phone out of the box has one in flash) it runs the application it has, which reads
  no file with an account. It boots and sits unregistered, and nothing it is sent makes
  it reboot again.
- ``<MAC>-reg.cfg``, ``<MAC>-site.cfg``: an empty ``<polycomConfig/>`` (the root
  plugtone's own files use), well-formed, with the vendor's declaration: a phone whose
  cached master file still lists them reads no parameter from them rather than failing
  on a missing or malformed file (the strict case, since no document says what a 3.x
  phone does with either).
- ``<MAC>-directory.xml``: an empty ``<directory><item_list/></directory>``, as
  ``000000000000-directory.xml``.

Secrets (``is_secret_setting``)
================================

A parameter whose last dot-separated part contains ``password`` (compared without
case): ``reg.N.auth.password`` (the SIP account, SIP 3.x guides; wazo-provd
``wazo_polycom`` base.tpl), ``device.prov.password``, ``device.auth.localAdminPassword``,
``device.auth.localUserPassword``, ``device.net.dot1x.password``,
``device.pacfile.password``, ``device.logincred.password``,
``device.prov.lyncDeviceUpdatePassword`` (UC Software: a UCS 5.4 phone's own
configuration export leaves these out as passwords), and any ``voIpProt.SIP.*password``.
The ``.set`` switches beside them (``device.prov.password.set``) are not secrets. A
value that is a URL with a password in it (an ``APP_FILE_PATH`` of
``ftp://user:pw@host/sip.ld``, which the master file allows) also counts when the
audit asks whether a file holds one.

No provisioning login (``device_credentials = False``)
======================================================

The login the phone presents to the provisioning server is a BootROM setting in SIP
3.x: entered in the phone's setup menu, or carried in the boot server address
(``ftp://usr:pwd@server/...``, SIP 2.0 Administrator's Guide p. 13). The
configuration parameters that set it (``device.set``, ``device.prov.user``,
``device.prov.password``, the ``<device/>`` group) are documented for UC Software
(3.3.0 and later, which replaced the BootROM with the Updater; Polycom's white paper
60806 treats UCS 3.3.0 apart from "SIP 3.2.5 or earlier"; the CX5100 guide p. 46
describes ``device.set``), and no document found gives them for SIP 3.1/3.2, the
firmware this plug-in writes for (the seed runs SIP 3.2.7 on BootROM 4.2.1). So
nothing is rendered: a 3.x phone relies on trusted networks and provisioning windows,
or on a login typed into its setup menu, which plugtone's FTP accepts as the phone's
own (its ``http_user``/``http_password``).
"""

from __future__ import annotations

from collections.abc import Mapping

from plugtone.vendors.base import url_password

MAC_PREFIXES = ("0004F2", "482567", "64167F")
STRANGER_NOTE = "for a requester plugtone does not trust: nothing of the inventory"


def is_secret_name(name: str) -> bool:
    return "password" in name.strip().rsplit(".", 1)[-1].lower()


def has_secret(parameters: Mapping[str, str]) -> bool:
    """Whether ``parameters`` (as written into a file) carry a secret value."""
    return any(
        value and (is_secret_name(name) or url_password(value))
        for name, value in parameters.items()
    )
