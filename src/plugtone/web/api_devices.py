"""``/api/devices``, ``/api/unassigned``, ``/api/events`` and what a phone is served.

``/api/events?secrets=true`` is the audit of disclosures: every answer that carried a
secret, with the device, file, client address, trust level and transport.

A thin face over ``services.devices``: lists are keyset pages (pass ``next`` back as
``after``), a device seen but not in the inventory is claimed into it, and a file a
phone is served (or uploaded) is answered as its bytes with every secret masked;
``?reveal=true`` shows them to an admin and is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from plugtone.firmware.repository import FileStore
from plugtone.macaddr import colon_mac
from plugtone.provisioning.uploads import UploadStore
from plugtone.services import devices
from plugtone.settings import Settings
from plugtone.web.answers import AFTER, LIMIT
from plugtone.web.deps import CallerDep, RegistryDep, SettingsDep, StoreDep
from plugtone.web.schemas import NAME

router = APIRouter(tags=["devices"])

MAC_PATTERN = (
    r"^[0-9A-Fa-f][02468ACEace]"  # the first octet: a multicast address is no phone's
    r"(?:[0-9A-Fa-f]{10}|(?::[0-9A-Fa-f]{2}){5}|(?:-[0-9A-Fa-f]{2}){5}"
    r"|[0-9A-Fa-f]{2}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})$"
)
"""A phone's MAC in any notation plugtone reads (``macaddr.normalize_mac``)."""
MacPath = Annotated[
    str,
    Path(pattern=MAC_PATTERN, description="in any notation: `00:08:5D:00:00:01`, `00085d000001`"),
]
REVEAL = Query(False, description="show the secrets (admins only; audited)")
ANY_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file's bytes, secrets masked unless revealed",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "X-Masked-Secrets": {
                "description": "how many secrets were masked",
                "schema": {"type": "integer"},
            }
        },
    }
}

# -- shapes


class SeenOut(BaseModel):
    vendor: str | None
    model: str | None = Field(description="as the device reported it")
    firmware_version: str | None
    address: str | None
    user_agent: str | None
    first_seen: datetime
    last_seen: datetime
    requests: int


class LineOut(BaseModel):
    index: int
    site: str
    number: str
    name: str | None


class DeviceOut(BaseModel):
    mac: str = Field(description="12 hex digits")
    model: str
    vendor: str
    site: str
    description: str | None
    lines: list[LineOut]
    seen: SeenOut | None = Field(description="`null`: never asked for a file")


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next: str | None = Field(description="pass as `after` for the next page")


class UnassignedOut(BaseModel):
    mac: str
    seen: SeenOut


class UnassignedPage(BaseModel):
    items: list[UnassignedOut]
    next: str | None


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str = Field(pattern=NAME)
    model: str | None = Field(None, max_length=64, description="default: the one it reported")
    lines: list[str | None] = Field(
        default_factory=list, max_length=64,
        description="extensions (`3003` or `site/3003`), line 1 first; `null` skips a line",
    )  # fmt: skip
    description: str | None = Field(None, max_length=255)


class ClaimOut(BaseModel):
    phone: DeviceOut
    changes: list[str]
    generation: int | None


class EventOut(BaseModel):
    id: int
    time: datetime
    transport: str
    client_address: str | None
    path: str
    mac: str | None
    vendor: str | None
    status: str
    bytes: int
    user_agent: str | None
    detail: str | None
    trust: Literal["local", "authenticated", "trusted_network", "window", "stranger"] | None = (
        Field(description="the request's trust level; `null` for events recorded before levels")
    )
    secrets: bool = Field(description="the answer carried a secret (a disclosure)")


class EventPage(BaseModel):
    items: list[EventOut]
    next: str | None = Field(description="pass as `after` for the next (older) page")


class UploadOut(BaseModel):
    name: str
    size: int
    modified: datetime


class UploadList(BaseModel):
    items: list[UploadOut]


# -- phones and devices


@router.get("/devices", response_model=DevicePage,
            summary="Phones with what was last seen of each")  # fmt: skip
def list_devices(
    actor: CallerDep, store: StoreDep,
    site: str | None = Query(None, pattern=NAME, description="only this site's"),
    model: str | None = Query(None, max_length=64, description="only this model"),
    vendor: str | None = Query(None, max_length=32, description="only this vendor's"),
    q: str | None = Query(None, max_length=255, description=(
        "a MAC prefix in any notation, an extension number on a line, or part of the"
        " description")),
    after: str | None = AFTER, limit: int = LIMIT,
) -> devices.PhonePage:  # fmt: skip
    return devices.list_phones(store, actor, site=site, model=model, vendor=vendor, q=q,
                               after=after, limit=limit)  # fmt: skip


