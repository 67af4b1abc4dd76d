"""``sync`` and ``syncinfo.xml``: how a 79xx learns, after a check-sync NOTIFY, that its
files changed.

The SIP firmware does not refetch its files on ``Event: check-sync``. Once idle for
20 s it reads ``syncinfo.xml`` from its TFTP server and reboots (fetching everything
again) only when the ``SYNC`` that file gives for its image differs from the ``sync``
value it booted with (7960G/7940G Administration Guide for Release 8.0 (SIP),
OL-7890-01, "How to Upgrade Your Cisco SIP IP Phone Firmware Image and Reboot
Remotely", p. 4-4: ``<IMAGE VERSION="image_version" SYNC="sync_number"/>``, the image
version may be ``*``, the sync number "a character string of up to 32 characters").

So ``SIP<MAC>.cnf`` carries ``sync:`` set to a digest of everything the phone reads from
plugtone (its own file, the common ``SIPDefault.cnf`` and its dial plan), and
``syncinfo.xml``, served to the phone known by its address, gives the digest of what
it would read now: equal while nothing changed (a NOTIFY then costs nothing), different
once anything the phone reads changed, so it reboots and takes the new files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

SYNC_LENGTH = 16
"""Hex digits of the digest: well inside the 32 characters the guide allows."""


def sync_value(settings: Mapping[str, str], common: bytes, dial_plan: bytes) -> str:
    """The digest of what the phone reads, ``settings`` being ``SIP<MAC>.cnf``'s own
    (without ``sync``)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(sorted(settings.items())).encode("utf-8"))
    digest.update(b"\0" + common + b"\0" + dial_plan)
    return digest.hexdigest()[:SYNC_LENGTH]


def syncinfo_xml(sync: str) -> bytes:
    """``syncinfo.xml`` for one phone: any image (``*``) at ``sync``."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<SYNCINFO>\n<IMAGE VERSION="*" SYNC="{sync}"/>\n</SYNCINFO>\n'
    ).encode("ascii")
