"""DHCP snippets for each site's phones: ``plugtone dhcp`` and ``GET /api/dhcp``.

The site's ``config_server`` (else its ``public_url``, else the caller's ``server``)
names plugtone's host; each vendor with phones at the site (every installed vendor for
a site without phones yet) declares through its plug-in what DHCP must tell them
(:meth:`~plugtone.vendors.base.VendorPlugin.dhcp_needs`), and :mod:`plugtone.dhcp`
writes it for one DHCP server. A site's own FTP account is a secret: its password is
written only when asked (``secrets``, admins only, audited as a disclosure like an
export with secrets); otherwise phones get the vendor's factory login, or, when factory
logins are turned off, the site's user and a placeholder to fill in.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.dhcp import FORMATS, DhcpError, SiteDhcp, VendorDhcp, render
from plugtone.inventory.models import Phone, Site
from plugtone.inventory.store import Store
from plugtone.services.actors import Actor
from plugtone.services.errors import Conflict, NotFound, ServiceError
from plugtone.services.unit_of_work import reading, unit_of_work
from plugtone.vendors import VendorRegistry
from plugtone.vendors.base import ProvisioningServer

PLACEHOLDER = "FILL-IN-PASSWORD"
"""Written in place of a site's FTP password that was not asked for."""


@dataclass(frozen=True)
class DhcpRequest:
    """What the caller asks for; ``server`` overrides every site's own host."""

    format: str
    site: str | None = None
    server: str | None = None
    secrets: bool = False
    factory_ftp: bool = True
    """Whether plugtone's FTP server accepts the vendors' factory logins (settings)."""
    ftp_port: int | None = None
    """plugtone's FTP port, when the site's ``config_server`` does not give one."""


def dhcp_snippet(store: Store, actor: Actor, registry: VendorRegistry, request: DhcpRequest) -> str:
    """The snippet for every site (or ``request.site``) in ``request.format``."""
    if request.format not in FORMATS:
        raise ServiceError(f"unknown format {request.format!r} (one of {', '.join(FORMATS)})")
    if not request.secrets:
        with reading(store, actor) as session:
            return _snippet(session, registry, request)
    with unit_of_work(store, actor) as work:
        work.authorize(["disclosure"])
        text = _snippet(work.session, registry, request)
        which = f"site {request.site}" if request.site else "every site"
        work.audit("read", "disclosure", "dhcp", f"DHCP snippet of {which} with FTP passwords")
        return text


def _snippet(session: Session, registry: VendorRegistry, request: DhcpRequest) -> str:
    query = select(Site).order_by(Site.name)
    if request.site is not None:
        query = query.where(Site.name == request.site)
    sites = list(session.scalars(query))
    if request.site is not None and not sites:
        raise NotFound(f"no site {request.site}")
    if not sites:
        raise NotFound("no site in the inventory")
    vendors = _vendors(session, [site.id for site in sites])
    found = [_site(site, vendors.get(site.id), registry, request) for site in sites]
    try:
        return render(request.format, found)
    except DhcpError as error:
        raise Conflict(str(error)) from None


def _vendors(session: Session, site_ids: list[int]) -> dict[int, list[str]]:
    rows = session.execute(
        select(Phone.site_id, Phone.vendor)
        .where(Phone.site_id.in_(site_ids))
        .distinct()
        .order_by(Phone.site_id, Phone.vendor)
    )
    found: dict[int, list[str]] = {}
    for site_id, vendor in rows:
        found.setdefault(site_id, []).append(vendor)
    return found


def _site(
    site: Site, vendors: list[str] | None, registry: VendorRegistry, request: DhcpRequest
) -> SiteDhcp:
    notes: list[str] = []
    server = _server(site, request, notes)
    names = vendors if vendors is not None else [plugin.name for plugin in registry.plugins]
    if vendors is None:
        notes.append("no phones yet: every installed vendor is listed")
    found = []
    for name in names:
        plugin = registry.by_name.get(name)
        needs = plugin.dhcp_needs(server) if plugin is not None else None
        if needs is not None:
            found.append(VendorDhcp(name, needs))
    return SiteDhcp(site.name, server, tuple(found), tuple(notes))


def _server(site: Site, request: DhcpRequest, notes: list[str]) -> ProvisioningServer:
    configured = urlsplit(site.config_server) if site.config_server else None
    public = urlsplit(site.public_url) if site.public_url else None
    host = request.server or (configured and configured.hostname) or (public and public.hostname)
    if not host:
        raise Conflict(
            f"site {site.name} has neither config_server nor public_url: say where plugtone"
            " is with --server HOST (or server=HOST)"
        )
    ftp_port = request.ftp_port
    if configured is not None and configured.scheme == "ftp" and configured.port:
        ftp_port = configured.port
    return ProvisioningServer(
        host=host,
        addresses=(host,) if _is_ipv4(host) else (),
        http_url=site.public_url if public and public.scheme in ("http", "https") else None,
        ftp_port=ftp_port,
        ftp_login=_ftp_login(site, request, notes),
    )


def _ftp_login(site: Site, request: DhcpRequest, notes: list[str]) -> tuple[str, str] | None:
    if not site.ftp_user:
        if not request.factory_ftp:
            notes.append("factory FTP logins are off and the site has no FTP account of its own")
        return None
    if request.secrets:
        return site.ftp_user, site.ftp_password or ""
    if request.factory_ftp:
        notes.append(
            f"the site's own FTP account {site.ftp_user} is left out (its password is a"
            " secret): the vendors' factory logins are written; --with-secrets writes it"
        )
        return None
    notes.append(f"replace {PLACEHOLDER} with the password of FTP account {site.ftp_user}")
    return site.ftp_user, PLACEHOLDER


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True
