"""``/api/dhcp``: the DHCP snippet ``plugtone dhcp`` writes, as text (viewer role).

The same service call (``services.dhcp.dhcp_snippet``); a site's own FTP password is
never in it here (the API has no ``--with-secrets``): phones get the vendors' factory
login, or a placeholder when factory logins are off.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from plugtone.services.dhcp import DhcpRequest, dhcp_snippet
from plugtone.web.deps import CallerDep, RegistryDep, SettingsDep, StoreDep

router = APIRouter(tags=["dhcp"])

MEDIA = {"kea": "application/json"}


@router.get("/dhcp", response_class=PlainTextResponse,
            summary="DHCP options for each site's phones, for one DHCP server")  # fmt: skip
def read_dhcp(
    actor: CallerDep, store: StoreDep, registry: RegistryDep, settings: SettingsDep,
    format: Annotated[Literal["isc", "kea", "dnsmasq", "windows"], Query()],
    site: Annotated[str | None, Query(description="Only this site.")] = None,
    server: Annotated[str | None, Query(description="plugtone's host or address.")] = None,
) -> PlainTextResponse:  # fmt: skip
    request = DhcpRequest(
        format=format, site=site, server=server,
        factory_ftp=settings.ftp_factory_accounts, ftp_port=settings.ftp_port,
    )  # fmt: skip
    text = dhcp_snippet(store, actor, registry, request)
    return PlainTextResponse(text, media_type=MEDIA.get(format, "text/plain"))
