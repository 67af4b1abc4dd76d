"""Operations pages: device status (the phones needing attention), DHCP snippets, and
pushed resync, each a thin face over its service (``services.status``, ``.dhcp``,
``.resync``), as ``plugtone status|dhcp|resync`` and the API are.

- ``/operations``: the state counts, the DHCP form, and (operators) a site's resync;
- ``/operations/status``: phones failing, stale or never seen, keyset-paged by MAC;
- ``/operations/dhcp``: a snippet shown in ``<pre>``; ``/operations/dhcp/download`` the
  same as an attachment. With the site's FTP password (admins only) only by a POST with
  its CSRF token, never a GET: the service audits it as a disclosure;
- ``POST /phones/{mac}/resync`` and ``POST /operations/resync``: the NOTIFYs are sent
  and every phone's outcome shown once the last answered or timer F ran out (the
  service blocks until then; each outcome is also a provisioning event). A run the page
  could not wait for (over :data:`UI_RESYNC_MAX` phones) is refused with a pointer to
  ``plugtone resync``, which shows progress.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response

from plugtone.dhcp import FORMATS
from plugtone.macaddr import colon_mac
from plugtone.services import objects
from plugtone.services.actors import Role
from plugtone.services.dhcp import DhcpRequest, dhcp_snippet
from plugtone.services.errors import Conflict, Invalid, NotFound
from plugtone.services.resync import DEFAULT_RATE, resync, select_targets
from plugtone.services.status import ATTENTION, phone_status, status_summary
from plugtone.web.ui.auth import Refused, check_post, signed_in
from plugtone.web.ui.pages_dashboard import STATE_NAMES
from plugtone.web.ui.render import page

router = APIRouter()

NAV = [("Operations", "/operations", Role.VIEWER)]

PAGE = 50
UI_RESYNC_MAX = 1_000
"""Phones one resync from the UI may target: at the default 20 a second plus timer F
(32 s) the page waits about 80 s for them; more is the CLI's job (it shows progress)."""
TIMER_F = 32
FORMAT_NAMES = {"isc": "ISC dhcpd", "kea": "Kea DHCPv4", "dnsmasq": "dnsmasq",
                "windows": "Windows DHCP (netsh script)"}  # fmt: skip
EXTENSIONS = {"isc": "conf", "kea": "json", "dnsmasq": "conf", "windows": "cmd"}
MEDIA = {"kea": "application/json"}
Text = Annotated[str | None, Query(max_length=255)]
FormText = Annotated[str, Form(max_length=255)]
Csrf = Annotated[str, Form(max_length=256)]


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _sites(request: Request, actor) -> list[str]:
    return objects.site_names(request.app.state.store, actor)


# -- hub -------------------------------------------------------------------------------


@router.get("/operations")
def operations(request: Request) -> Response:
    found = signed_in(request)
    summary = status_summary(request.app.state.store, found.actor)
    return _hub(request, found, summary=summary)


def _hub(request: Request, found, status: int = 200, errors: dict | None = None,
         chosen: str | None = None, summary=None) -> Response:  # fmt: skip
    if summary is None:
        summary = status_summary(request.app.state.store, found.actor)
    return page(request, found, "operations_hub.html", status, summary=summary,
                attention=ATTENTION, state_names=STATE_NAMES, sites=_sites(request, found.actor),
                formats=FORMATS, format_names=FORMAT_NAMES, errors=errors or {},
                chosen=chosen, limit=UI_RESYNC_MAX, rate=DEFAULT_RATE,
                timer_f=TIMER_F)  # fmt: skip


# -- device status ---------------------------------------------------------------------


@router.get("/operations/status")
def status_page(request: Request, state: Text = None, site: Text = None,
                after: Text = None) -> Response:  # fmt: skip
    """Phones needing attention (or one such state), by MAC, a page at a time."""
    found = signed_in(request)
    state, site = _clean(state), _clean(site)
    errors: dict[str, str] = {}
    if state is not None and state not in ATTENTION:
        errors["state"] = "Choose failing, stale or never seen."
        state = None
    rows, cursor = [], None
    try:
        listed = phone_status(request.app.state.store, found.actor,
                              [state] if state else list(ATTENTION), site=site, after=after,
                              limit=PAGE)  # fmt: skip
        rows, cursor = listed.items, listed.next
    except NotFound:
        errors["site"] = f"There is no site {site}."
    filters = {name: value for name, value in (("state", state), ("site", site)) if value}
    more = f"/operations/status?{urlencode({**filters, 'after': cursor})}" if cursor else None
    return page(request, found, "operations_status.html", 422 if errors else 200, rows=rows,
                filters=filters, more=more, first=after is None, errors=errors,
                attention=ATTENTION, state_names=STATE_NAMES,
                sites=_sites(request, found.actor))  # fmt: skip


# -- DHCP ------------------------------------------------------------------------------


def _dhcp_request(request: Request, fmt: str, site: str | None, server: str | None,
                  secrets: bool) -> DhcpRequest:  # fmt: skip
    settings = request.app.state.settings
    return DhcpRequest(format=fmt, site=site, server=server, secrets=secrets,
                       factory_ftp=settings.ftp_factory_accounts,
                       ftp_port=settings.ftp_port)  # fmt: skip


def _snippet(request: Request, found, fmt: str | None, site: str | None, server: str | None,
             secrets: bool) -> tuple[str | None, dict[str, str]]:  # fmt: skip
    """The snippet, or the problems to show beside the fields (format, site, server)."""
    if fmt is None:
        return None, {}
    if fmt not in FORMATS:
        return None, {"format": f"Choose one of {', '.join(FORMATS)}."}
    try:
        return dhcp_snippet(request.app.state.store, found.actor, request.app.state.registry,
                            _dhcp_request(request, fmt, site, server, secrets)), {}  # fmt: skip
    except NotFound as error:
        return None, {"site": error.message}
    except Conflict as error:  # a site with no host of its own: name the server
        return None, {"server": error.message.replace("--server HOST (or server=HOST)",
                                                      "the Server field")}  # fmt: skip


