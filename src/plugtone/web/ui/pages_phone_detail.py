"""A phone's page: its lines and keys, firmware and status, its rendered files (secrets
masked; an audited reveal for admins), its description (operators edit it) and its event
history, live. Moved out of ``pages_phones`` (the list) so the two pages evolve apart.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from plugtone.firmware.repository import FileStore
from plugtone.macaddr import colon_mac
from plugtone.provisioning.events import BOOT_GAP
from plugtone.provisioning.uploads import UploadStore
from plugtone.services import devices, objects, setting_sources
from plugtone.services.actors import Role
from plugtone.services.cursors import encode_cursor
from plugtone.services.errors import Invalid, NotFound
from plugtone.services.status import STATES, phone_status
from plugtone.web.ui.auth import Refused, check_post, signed_in
from plugtone.web.ui.pages_dashboard import STATE_NAMES
from plugtone.web.ui.render import page

router = APIRouter()

BOOT_ROWS = 200
"""Requests of the current boot shown at most (a boot is a few dozen)."""


def _status_of(store, actor, mac: str):
    """The phone's status row: the status list is keyset-paged by MAC, so the page of one
    after the MAC just below it."""
    below = int(mac, 16) - 1
    after = encode_cursor(f"{below:012X}") if below >= 0 else None
    listed = phone_status(store, actor, [s for s in STATES if s != "unassigned"], after=after,
                          limit=1)  # fmt: skip
    return next((row for row in listed.items if row.mac == mac), None)


def _phone_page(request: Request, found, mac: str, status: int = 200,
                errors: dict | None = None,
                description: str | None = None) -> Response:  # fmt: skip
    store = request.app.state.store
    registry = request.app.state.registry
    normalized = objects.phone_mac(mac)
    entry = objects.get_entry(store, found.actor, "phone", normalized)
    info = _phone_info(store, found.actor, normalized)
    if info is None:
        raise NotFound(f"no phone {colon_mac(normalized)}")
    plugin = registry.get(info.vendor)
    files = [name for name in plugin.served_files([info.model], [normalized])
             if normalized.lower() in name.lower()]  # fmt: skip
    history = devices.list_events(store, found.actor, mac=normalized, limit=50).items
    state = _status_of(store, found.actor, normalized)
    boot = _current_boot(store, found.actor, normalized, state)
    settings = setting_sources.phone_settings(store, registry, found.actor, normalized)
    uploads = devices.list_uploads(store, found.actor, _uploads(request), normalized)
    return page(request, found, "phone.html", status, phone=info, entry=entry, files=files,
                state=state, events=history, boot=boot, boot_gap=int(BOOT_GAP.total_seconds()),
                boot_last=int(boot[-1].time.timestamp() * 1000) if boot else 0,
                state_names=STATE_NAMES, errors=errors or {}, settings=settings,
                layout=settings.keys, uploads=uploads,
                description=entry.get("description", "") if description is None else description,
                newest=history[0].id if history else 0)  # fmt: skip


def _phone_info(store, actor, mac: str):
    """The phone's list row, by an index range on the MAC (a search would also look
    through every phone's description)."""
    below = int(mac, 16) - 1
    after = encode_cursor(f"{below:012X}") if below >= 0 else None
    listed = devices.list_phones(store, actor, after=after, limit=1).items
    return next((item for item in listed if item.mac == mac), None)


def _uploads(request: Request) -> UploadStore:
    """Where the phone-facing servers keep uploads (as the API reads them)."""
    return UploadStore(request.app.state.settings.data_dir / "uploads")


def _current_boot(store, actor, mac: str, state) -> list:
    """The requests of the phone's current boot, oldest first: those since its boot began
    (the first request after a gap of ``BOOT_GAP``, as the device state records it)."""
    if state is None or state.boot_started is None:
        return []
    listed = devices.list_events(store, actor, mac=mac, since=state.boot_started, limit=BOOT_ROWS)
    return list(reversed(listed.items))


@router.get("/phones/{mac}")
def phone(request: Request, mac: str) -> Response:
    return _phone_page(request, signed_in(request), mac)


