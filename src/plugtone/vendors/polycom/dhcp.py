"""What Polycom SoundPoint IP / SoundStation IP phones ask of DHCP (``plugtone dhcp``).

- Option 60 is not a text: the BootROM sends RFC 3925 vendor data, the enterprise
  number 13885 (``00 00 36 3d``) then sub-options: 1 ``Polycom``, 2 the part
  (``SoundPointIP-SPIP_601``), 3 the part number, 4 and 5 the versions. Polycom SIP 2.2
  and 3.1 Administrator's Guides, appendix C, "Parsing Vendor ID Information" (the same
  page in the UC Software 5.9 guide). So the match is the four bytes ``00:00:36:3d`` at
  the start; servers that only match substrings (dnsmasq) look for ``Polycom``, which
  sub-option 1 always holds.
- Boot server: the DHCP menu's "Boot Server" is 0 = option 66, 1 = a custom option
  (128-254, IP address or string), 3 = custom then option 66 (SIP 2.2.2 guide, p. 3-8);
  option 160 is the custom option usually configured, and the later firmware's default
  (../shared/reference/phone-formats.md, Polycom identification, marked unverified).
  Both get the same URL, so either setting finds it.
- The value is a server address in the Server Menu's formats: an address, a name or a
  URL with its protocol and login, ``ftp://user:pwd@server/``; FTP is the factory
  provisioning protocol and ``PlcmSpIp``/``PlcmSpIp`` the factory login ("Supported
  Provisioning Protocols", SIP 2.2 guide p. 2-9 and SIP 3.1; the BootROM also speaks
  TFTP and HTTP, HTTPS depends on model and release, so plugtone hands out FTP).
"""

from __future__ import annotations

from plugtone.vendors.base import DhcpNeeds, DhcpOption, ProvisioningServer

ENTERPRISE = bytes.fromhex("0000363d")
"""RFC 3925 enterprise number 13885, the first four bytes of the phones' option 60."""
FACTORY_LOGIN = ("PlcmSpIp", "PlcmSpIp")


def dhcp_needs(server: ProvisioningServer) -> DhcpNeeds:
    """Options 66 and 160: ``ftp://user:password@host[:port]/`` (the factory login
    unless the core hands the site's own)."""
    user, password = server.ftp_login or FACTORY_LOGIN
    port = f":{server.ftp_port}" if server.ftp_port and server.ftp_port != 21 else ""
    url = f"ftp://{user}:{password}@{server.host}{port}/"
    return DhcpNeeds(
        prefixes=(ENTERPRISE,),
        contains="Polycom",
        options=(DhcpOption(66, "text", url), DhcpOption(160, "text", url)),
        note=(
            "Polycom: option 60 is RFC 3925 data (enterprise 13885, 00:00:36:3d); boot server"
            " from option 66 or the custom option 160 (FTP); SIP 2.2/3.1 Admin Guides"
            " p. 3-8 and appendix C"
        ),
    )
