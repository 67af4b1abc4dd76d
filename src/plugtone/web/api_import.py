"""``POST /api/import``: a CSV sheet of phones or extensions, as ``plugtone import`` takes it.

The same service call as the command (``services.csv_import.import_csv``), so the rows
are checked by the inventory file's rules, all or none unless ``partial``, and a dry
run answers each row's outcome without writing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, WithJsonSchema

from plugtone.inventory.csv_source import MAX_BYTES
from plugtone.services.csv_import import import_csv
from plugtone.web.deps import CallerDep, RegistryDep, StoreDep

router = APIRouter(tags=["import"])
BODY_LIMITS = {"/api/import": MAX_BYTES + 64 * 1024}

Sheet = Annotated[UploadFile, WithJsonSchema({"type": "string", "format": "binary"})]


class RowErrorOut(BaseModel):
    row: int | None
    column: int | None
    column_name: str | None
    where: str
    message: str


class RowOut(BaseModel):
    row: int
    key: str
    outcome: str
    errors: list[RowErrorOut]


class ImportOut(BaseModel):
    filename: str
    kind: str
    dry_run: bool
    partial: bool
    accepted: bool
    summary: str
    totals: dict[str, int]
    rows: list[RowOut]
    problems: list[RowErrorOut]
    generation: int | None


@router.post("/import", response_model=ImportOut, summary="Import a CSV sheet")
def import_sheet(
    actor: CallerDep, store: StoreDep, registry: RegistryDep,
    file: Annotated[Sheet, File(description="the sheet (UTF-8, header row, ',' or ';')")],
    kind: Annotated[Literal["phones", "extensions"] | None, Form()] = None,
    dry_run: Annotated[bool, Form()] = False,
    partial: Annotated[bool, Form()] = False,
) -> ImportOut:  # fmt: skip
    """Each row's outcome and every problem with its row and column (200 even when rows
    had errors: ``accepted`` says whether anything was, or would be, imported)."""
    data = file.file.read(MAX_BYTES + 1)
    report = import_csv(
        store, actor, data, registry, filename=file.filename or "sheet.csv", kind=kind,
        dry_run=dry_run, partial=partial,
    )  # fmt: skip
    problems = [RowErrorOut(**_error(error)) for error in report.problems]
    return ImportOut(
        filename=report.filename, kind=report.kind, dry_run=report.dry_run,
        partial=report.partial, accepted=report.accepted, summary=report.summary(),
        totals=report.totals, generation=report.generation, problems=problems,
        rows=[RowOut(row=row.row, key=row.key, outcome=row.outcome,
                     errors=[RowErrorOut(**_error(error)) for error in row.errors])
              for row in report.rows],
    )  # fmt: skip


def _error(error) -> dict:
    """A row error as shown: never the cell's value (it may be a password or a formula)."""
    return {"row": error.row, "column": error.column, "column_name": error.column_name,
            "where": error.where, "message": error.message}  # fmt: skip