def _dhcp_page(request: Request, found, fmt: str | None, site: str | None,
               server: str | None, secrets: bool = False) -> Response:  # fmt: skip
    text, errors = _snippet(request, found, fmt, site, server, secrets)
    chosen = {name: value for name, value in
              (("format", fmt), ("site", site), ("server", server)) if value}  # fmt: skip
    return page(request, found, "operations_dhcp.html", 422 if errors else 200, text=text,
                errors=errors, chosen=chosen, formats=FORMATS, format_names=FORMAT_NAMES,
                sites=_sites(request, found.actor), revealed=secrets,
                download=f"/operations/dhcp/download?{urlencode(chosen)}",
                can_reveal=found.actor.can(Role.ADMIN))  # fmt: skip


def _attachment(fmt: str, site: str | None, text: str) -> Response:
    name = f"plugtone-dhcp-{site or 'all-sites'}.{EXTENSIONS[fmt]}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return Response(text.encode(), media_type=MEDIA.get(fmt, "text/plain; charset=utf-8"),
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})  # fmt: skip


@router.get("/operations/dhcp")
def dhcp_page(request: Request, format: Text = None, site: Text = None,
              server: Text = None) -> Response:  # fmt: skip
    return _dhcp_page(request, signed_in(request), _clean(format), _clean(site), _clean(server))


@router.get("/operations/dhcp/download")
def dhcp_download(request: Request, format: Text = None, site: Text = None,
                  server: Text = None) -> Response:  # fmt: skip
    found = signed_in(request)
    fmt, site, server = _clean(format), _clean(site), _clean(server)
    text, _ = _snippet(request, found, fmt or "", site, server, secrets=False)
    if text is None:
        return _dhcp_page(request, found, fmt or "", site, server)
    return _attachment(fmt or "", site, text)


@router.post("/operations/dhcp")
def dhcp_with_secrets(request: Request, format: FormText = "", site: FormText = "",
                      server: FormText = "", download: FormText = "",
                      csrf: Csrf = "") -> Response:  # fmt: skip
    """The snippet with the sites' own FTP passwords: admins only, audited by the
    service (a disclosure); shown, or downloaded when ``download`` is set."""
    found = check_post(request, csrf)
    if not found.actor.can(Role.ADMIN):
        raise Refused(403, "Only an admin may see the sites' FTP passwords.")
    fmt, site_name, host = _clean(format) or "", _clean(site), _clean(server)
    if download:
        text, _ = _snippet(request, found, fmt, site_name, host, secrets=True)
        if text is not None:
            return _attachment(fmt, site_name, text)
    return _dhcp_page(request, found, fmt, site_name, host, secrets=True)


# -- resync ----------------------------------------------------------------------------


def _run_resync(request: Request, found, targets, what: str) -> Response:
    outcomes = resync(request.app.state.store, found.actor, request.app.state.registry, targets)
    counted = getattr(request.app.state, "resync_outcomes", None)
    if counted is not None:  # /metrics counts the UI's resyncs as the API's
        counted.update(outcome.status for outcome in outcomes)
    tally = Counter(outcome.status for outcome in outcomes)
    return page(request, found, "operations_resync.html", outcomes=outcomes, what=what,
                tally=sorted(tally.items()), answered=sum(o.ok for o in outcomes),
                seconds=max((o.seconds for o in outcomes), default=0.0))  # fmt: skip


@router.post("/phones/{mac}/resync")
def resync_phone(request: Request, mac: str, csrf: Csrf = "") -> Response:
    """One phone's resync (operators and admins; the service refuses a viewer)."""
    found = check_post(request, csrf)
    targets = select_targets(request.app.state.store, found.actor, macs=[mac])
    return _run_resync(request, found, targets, f"phone {colon_mac(targets[0].mac)}")


@router.post("/operations/resync")
def resync_many(request: Request, site: FormText = "", confirm: FormText = "",
                csrf: Csrf = "") -> Response:  # fmt: skip
    """A site's phones, or every phone (admins, with the confirmation box ticked)."""
    found = check_post(request, csrf)
    if not found.actor.can(Role.OPERATOR):
        raise Refused(403, "Only operators and admins may resync phones.")
    name = _clean(site)
    everything = name == "*"
    if everything and not found.actor.can(Role.ADMIN):
        raise Refused(403, "Only an admin may resync every phone.")
    if name is None:
        return _hub(request, found, 422, {"site": "Choose a site."})
    if everything and not confirm:
        return _hub(request, found, 422, {"confirm": "Tick this box to resync every phone."},
                    chosen=name)  # fmt: skip
    store = request.app.state.store
    try:
        targets = select_targets(store, found.actor, site=None if everything else name,
                                 everything=everything)  # fmt: skip
    except (NotFound, Invalid) as error:
        return _hub(request, found, 422, {"site": error.message}, chosen=name)
    if len(targets) > UI_RESYNC_MAX:
        which = "--all" if everything else f"--site {name}"
        message = (f"{len(targets):,} phones are more than this page can wait for "
                   f"({UI_RESYNC_MAX:,}): run plugtone resync {which}, which shows "
                   "progress.")  # fmt: skip
        return _hub(request, found, 422, {"site": message}, chosen=name)
    return _run_resync(request, found, targets, "every phone" if everything else f"site {name}")