@router.post("/phones/{mac}")
def edit_phone(request: Request, mac: str, description: Annotated[str, Form(max_length=1024)] = "",
               csrf: Annotated[str, Form(max_length=256)] = "") -> Response:  # fmt: skip
    """Change the description (operators and admins; the service refuses a viewer)."""
    found = check_post(request, csrf)
    normalized = objects.phone_mac(mac)
    text = description.strip()
    try:
        objects.patch_entry(request.app.state.store, found.actor, request.app.state.registry,
                            "phone", normalized, {"description": text or None})  # fmt: skip
    except Invalid as error:
        messages = {"description": "; ".join(problem.message for problem in error.problems)}
        return _phone_page(request, found, mac, 422, messages, description)
    return RedirectResponse(f"/phones/{colon_mac(normalized)}", status_code=303)


def _file_page(request: Request, found, mac: str, name: str, reveal: bool) -> Response:
    firmware = FileStore(request.app.state.settings.data_dir / "firmware")
    shown = devices.rendered_file(request.app.state.store, request.app.state.registry,
                                  found.actor, mac, name, reveal=reveal,
                                  firmware_files=firmware)  # fmt: skip
    text = shown.content.decode("utf-8", errors="replace")
    return page(request, found, "file.html", shown=shown, text=text, revealed=reveal,
                mac=shown.mac, can_reveal=found.actor.can(Role.ADMIN), upload=False,
                action=f"/phones/{colon_mac(shown.mac)}/files/{quote(shown.name)}")  # fmt: skip


@router.get("/phones/{mac}/files/{name:path}")
def phone_file(request: Request, mac: str, name: str) -> Response:
    return _file_page(request, signed_in(request), mac, name, reveal=False)


@router.post("/phones/{mac}/files/{name:path}")
def reveal_file(request: Request, mac: str, name: str,
                csrf: Annotated[str, Form(max_length=256)] = "") -> Response:  # fmt: skip
    """The file with its secrets shown: admins only, audited by the service."""
    return _file_page(request, check_post(request, csrf), mac, name, reveal=True)


def _upload_page(request: Request, found, mac: str, name: str, reveal: bool) -> Response:
    shown = devices.upload_content(request.app.state.store, found.actor, _uploads(request), mac,
                                   name, reveal=reveal)  # fmt: skip
    text = shown.content.decode("utf-8", errors="replace")
    return page(request, found, "file.html", shown=shown, text=text, revealed=reveal,
                mac=shown.mac, can_reveal=found.actor.can(Role.ADMIN), upload=True,
                action=f"/phones/{colon_mac(shown.mac)}/uploads/{quote(shown.name)}")  # fmt: skip


@router.get("/phones/{mac}/uploads/{name}")
def phone_upload(request: Request, mac: str, name: str) -> Response:
    """A file the phone uploaded, secrets masked like its rendered files."""
    return _upload_page(request, signed_in(request), mac, name, reveal=False)


@router.post("/phones/{mac}/uploads/{name}")
def reveal_upload(request: Request, mac: str, name: str,
                  csrf: Annotated[str, Form(max_length=256)] = "") -> Response:  # fmt: skip
    """The upload with its secrets shown: admins only, audited by the service."""
    return _upload_page(request, check_post(request, csrf), mac, name, reveal=True)


@router.get("/phones/{mac}/uploads/{name}/download")
def download_upload(request: Request, mac: str, name: str) -> Response:
    """The upload as a file to save (operators and admins), its secrets masked: a
    download is not a reveal. Sent as an attachment of an opaque type, so a browser
    never renders what a phone wrote."""
    found = signed_in(request)
    if not found.actor.can(Role.OPERATOR):
        raise Refused(403, "Downloading uploads needs the operator role.")
    shown = devices.upload_content(request.app.state.store, found.actor, _uploads(request), mac,
                                   name)  # fmt: skip
    filename = quote(f"{shown.mac}-{shown.name}", safe="")
    return Response(shown.content, media_type="application/octet-stream", headers={
        "content-disposition": f"attachment; filename*=UTF-8''{filename}",
        "cache-control": "no-store",
    })  # fmt: skip
