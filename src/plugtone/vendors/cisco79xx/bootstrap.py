"""Why the redirection service has no answer for a factory-fresh Cisco 79xx.

A 79xx finds its TFTP server through DHCP (option 150 or 66) or the "Alternate TFTP"
setting typed on the phone (docs/phone-formats section 3), and no configuration file
key found in any source moves it to another server: ``SIPDefault.cnf`` and
``SIP<MAC>.cnf`` name proxies, images and a ``tftp_cfg_dir``, never the TFTP server.
It fetches its files over TFTP, which has no redirect; nothing documents that its
firmware follows an HTTP 302 either. So, assuming the strict phone, the plug-in
declares no bootstrap files: the service answers a 79xx as it answers an unknown MAC
(not found), and such phones get their configuration server from DHCP.
"""

from __future__ import annotations

from plugtone.vendors.bootstrap import BootstrapRef


def bootstrap_match(plugin, path: str) -> BootstrapRef | None:
    return None
