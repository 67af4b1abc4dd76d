"""``/api/firmware`` and ``/api/pins``: releases, pins, staged roll-outs, the report.

A thin face over ``services.firmware``, the functions ``plugtone firmware`` calls:
roles (viewers read, operators pin and promote, admins add and remove releases),
audit rows and refusals are the service layer's. A release arrives as a multipart
upload; its files are spooled to a private folder beside the repository, handed to
the service as files (a vendor zip is picked apart there, as from the command line),
and removed once the release is stored or refused.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from starlette.responses import Response

from plugtone.firmware.pins import VERSION_RE
from plugtone.firmware.repository import MAX_FILE_BYTES, FileStore
from plugtone.inventory.document import Problem
from plugtone.services import firmware
from plugtone.services.actors import authorize_kinds
from plugtone.services.errors import Invalid
from plugtone.web.api_devices import MAC_PATTERN
from plugtone.web.deps import CallerDep, RegistryDep, SettingsDep, StoreDep
from plugtone.web.schemas import NAME

router = APIRouter(tags=["firmware"])

MAX_UPLOAD_FILES = 16
BODY_LIMITS = {"/api/firmware": MAX_UPLOAD_FILES * MAX_FILE_BYTES}
"""Release uploads carry images of tens of MB (each file is capped by the repository)."""

# -- shapes


class ReleaseFileOut(BaseModel):
    name: str
    role: str = Field(description="what the vendor plug-in uses the file for")
    size: int
    sha256: str


class ReleaseOut(BaseModel):
    vendor: str
    version: str
    models: list[str]
    files: list[ReleaseFileOut]
    size: int = Field(description="bytes, all files together")
    pinned: list[str] = Field(description="the pins using it (`site hq`); a pinned release stays")
    note: str | None
    added_at: datetime


class ReleaseList(BaseModel):
    items: list[ReleaseOut]


class _Place(BaseModel):
    """Which pin: exactly one of ``model``, ``site`` (with ``for``) or ``phone``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str | None = Field(None, max_length=64, description="a model's default pin")
    site: str | None = Field(None, pattern=NAME, description="a site's pin")
    for_: str | None = Field(
        None, alias="for", max_length=64, description="with `site`: one vendor's or model's phones"
    )
    phone: str | None = Field(None, pattern=MAC_PATTERN, description="one phone's pin (a MAC)")

    def owner(self) -> firmware.PinOwner:
        return firmware.PinOwner(self.model, self.site, self.for_, self.phone)


class PinRequest(_Place):
    version: str = Field(pattern=VERSION_RE.pattern,
                         description="a release's version, or `none`: leave alone")  # fmt: skip
    first_wave: str | list[str] | None = Field(
        None, description="stage the roll-out: `N%` of the phones, or a list of MACs"
    )
    force: bool = Field(False, description="pin even a release the vendor calls risky")


class PinPlace(_Place):
    pass


class PromoteRequest(_Place):
    all: bool = Field(False, description="promote every staged pin (name no place then)")


class PinOut(BaseModel):
    owner: str = Field(description="`site hq (7960)`, `model 6757i`, `phone 00085D000001`")
    version: str
    applies_to: str | None
    previous_version: str | None = Field(
        description="what phones outside a staged pin's first wave keep"
    )
    first_wave: str | None
    wave: list[str] = Field(description="the first wave's MACs, chosen once")
    promoted: bool
    forced: bool


class PinResultOut(BaseModel):
    changes: list[str]
    pins: list[PinOut]
    generation: int | None = Field(description="the inventory generation, when phones are affected")


class FirmwareRowOut(BaseModel):
    mac: str
    model: str
    site: str
    running: str | None
    target: str | None = Field(description="`null`: firmware left alone")
    pin: str = Field(description="the deciding pin (`site, first wave`), `-` for none")
    last_offered: datetime | None
    delivered: str | None
    last_result: str | None


class FirmwareReport(BaseModel):
    items: list[FirmwareRowOut]


# -- releases


@router.get("/firmware", response_model=ReleaseList, summary="List firmware releases")
def list_releases(actor: CallerDep, store: StoreDep) -> dict:
    return {"items": firmware.list_releases(store, actor)}


BinaryFile = Annotated[UploadFile, WithJsonSchema({"type": "string", "format": "binary"})]
"""An uploaded file as OpenAPI 3.0 says it (FastAPI writes 3.1's ``contentMediaType``)."""


