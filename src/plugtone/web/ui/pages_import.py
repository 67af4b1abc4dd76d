"""Import: a CSV sheet of phones or extensions, previewed row by row, then imported.

The upload is checked by the service with ``dry_run`` (``services.csv_import``, as
``POST /api/import`` and ``plugtone import`` do): every row's outcome and errors with
its row number. The operator then imports all rows (refused by the service while a row
is bad) or only the good ones (``partial``).

Between the preview and the import the sheet stays on the server, never round-tripped
through the browser (a client could change it after it was checked): :class:`HeldSheets`
keeps it in memory under a random id bound to the session that uploaded it, for
:data:`HOLD_SECONDS`, at most :data:`MAX_HELD` sheets and :data:`MAX_HELD_BYTES` bytes
in all (the oldest go first). A sheet gone is uploaded again; the import re-checks it
anyway, so a store changed since the preview is judged as it is now.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from plugtone.inventory.csv_source import MAX_BYTES
from plugtone.services.actors import Role, require
from plugtone.services.csv_import import ImportReport, import_csv
from plugtone.services.errors import Invalid
from plugtone.web.ui.auth import Refused, Visit, check_post, signed_in
from plugtone.web.ui.render import page

router = APIRouter()

NAV = [("Import", "/import", Role.OPERATOR)]
BODY_LIMITS = {"/import": MAX_BYTES + 64 * 1024}
"""The API's cap on a sheet (``api_import``), plus room for the form's other fields."""

HOLD_SECONDS = 15 * 60
MAX_HELD = 4
MAX_HELD_BYTES = MAX_BYTES
"""All held sheets together: one sheet of the largest size the API takes, or a few
smaller ones; memory stays bounded whatever is uploaded."""

Token = Annotated[str, Form(max_length=256)]
Kind = Annotated[Literal["", "phones", "extensions"], Form()]


@dataclass(frozen=True)
class Held:
    sid: str
    user: str
    filename: str
    kind: str | None
    data: bytes
    at: float


class HeldSheets:
    """Uploaded sheets awaiting their import, keyed by a random id, bounded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sheets: OrderedDict[str, Held] = OrderedDict()

    def put(self, held: Held) -> str:
        key = secrets.token_urlsafe(18)
        with self._lock:
            self._expire(time.monotonic())
            self._sheets[key] = held
            while len(self._sheets) > MAX_HELD or (
                sum(len(item.data) for item in self._sheets.values()) > MAX_HELD_BYTES
                and len(self._sheets) > 1
            ):
                self._sheets.popitem(last=False)
        return key

    def get(self, key: str, visit: Visit) -> Held | None:
        """The sheet ``key`` if this session uploaded it and it is still held."""
        with self._lock:
            self._expire(time.monotonic())
            held = self._sheets.get(key)
        if held is None or not secrets.compare_digest(held.sid, visit.session.sid):
            return None
        return held if held.user == visit.actor.name else None

    def drop(self, key: str) -> None:
        with self._lock:
            self._sheets.pop(key, None)

    def __len__(self) -> int:
        return len(self._sheets)

    def _expire(self, now: float) -> None:
        for key in [key for key, item in self._sheets.items() if now - item.at > HOLD_SECONDS]:
            del self._sheets[key]


_create = threading.Lock()


def held_sheets(request: Request) -> HeldSheets:
    """The app's held sheets (made on first use: one per admin app)."""
    state = request.app.state
    with _create:
        if not hasattr(state, "ui_held_sheets"):
            state.ui_held_sheets = HeldSheets()
    return state.ui_held_sheets


def _operator(found: Visit) -> None:
    require(found.actor, Role.OPERATOR, "importing a sheet")


@router.get("/import")
def upload_form(request: Request) -> Response:
    found = signed_in(request)
    _operator(found)
    return page(request, found, "import_upload.html", errors={}, kind="")


@router.post("/import")
def preview(request: Request, file: Annotated[UploadFile, File()], csrf: Token = "",
            kind: Kind = "") -> Response:  # fmt: skip
    """Check the sheet (a dry run) and hold it for the import."""
    found = check_post(request, csrf)
    _operator(found)
    data = file.file.read(MAX_BYTES + 1)
    filename = (file.filename or "sheet.csv").replace("\\", "/").rsplit("/", 1)[-1][:255]
    try:
        report = import_csv(request.app.state.store, found.actor, data,
                            request.app.state.registry, filename=filename or "sheet.csv",
                            kind=kind or None, dry_run=True)  # fmt: skip
    except Invalid as error:
        message = "; ".join(problem.message for problem in error.problems) or error.message
        return page(request, found, "import_upload.html", 422, errors={"file": message},
                    kind=kind)  # fmt: skip
    key = held_sheets(request).put(
        Held(found.session.sid, found.actor.name, report.filename, kind or None, data,
             time.monotonic())
    )  # fmt: skip
    return _report_page(request, found, report, key)


@router.post("/import/{key}")
def run_import(request: Request, key: str, csrf: Token = "",
               rows: Annotated[Literal["all", "good"], Form()] = "all") -> Response:  # fmt: skip
    """Import the held sheet: all rows, or only the good ones (``partial``)."""
    found = check_post(request, csrf)
    _operator(found)
    sheets = held_sheets(request)
    held = sheets.get(key, found)
    if held is None:
        raise Refused(410, "That sheet is no longer held (it was imported, or it expired after "
                      f"{HOLD_SECONDS // 60} minutes); upload it again.")  # fmt: skip
    report = import_csv(request.app.state.store, found.actor, held.data,
                        request.app.state.registry, filename=held.filename, kind=held.kind,
                        partial=rows == "good")  # fmt: skip
    if report.accepted:
        sheets.drop(key)
        return _report_page(request, found, report, None)
    return _report_page(request, found, report, key, status=422)


def _report_page(request: Request, found: Visit, report: ImportReport, key: str | None,
                 status: int = 200) -> Response:  # fmt: skip
    totals = report.totals
    good = totals["created"] + totals["updated"] + totals["unchanged"]
    general = [problem for problem in report.problems if problem.row is None]
    return page(request, found, "import_report.html", status, report=report, key=key,
                totals=totals, good=good, general=general,
                summary=report.summary(), hold_minutes=HOLD_SECONDS // 60)  # fmt: skip
