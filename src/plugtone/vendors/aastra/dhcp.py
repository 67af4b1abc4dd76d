"""What Aastra phones ask of DHCP (``plugtone dhcp``).

- Option 60: the phones send ``AastraIPPhone<model>`` (``AastraIPPhone6757i``; older
  firmware of the 675xi sends the short ``AastraIPPhone57i``), so the prefix
  ``AastraIPPhone`` matches every model: wazo-platform/wazo-provd-plugins
  ``dhcp/dhcp/dhcpd_update/aastra.conf`` (one class per model, and
  ``substring(option vendor-class-identifier, 0, 13) = "AastraIPPhone"``).
- Option 66: the configuration server. The phones read it as a URL with its protocol
  (the same file gives them ``<http-uri>/Aastra`` there); a bare host name means TFTP,
  the factory download protocol. The Administrator Guide (41-001343-02 REV05, p. 4-17)
  lists options 43, 66, 159 and 160 as the "DHCP Download Options" a phone may use.
"""

from __future__ import annotations

from plugtone.vendors.base import DhcpNeeds, DhcpOption, ProvisioningServer

PREFIX = "AastraIPPhone"


def dhcp_needs(server: ProvisioningServer) -> DhcpNeeds:
    """Option 66: plugtone's HTTP URL when the site has one, else its host (TFTP)."""
    where = server.http_url or server.host
    protocol = "HTTP" if server.http_url else "TFTP"
    return DhcpNeeds(
        prefixes=(PREFIX.encode(),),
        contains=PREFIX,
        options=(DhcpOption(66, "text", where),),
        note=(
            f"Aastra: option 60 AastraIPPhone<model>; option 66 read as a URL ({protocol});"
            " wazo-provd-plugins dhcpd_update/aastra.conf, Admin Guide 41-001343-02 p. 4-17"
        ),
    )