@router.post("/firmware", status_code=201, response_model=ReleaseOut, summary="Add a release")
def add_release(
    actor: CallerDep, store: StoreDep, registry: RegistryDep, settings: SettingsDep,
    response: Response,
    vendor: Annotated[str, Form(max_length=32, description="the vendor plug-in's name")],
    models: Annotated[list[str], Form(min_length=1, description="model(s); commas allowed")],
    version: Annotated[str, Form(pattern=VERSION_RE.pattern)],
    files: Annotated[list[BinaryFile], File(min_length=1, max_length=MAX_UPLOAD_FILES,
                                            description="image files, or a vendor zip")],
    note: Annotated[str | None, Form(max_length=255)] = None,
) -> firmware.ReleaseInfo:  # fmt: skip
    """Store a release: every problem is answered at once (422) and nothing is kept."""
    authorize_kinds(actor, ["release"])  # before a byte is spooled to disk
    names = [model.strip() for item in models for model in item.split(",") if model.strip()]
    repository = FileStore(settings.data_dir / "firmware")
    spool = repository.root / "incoming"
    spool.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=spool))
    try:
        sources = _spooled(files, folder)
        release = firmware.add_release(
            store, actor, repository, vendor=vendor, models=names, version=version,
            sources=sources, note=note, registry=registry,
        )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    response.headers["Location"] = f"/api/firmware/{release.vendor}/{release.version}"
    return release


def _spooled(files: Sequence[UploadFile], folder: Path) -> list[Path]:
    """Each upload under its own name (the plug-in recognises files by name), each in a
    folder of its own so two parts with one name cannot overwrite each other."""
    sources = []
    for index, upload in enumerate(files):
        name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
        if name in ("", ".", ".."):
            raise Invalid([Problem("files", f"file {index + 1} has no file name")])
        target = folder / str(index) / name
        target.parent.mkdir()
        with target.open("wb") as stream:
            shutil.copyfileobj(upload.file, stream, 1024 * 1024)
        sources.append(target)
    return sources


@router.delete("/firmware/{vendor}/{version}", status_code=204, summary="Remove a release")
def remove_release(vendor: str, version: str, actor: CallerDep, store: StoreDep,
                   settings: SettingsDep) -> Response:  # fmt: skip
    """409 while a pin uses it; its files go once no other release shares them."""
    repository = FileStore(settings.data_dir / "firmware")
    firmware.remove_release(store, actor, repository, vendor, version)
    return Response(status_code=204)


@router.get("/firmware/report", response_model=FirmwareReport,
            summary="Every phone's running, target and pinned firmware")  # fmt: skip
def report(actor: CallerDep, store: StoreDep) -> dict:
    return {"items": firmware.firmware_report(store, actor)}


# -- pins


@router.put("/pins", response_model=PinResultOut, summary="Pin a version (or `none`)")
def set_pin(body: PinRequest, actor: CallerDep, store: StoreDep,
            registry: RegistryDep) -> firmware.PinResult:  # fmt: skip
    """Pinning the same version and wave again changes nothing (the wave is kept)."""
    return firmware.set_pin(store, actor, body.owner(), body.version, first_wave=body.first_wave,
                            force=body.force, registry=registry)  # fmt: skip


@router.delete("/pins", response_model=PinResultOut, summary="Remove a pin")
def remove_pin(body: PinPlace, actor: CallerDep, store: StoreDep,
               registry: RegistryDep) -> firmware.PinResult:  # fmt: skip
    """Its phones then follow the next less specific pin."""
    return firmware.remove_pin(store, actor, body.owner(), registry=registry)


@router.post("/pins/promote", response_model=PinResultOut,
             summary="Let every phone a staged pin governs follow it")  # fmt: skip
def promote(body: PromoteRequest, actor: CallerDep, store: StoreDep,
            registry: RegistryDep) -> firmware.PinResult:  # fmt: skip
    """409 when there is no staged pin there."""
    if body.all and any((body.model, body.site, body.for_, body.phone)):
        raise Invalid([Problem("all", "`all` promotes every staged pin: name no place with it")])
    owner = None if body.all else body.owner()
    return firmware.promote_pins(store, actor, owner, registry=registry)
