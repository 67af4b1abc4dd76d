"""The Cisco 79xx side of trust: whose MACs these are, what a stranger gets, which
settings are secrets, and why a phone gets no provisioning login.

MAC prefixes (``Cisco79xxPlugin.mac_prefixes``)
===============================================

Cisco holds over a thousand OUIs (the IEEE registry, ieee-data oui.txt, lists "Cisco
Systems, Inc" for each below); these are the ones a document ties to a 7940/7960:

======== =====================================================================
OUI      7940/7960 seen with it
======== =====================================================================
00115C   the seed's SIP phone (``SIP00115C93AFD1.cnf``)
0011BB   a 7960's TFTP log (julianhead/CiscoPhones ``tftplog``: ``SEP0011BB73AD61``)
0015F9   the same repository's phone file ``SIP0015F92EC692.cnf``
001A2F   the seed's Dutch guide, "the phone's actual MAC" (``SIP001A2F336152.cnf``)
======== =====================================================================

No other plug-in reads this vendor's names, so the list never changes which vendor
answers; a phone of another Cisco prefix is served the same.

What a stranger gets
====================

- ``SIP<MAC>.cnf``: comment lines only (the format's ``#`` lines, docs/phone-formats
  section 3), the same for every MAC. The phone reads ``SIPDefault.cnf`` (common, no
  secret) and then this file, which overrides nothing: a factory-fresh phone has no
  ``lineN_name`` and registers nothing, no ``image_version`` makes it fetch an image,
  and ``dial_template`` stays ``SIPDefault.cnf``'s catch-all. A comment-only file
  rather than an empty one: no document says how the firmware takes a zero-length
  TFTP transfer, and a file with content is well-formed in the strict reading. A phone
  provisioned earlier keeps what it was last told (the firmware holds settings until a
  file changes them, see :mod:`.config`), so it is not unprovisioned by a stranger's
  answer, and learns nothing new from it.
- ``dialplan<MAC>.xml``: the catch-all dial plan, as the common ``dialplan.xml``.
- ``cisco/directory-<MAC>.xml``: a ``CiscoIPPhoneDirectory`` with no entry and no site
  name; further pages are not-found, as they are for a site with an empty book.
- ``cisco/logo-<MAC>.bmp``: not-found, as for a phone without a logo (the phone keeps
  its own idle display).

Secrets (``is_secret_setting``)
================================

``lineN_password`` (the SIP accounts) and ``phone_password`` (the password that
unlocks the phone's settings menu), as the seed and docs/phone-formats section 3 name
them: a name whose lower-cased text ends in ``password``. A value that is a URL with a
password in it (a ``directory_url`` of ``http://user:pw@host/``) also counts when the
audit asks whether a file holds one.

No provisioning login (``device_credentials = False``)
======================================================

The SIP firmware reads its configuration files over TFTP only (the seed; Cisco SIP IP
Phone Administrator Guide), and TFTP has no login: there is nothing to give the phone
that it could present. Its HTTP requests (``directory_url``, ``logo_url``) carry none
either. These phones rely on trusted networks (for ``tftp``) and provisioning windows.
"""

from __future__ import annotations

from collections.abc import Mapping

from plugtone.vendors.base import FileRef, url_password
from plugtone.vendors.cisco79xx.cnf import serialize
from plugtone.vendors.cisco79xx.dialplan import dial_template
from plugtone.vendors.cisco79xx.directory import empty_page

MAC_PREFIXES = ("00115C", "0011BB", "0015F9", "001A2F")
STRANGER_CNF = "SIP<MAC>.cnf for a requester plugtone does not trust: no line, no server"


def stranger_file(ref: FileRef) -> bytes | None:
    """What every stranger gets for one of the phone's own names (see module)."""
    if ref.name == "SIP.cnf":
        return serialize([STRANGER_CNF], {})
    if ref.name == "dialplan.xml":
        return dial_template(None, None)
    if ref.name == "directory-1.xml":
        return empty_page()
    return None


def is_secret_name(name: str) -> bool:
    return name.strip().lower().endswith("password")


def has_secret(settings: Mapping[str, str]) -> bool:
    """Whether ``settings`` (as written into a file) carry a secret value."""
    return any(
        value and (is_secret_name(name) or url_password(value)) for name, value in settings.items()
    )
