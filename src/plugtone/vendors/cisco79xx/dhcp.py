"""What Cisco 7940/7960 phones ask of DHCP (``plugtone dhcp``).

- Option 60: ``Cisco Systems, Inc. IP Phone CP-7960G`` followed by a NUL byte (the
  7940G the same with its model): wazo-platform/wazo-provd-plugins
  ``dhcp/dhcp/dhcpd_update/cisco.conf``; the prefix ``Cisco Systems, Inc. IP Phone``
  (28 characters) is the one commonly matched for every Cisco desk phone.
- Option 150: a list of IPv4 addresses of TFTP servers, which the phones prefer; option
  66 (a TFTP server name) is the fallback (usecallmanager.nz "dhcpd.conf";
  ../shared/reference/phone-formats.md, Cisco DHCP). The SIP firmware fetches its files
  by TFTP only, so plugtone's TFTP server must listen on port 69 for them.
"""

from __future__ import annotations

from plugtone.vendors.base import DhcpNeeds, DhcpOption, ProvisioningServer

PREFIX = "Cisco Systems, Inc. IP Phone"


def dhcp_needs(server: ProvisioningServer) -> DhcpNeeds:
    """Option 150 with the server's addresses (when known) and option 66 with its host."""
    options = []
    note = "Cisco 79xx: option 60 'Cisco Systems, Inc. IP Phone CP-79x0G'; TFTP (port 69) only"
    if server.addresses:
        options.append(DhcpOption(150, "ip-list", server.addresses))
    else:
        note += f"; option 150 left out: {server.host} is a name (give --server an address)"
    options.append(DhcpOption(66, "text", server.addresses[0] if server.addresses else server.host))
    return DhcpNeeds(
        prefixes=(PREFIX.encode(),),
        contains=PREFIX,
        options=tuple(options),
        note=note + "; wazo-provd-plugins dhcpd_update/cisco.conf, usecallmanager.nz",
    )