@router.get("/unassigned", response_model=UnassignedPage,
            summary="Devices seen but not in the inventory")  # fmt: skip
def list_unassigned(actor: CallerDep, store: StoreDep, after: str | None = AFTER,
                    limit: int = LIMIT) -> devices.DevicePage:  # fmt: skip
    return devices.list_unassigned(store, actor, after=after, limit=limit)


@router.post("/unassigned/{mac}/claim", status_code=201, response_model=ClaimOut,
             summary="Add a device seen but not in the inventory as a phone")  # fmt: skip
def claim(mac: MacPath, body: ClaimRequest, actor: CallerDep, store: StoreDep,
          registry: RegistryDep, response: Response) -> devices.ClaimResult:  # fmt: skip
    """409 when it is in the inventory already; 404 when it never asked for a file."""
    result = devices.claim_device(store, actor, mac, site=body.site, model=body.model,
                                  lines=body.lines, description=body.description,
                                  registry=registry)  # fmt: skip
    response.headers["Location"] = f"/api/phones/{colon_mac(result.phone.mac)}"
    return result


@router.get("/events", response_model=EventPage, summary="Requests devices made, newest first")
def list_events(
    actor: CallerDep, store: StoreDep,
    mac: str | None = Query(None, pattern=MAC_PATTERN, description="only this device's"),
    transport: str | None = Query(None, max_length=8, description="tftp, http, https, ftp"),
    status: str | None = Query(None, max_length=16, description="ok, not_found, ..."),
    since: Annotated[datetime | None, Query(description="from this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="before this time")] = None,
    secrets: bool | None = Query(None, description=(
        "`true`: only answers that carried a secret, the audit of disclosures (newest first"
        " by time); `false`: only the others")),
    trust: Literal["local", "authenticated", "trusted_network", "window", "stranger"] | None
        = Query(None, description="only requests at this trust level"),
    after: str | None = Query(None, max_length=19, pattern=r"^[0-9]+$",
                              description="the `next` of the previous page"),
    limit: int = LIMIT,
) -> devices.EventPage:  # fmt: skip
    return devices.list_events(store, actor, mac=mac, transport=transport, status=status,
                               since=since, until=until, secrets=secrets, trust=trust,
                               after=after, limit=limit)  # fmt: skip


# -- uploads and served files


@router.get("/phones/{mac}/uploads", response_model=UploadList,
            summary="What a device uploaded: logs, overrides, contacts")  # fmt: skip
def list_uploads(mac: MacPath, actor: CallerDep, store: StoreDep, settings: SettingsDep) -> dict:
    found = devices.list_uploads(store, actor, _uploads(settings), mac)
    return {"items": found}


@router.get("/phones/{mac}/uploads/{name}", response_class=Response, responses=ANY_CONTENT,
            summary="One upload, secrets masked")  # fmt: skip
def get_upload(mac: MacPath, name: str, actor: CallerDep, store: StoreDep, settings: SettingsDep,
               reveal: bool = REVEAL) -> Response:  # fmt: skip
    shown = devices.upload_content(store, actor, _uploads(settings), mac, name, reveal=reveal)
    return _file(shown)


@router.get("/phones/{mac}/files/{name:path}", response_class=Response, responses=ANY_CONTENT,
            summary="Exactly what a phone is served for a file, secrets masked")  # fmt: skip
def get_file(mac: MacPath, name: str, actor: CallerDep, store: StoreDep, registry: RegistryDep,
             settings: SettingsDep, reveal: bool = REVEAL) -> Response:  # fmt: skip
    """404 when that phone is not served that file, or it is a firmware image (the detail
    says which)."""
    files = FileStore(settings.data_dir / "firmware")
    shown = devices.rendered_file(store, registry, actor, mac, name, reveal=reveal,
                                  firmware_files=files)  # fmt: skip
    return _file(shown)


def _uploads(settings: Settings) -> UploadStore:
    return UploadStore(settings.data_dir / "uploads")


def _file(shown: devices.FileContent) -> Response:
    # no-store: a revealed file holds passwords, and a masked one is no use cached
    headers = {"Cache-Control": "no-store", "X-Masked-Secrets": str(shown.masked)}
    return Response(shown.content, media_type=shown.content_type, headers=headers)
