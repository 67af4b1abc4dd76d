"""``plugtone dhcp``: the DHCP options each site's phones need, for one DHCP server.

Writes a snippet (ISC dhcpd, Kea DHCPv4, dnsmasq, or a Windows ``netsh`` script) that
tells each vendor's phones, picked out by option 60, where plugtone is: option 66, and
the options a vendor prefers (150, 160). The ISC, Kea and dnsmasq outputs are files
those servers' own checks (``dhcpd -t``, ``kea-dhcp4 -t``, ``dnsmasq --test``) accept.
"""

from __future__ import annotations

from pathlib import Path

import click

from plugtone.dhcp import FORMATS
from plugtone.settings import Settings


def register(main: click.Group, common, run, table) -> None:
    @main.command("dhcp")
    @common
    @click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
                  help="The DHCP server to write for.")  # fmt: skip
    @click.option("--site", default=None, help="Only this site (default: every site).")
    @click.option("--server", default=None,
                  help="plugtone's host or IPv4 address, instead of each site's "
                  "config_server / public_url (an address also fills option 150).")  # fmt: skip
    @click.option("--with-secrets", is_flag=True,
                  help="Write a site's own FTP password (admin; audited).")  # fmt: skip
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="Write to FILE instead of standard output.")  # fmt: skip
    def dhcp_command(settings: Settings, fmt: str, site: str | None, server: str | None,
                     with_secrets: bool, output: Path | None) -> None:  # fmt: skip
        """Write the DHCP options each site's phones need (options 60, 66, 150, 160)."""
        from plugtone.services.actors import local_admin
        from plugtone.services.dhcp import DhcpRequest, dhcp_snippet
        from plugtone.vendors import default_registry

        request = DhcpRequest(
            format=fmt, site=site, server=server, secrets=with_secrets,
            factory_ftp=settings.ftp_factory_accounts, ftp_port=settings.ftp_port,
        )  # fmt: skip
        text = run(
            settings, lambda store: dhcp_snippet(store, local_admin(), default_registry(), request)
        )
        if output is None:
            click.echo(text, nl=False)
            return
        output.write_text(text, encoding="utf-8", newline="")
        if with_secrets:
            output.chmod(0o600)
        click.echo(f"wrote {output}", err=True)
