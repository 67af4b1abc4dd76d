"""Firmware: releases, where each is pinned, its delivery progress, and the actions.

Everyone signed in reads the page (viewers read firmware through the API too).
Operators pin a version to a model, a site (optionally for one vendor or model) or a
phone, with an optional first wave (``10%``), promote a staged pin and unpin; admins
upload and remove releases. Every action is one ``services.firmware`` call, which
checks the role, audits and refuses what breaks a pin rule; a refusal is shown beside
the field it names.

Progress per release is read from the firmware report (every inventory phone's
target, running and delivered version): phones targeted, those in a staged first wave,
those waiting for a promotion, and those that run it.

Uploads are spooled to the repository's private ``incoming`` folder exactly as
``POST /api/firmware`` does (``api_firmware._spooled``), and removed once the release is
stored or refused.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from plugtone.firmware.repository import MAX_FILE_BYTES, FileStore
from plugtone.inventory.document import Problem
from plugtone.services import firmware
from plugtone.services.actors import authorize_kinds
from plugtone.services.errors import Conflict, Invalid, NotFound
from plugtone.web.api_firmware import MAX_UPLOAD_FILES, _spooled
from plugtone.web.ui.auth import Visit, check_post, signed_in
from plugtone.web.ui.render import page

router = APIRouter()

NAV = [("Firmware", "/firmware", None)]
BODY_LIMITS = {"/firmware": MAX_UPLOAD_FILES * MAX_FILE_BYTES}
"""As the API's release upload: images of tens of MB, each capped by the repository."""

Token = Annotated[str, Form(max_length=256)]
Short = Annotated[str, Form(max_length=255)]
For = Annotated[str, Form(alias="for", max_length=64)]
PLACES = ("site", "model", "phone")
PIN_FIELDS = {"version": "version", "first_wave": "first_wave", "for": "for",
              "owner": "name", "model": "name", "site": "name", "phone": "name"}  # fmt: skip
"""Problem fields of the pin use cases, by the form field they are shown beside."""


@dataclass(frozen=True)
class Progress:
    targeted: int
    first_wave: int
    waiting: int
    running: int
    delivered: int


@dataclass(frozen=True)
class Place:
    """A pin's place as a release names it (``site hq``): the hidden fields of its forms."""

    label: str
    kind: str
    name: str


def _progress(release: firmware.ReleaseInfo, rows: list[firmware.FirmwareRow]) -> Progress:
    version = release.version
    mine = [row for row in rows if row.model in release.models]
    targeted = [row for row in mine if row.target == version]
    return Progress(
        targeted=len(targeted),
        first_wave=sum(1 for row in targeted if "first wave" in row.pin),
        waiting=sum(1 for row in mine if f"waiting for {version}" in row.pin),
        running=sum(1 for row in targeted if row.running == version),
        delivered=sum(1 for row in targeted if row.delivered == version),
    )


def _places(release: firmware.ReleaseInfo) -> list[Place]:
    found = []
    for label in dict.fromkeys(release.pinned):
        kind, _, name = label.partition(" ")
        if kind in PLACES and name:
            found.append(Place(label, kind, name))
    return found


def _page(request: Request, found: Visit, status: int = 200, *, message: str | None = None,
          pin_errors: dict | None = None, pin_form: dict | None = None,
          upload_errors: dict | None = None, upload_form: dict | None = None,
          action_error: str | None = None) -> Response:  # fmt: skip
    store = request.app.state.store
    releases = firmware.list_releases(store, found.actor)
    rows = firmware.firmware_report(store, found.actor)
    shown = [(release, _progress(release, rows), _places(release)) for release in releases]
    vendors = sorted(plugin.name for plugin in request.app.state.registry.plugins)
    return page(request, found, "firmware_list.html", status, releases=shown, rows=rows,
                vendors=vendors, message=message, pin_errors=pin_errors or {},
                pin_form=pin_form or {"place": "site"}, upload_errors=upload_errors or {},
                upload_form=upload_form or {}, action_error=action_error,
                versions=sorted({release.version for release in releases}))  # fmt: skip


@router.get("/firmware")
def firmware_page(request: Request) -> Response:
    return _page(request, signed_in(request))


def _owner(place: str, name: str, applies_to: str = "") -> firmware.PinOwner:
    name, applies_to = name.strip(), applies_to.strip()
    if place not in PLACES:
        raise Invalid([Problem("owner", "choose a site, a model or a phone")])
    return firmware.PinOwner(
        model=name or None if place == "model" else None,
        site=name or None if place == "site" else None,
        phone=name or None if place == "phone" else None,
        applies_to=applies_to or None,
    )


def _pin_errors(error: Invalid) -> tuple[dict[str, str], str | None]:
    beside: dict[str, list[str]] = {}
    general = []
    for problem in error.problems:
        field = PIN_FIELDS.get(problem.where)
        if field is None:
            general.append(f"{problem.where}: {problem.message}" if problem.where
                           else problem.message)  # fmt: skip
        else:
            beside.setdefault(field, []).append(problem.message)
    return {field: "; ".join(texts) for field, texts in beside.items()}, "; ".join(general) or None


