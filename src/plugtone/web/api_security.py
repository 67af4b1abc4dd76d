"""``/api/windows`` and ``/api/phones/{mac}/credentials``: who gets secrets.

A thin face over ``services.windows`` and ``services.credentials``. Viewers list
windows; operators and admins arm and disarm them and make phones' logins. A login's
password is in the one answer that made it (201), never in any other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from plugtone.macaddr import colon_mac
from plugtone.services import credentials, windows
from plugtone.services.errors import Conflict
from plugtone.web.answers import no_content
from plugtone.web.api_devices import MacPath
from plugtone.web.deps import CallerDep, StoreDep
from plugtone.web.schemas import NAME

router = APIRouter(tags=["security"])

DURATION = r"^([0-9]{1,6}[smhd]){1,4}$"


class WindowOut(BaseModel):
    id: int
    site: str | None = Field(description="the site whose phones it covers, else `null`")
    macs: list[str] = Field(description="the phones it covers (12 hex digits each)")
    opens_at: datetime
    closes_at: datetime
    once: bool = Field(description="closes for each phone shortly after its first secret")
    state: str = Field(description="`upcoming` or `open`")
    created_by: str | None


class WindowList(BaseModel):
    items: list[WindowOut]


class WindowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str | None = Field(None, pattern=NAME, description="every phone of this site")
    macs: list[str] | None = Field(
        None, max_length=windows.MAX_MACS, description="these phones (in the inventory)"
    )
    duration: str = Field("1h", pattern=DURATION, description="30m, 2h, 1d (at most 7d)")
    once: bool = False
    opens_at: datetime | None = Field(None, description="default: now; a time without a zone"
                                      " is UTC")  # fmt: skip


class LoginOut(BaseModel):
    mac: str
    http_user: str
    http_password: str = Field(description="shown in this answer only")


def _window(info: windows.WindowInfo) -> dict:
    return {
        "id": info.id, "site": info.site, "macs": list(info.macs),
        "opens_at": info.opens_at.isoformat(), "closes_at": info.closes_at.isoformat(),
        "once": info.once, "state": info.state(), "created_by": info.created_by,
    }  # fmt: skip


@router.get("/windows", response_model=WindowList, summary="Open and upcoming windows")
def list_windows(actor: CallerDep, store: StoreDep) -> Response:
    return JSONResponse({"items": [_window(info) for info in windows.list_windows(store, actor)]})


@router.post("/windows", status_code=201, response_model=WindowOut,
             summary="Arm a provisioning window for a site or some phones")  # fmt: skip
def arm_window(body: WindowCreate, actor: CallerDep, store: StoreDep) -> Response:
    """422 naming the MACs that are not phones in the inventory."""
    info = windows.arm(store, actor, site=body.site, macs=body.macs or [],
                       duration=body.duration, once=body.once, opens_at=body.opens_at)  # fmt: skip
    return JSONResponse(_window(info), status_code=201,
                        headers={"Location": f"/api/windows/{info.id}"})  # fmt: skip


@router.delete("/windows/{window_id}", status_code=204, summary="Close (disarm) a window")
def disarm_window(
    window_id: Annotated[int, Path(ge=1, le=2**31 - 1)], actor: CallerDep, store: StoreDep
) -> Response:
    """404 when no open or upcoming window has that id."""
    windows.disarm(store, actor, window_id=window_id)
    return no_content()


@router.post("/phones/{mac}/credentials", status_code=201, response_model=LoginOut,
             summary="Make a phone's provisioning login, shown this once")  # fmt: skip
def make_login(
    mac: MacPath, actor: CallerDep, store: StoreDep,
    replace: bool = Query(False, description="replace the phone's login if it has one"),
) -> Response:  # fmt: skip
    """409 when the phone has a login already and ``replace`` is not set."""
    result = credentials.generate_credentials(store, actor, [mac], replace=replace)
    if not result.issued:
        raise Conflict(f"{colon_mac(result.skipped[0])} has a login already; replace=true"
                       " makes a new one")  # fmt: skip
    login = result.issued[0]
    body = {"mac": login.mac, "http_user": login.user, "http_password": login.password}
    return JSONResponse(body, status_code=201, headers={"Cache-Control": "no-store"})


@router.delete("/phones/{mac}/credentials", status_code=204,
               summary="Remove a phone's provisioning login")  # fmt: skip
def clear_login(mac: MacPath, actor: CallerDep, store: StoreDep) -> Response:
    credentials.clear_credentials(store, actor, [mac])
    return no_content()