@router.post("/firmware/pins")
def pin(request: Request, csrf: Token = "", version: Short = "", place: Short = "site",
        name: Short = "", applies_to: For = "",
        first_wave: Short = "", force: Annotated[bool, Form()] = False) -> Response:  # fmt: skip
    """Pin a version at a place, optionally staged with a first wave."""
    found = check_post(request, csrf)
    form = {"version": version, "place": place, "name": name, "for": applies_to,
            "first_wave": first_wave, "force": force}  # fmt: skip
    try:
        result = firmware.set_pin(request.app.state.store, found.actor,
                                  _owner(place, name, applies_to), version.strip(),
                                  first_wave=first_wave.strip() or None, force=force,
                                  registry=request.app.state.registry)  # fmt: skip
    except Invalid as error:
        beside, general = _pin_errors(error)
        return _page(request, found, 422, pin_errors=beside | ({"form": general} if general
                     else {}), pin_form=form)  # fmt: skip
    except NotFound as error:
        return _page(request, found, 404, pin_errors={"name": error.message}, pin_form=form)
    message = "; ".join(result.changes) or "Nothing changed: that pin is set already."
    return _page(request, found, message=message)


def _pin_action(request: Request, csrf: str, place: str, name: str, applies_to: str,
                promote: bool) -> Response:  # fmt: skip
    found = check_post(request, csrf)
    call = firmware.promote_pins if promote else firmware.remove_pin
    try:
        result = call(request.app.state.store, found.actor, _owner(place, name, applies_to),
                      registry=request.app.state.registry)  # fmt: skip
    except Invalid as error:
        text = "; ".join(problem.message for problem in error.problems)
        return _page(request, found, 422, action_error=text)
    except (Conflict, NotFound) as error:
        return _page(request, found, error.status, action_error=error.message)
    return _page(request, found, message="; ".join(result.changes))


@router.post("/firmware/pins/promote")
def promote(request: Request, csrf: Token = "", place: Short = "", name: Short = "",
            applies_to: For = "") -> Response:  # fmt: skip
    """Let every phone the staged pin governs follow it."""
    return _pin_action(request, csrf, place, name, applies_to, promote=True)


@router.post("/firmware/pins/remove")
def unpin(request: Request, csrf: Token = "", place: Short = "", name: Short = "",
          applies_to: For = "") -> Response:  # fmt: skip
    """Remove the pin: its phones follow the next less specific one."""
    return _pin_action(request, csrf, place, name, applies_to, promote=False)


def _repository(request: Request) -> FileStore:
    return FileStore(request.app.state.settings.data_dir / "firmware")


@router.post("/firmware/releases")
def upload(request: Request, files: Annotated[list[UploadFile], File()], csrf: Token = "",
           vendor: Short = "", models: Short = "", version: Short = "",
           note: Short = "") -> Response:  # fmt: skip
    """Store a release (image files or a vendor zip): admins only."""
    found = check_post(request, csrf)
    authorize_kinds(found.actor, ["release"])  # before a byte is spooled to disk
    form = {"vendor": vendor, "models": models, "version": version, "note": note}
    names = [model.strip() for model in models.split(",") if model.strip()]
    chosen = [upload for upload in files if upload.filename]
    errors = {}
    if not names:
        errors["models"] = "name at least one model (commas between several)"
    if not chosen:
        errors["files"] = "choose the release's image files or its zip"
    elif len(chosen) > MAX_UPLOAD_FILES:
        errors["files"] = f"at most {MAX_UPLOAD_FILES} files; upload a zip instead"
    if errors:
        return _page(request, found, 422, upload_errors=errors, upload_form=form)
    repository = _repository(request)
    spool = repository.root / "incoming"
    spool.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=spool))
    try:
        release = firmware.add_release(
            request.app.state.store, found.actor, repository, vendor=vendor.strip(),
            models=names, version=version.strip(), sources=_spooled(chosen, folder),
            note=note.strip() or None, registry=request.app.state.registry,
        )  # fmt: skip
    except Invalid as error:
        text = "; ".join(problem.message for problem in error.problems)
        return _page(request, found, 422, upload_errors={"form": text}, upload_form=form)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _page(request, found, message=f"{release.vendor} {release.version} is stored for "
                 f"{', '.join(release.models)}: {len(release.files)} file(s).")  # fmt: skip


@router.post("/firmware/releases/remove")
def remove(request: Request, csrf: Token = "", vendor: Short = "",
           version: Short = "") -> Response:  # fmt: skip
    """Remove a release no pin uses: admins only."""
    found = check_post(request, csrf)
    try:
        firmware.remove_release(request.app.state.store, found.actor, _repository(request),
                                vendor, version, request.app.state.registry)  # fmt: skip
    except (Conflict, NotFound) as error:
        return _page(request, found, error.status, action_error=error.message)
    return _page(request, found, message=f"{vendor} {version} is removed.")
