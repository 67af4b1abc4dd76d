"""CSV import of phones or extensions, through the inventory file's rules and apply.

A spreadsheet is the other way admins describe a fleet. ``inventory.csv_source`` reads
the sheet into entries of the inventory file's shape; the file's checker
(``parse_document``) judges them and ``apply_inventory`` writes them, so field rules,
roles, audit and the one transaction are the file's, written once. This module
decides which rows a partial import leaves out (field problems first, then what the
store refuses, mapped back to their rows), and reports every row's outcome without
echoing a formula cell unescaped or any secret.

Columns a sheet does not have, and fields a CSV cannot hold (``NOT_IN_CSV``), keep
their stored values for objects already in the store: a sheet of MACs and
descriptions must not wipe a phone's keys, nor a sheet of names an extension's
password. They are read in one bulk read before the apply.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from plugtone.inventory.csv_source import (
    FORMATS,
    FORMULA_STARTS,
    PHONES,
    CsvError,
    CsvFormat,
    ParsedCsv,
    Progress,
    read_csv,
    safe_cell,
)
from plugtone.inventory.document import Document, Problem, parse_document
from plugtone.inventory.store import Store
from plugtone.macaddr import MacError, normalize_mac
from plugtone.services.actors import Actor
from plugtone.services.errors import Invalid
from plugtone.services.inventory import apply_inventory, export_inventory
from plugtone.services.inventory_apply import ApplyResult
from plugtone.services.unit_of_work import MASK
from plugtone.vendors import VendorRegistry

MAX_ROUNDS = 4
"""A partial import applies, leaves out the rows the store refused, and tries again:
references, then line assignments, then firmware pins are checked in turn, so a few
rounds settle any file; more means something no row explains."""


@dataclass(frozen=True)
class RowError:
    row: int | None
    """Spreadsheet row (the header is row 1); ``None`` for a problem of no one row."""
    column: int | None
    column_name: str | None
    where: str
    message: str
    """Safe to show: formula cells escaped, secrets masked."""
    value: str | None = None
    """The cell it is about, escaped; never a secret."""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class RowOutcome:
    row: int
    key: str
    """The MAC or ``site/number`` (escaped when the cell was a formula)."""
    outcome: str
    """``created``, ``updated``, ``unchanged``, ``error``; ``skipped`` when the
    import stopped on a problem of no one row. Without ``accepted`` (or in a dry run)
    it says what would have happened."""
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportReport:
    filename: str
    kind: str
    dry_run: bool
    partial: bool
    accepted: bool
    """The good rows were written (in a dry run: would be)."""
    rows: list[RowOutcome]
    problems: list[RowError]
    """Every problem, in row order; those of no one row last."""
    generation: int | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def totals(self) -> dict[str, int]:
        names = ("created", "updated", "unchanged", "error", "skipped")
        return {name: self.count(name) for name in names}

    def summary(self) -> str:
        totals = self.totals
        text = (
            f"{totals['created']} created, {totals['updated']} updated, "
            f"{totals['unchanged']} unchanged, {totals['error']} with errors"
        )
        if totals["skipped"]:
            text += f", {totals['skipped']} skipped"
        if self.dry_run:
            tail = "nothing was written" if self.accepted else "nothing would be imported"
            return f"dry run: {text}; {tail}"
        return f"{text}; {'imported' if self.accepted else 'nothing was imported'}"


def _row_key(fmt: CsvFormat, cells: dict[str, str]) -> Any:
    if fmt is PHONES:
        try:
            return normalize_mac(cells.get("mac", ""))
        except MacError:
            return None
    return (cells.get("site", ""), cells.get("number", ""))


def _keep_stored(parsed: ParsedCsv, stored: dict[str, Any]) -> None:
    """Fill fields the sheet does not carry from what the store has for the same key."""
    fmt = parsed.format
    missing = [name for name in fmt.all_fields if name not in parsed.supplied]
    if not missing:
        return
    by_key: dict[Any, dict[str, Any]] = {}
    for item in stored.get(fmt.kind, []):
        key = normalize_mac(item["mac"]) if fmt is PHONES else (item["site"], str(item["number"]))
        by_key[key] = item
    for entry, cells in zip(parsed.located.data[fmt.kind], parsed.cells, strict=True):
        item = by_key.get(_row_key(fmt, cells))
        if item is not None:
            for name in missing:
                if name in item:
                    entry[name] = item[name]


RELOCATE = (
    ("unknown site ", "site"),
    ("unknown branding set ", "branding"),
)
"""Whole-row problems that are about one cell: point at it."""
SHARED_LINE = re.compile(r"^extension (\S+)/(\S+) is on ")


def _relocate(problem: Problem, parsed: ParsedCsv) -> Problem:
    """A problem the checker or the store placed on the whole row, moved to its cell.

    The file's rules name an entry (``phone X: unknown site``); a sheet has the cell,
    which is what a person fixing row 27 wants. Messages not recognised stay on the row.
    """
    located = parsed.located
    place = located.places.get(problem.where)
    if place is None or place.name is not None:
        return problem
    kind, entry = parsed.format.kind, place.entry
    path: tuple[str | int, ...] | None = None
    for name in parsed.format.columns:
        if problem.message == f"missing required field {name!r}":
            path = (kind, entry, name)
    for text, name in RELOCATE:
        if text in problem.message:
            path = (kind, entry, name)
    if " is already defined at " in problem.message:  # a duplicate: its key cell
        path = (kind, entry, parsed.format.required[0])
    shared = SHARED_LINE.match(problem.message)
    if shared:
        site, number = shared.groups()
        own = parsed.cells[entry].get("site", "")
        for name in located.names.values():
            cell = parsed.cells[entry].get(name, "")
            line_site, _, line_number = cell.rpartition("/")
            if name.startswith("line") and line_number == number and (line_site or own) == site:
                path = (kind, entry, "lines", int(name[4:]) - 1)
                break
    if path is None or path not in located.positions:
        return problem
    return Problem(located.where(path), problem.message)


def _row_error(problem: Problem, parsed: ParsedCsv, entry: int | None) -> RowError:
    """A problem as a report shows it: no formula cell unescaped, no secret at all."""
    message = problem.message
    place = parsed.located.places.get(problem.where)
    value = None
    if entry is not None:
        for name, cell in parsed.cells[entry].items():
            if not cell:
                continue
            if name in parsed.format.secrets:
                message = message.replace(repr(cell), repr(MASK))
            elif cell.startswith(FORMULA_STARTS):
                message = message.replace(repr(cell), repr(safe_cell(cell)))
        if place is not None and place.name and place.name not in parsed.format.secrets:
            value = safe_cell(parsed.cells[entry].get(place.name, ""))
    if place is None:
        return RowError(
            parsed.rows[entry] if entry is not None else None, None, None, problem.where, message
        )
    return RowError(place.row, place.column, place.name, problem.where, message, value)


def _entry_of(problem: Problem, parsed: ParsedCsv, macs: dict[str, int]) -> int | None:
    """The row a problem is about: by its place, else by the one row MAC it names."""
    place = parsed.located.places.get(problem.where)
    if place is not None:
        return place.entry
    named = {macs[mac] for mac in re.findall(r"\b[0-9A-F]{12}\b", problem.message) if mac in macs}
    return named.pop() if len(named) == 1 else None


def import_csv(
    store: Store,
    actor: Actor,
    data: bytes,
    registry: VendorRegistry,
    *,
    filename: str,
    kind: str | None = None,
    dry_run: bool = False,
    partial: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a sheet of phones or extensions through ``apply_inventory``.

    All rows or none, unless ``partial``: then rows with problems are left out (field
    problems first, then whatever the store refuses, a few rounds at most) and the
    rest is applied. The report lists every row's outcome and every problem either
    way; a dry run reports exactly that and writes nothing. A sheet that is not a
    sheet (not UTF-8, no header, unknown columns, too large) raises :class:`Invalid`.
    """
    if kind is not None and kind not in FORMATS:
        raise Invalid([Problem(filename, f"unknown kind {kind!r} (phones or extensions)")])
    try:
        parsed = read_csv(data, filename, kind, progress)
    except CsvError as error:
        raise Invalid(error.problems, "nothing was imported") from None
    fmt = parsed.format
    if parsed.rows:
        _keep_stored(parsed, export_inventory(store, actor))
    if progress is not None:
        progress("checking", 0, 1)
    document, problems = parse_document(parsed.located, registry)
    if progress is not None:
        progress("checking", 1, 1)
    errors: dict[int, list[RowError]] = defaultdict(list)
    general: list[RowError] = []
    for problem in [*parsed.problems, *problems]:
        problem = _relocate(problem, parsed)
        entry = _entry_of(problem, parsed, {})
        if entry is None:
            general.append(_row_error(problem, parsed, None))
        else:
            errors[entry].append(_row_error(problem, parsed, entry))
    specs = [
        (parsed.located.places[spec.where].entry, spec) for spec in getattr(document, fmt.kind)
    ]
    keys = {entry: _spec_key(fmt, spec) for entry, spec in specs}
    macs = {key: entry for entry, key in keys.items()} if fmt is PHONES else {}
    write = not dry_run and (partial or not errors) and not general
    result: ApplyResult | None = None
    for attempt in range(MAX_ROUNDS):
        chosen = [spec for entry, spec in specs if entry not in errors]
        if general or not chosen:
            break
        if progress is not None:
            progress("applying", attempt, MAX_ROUNDS)
        try:
            result = apply_inventory(
                store, actor, Document(**{fmt.kind: chosen}), registry, dry_run=not write
            )
            break
        except Invalid as refused:
            left_out = set(errors)
            for problem in refused.problems:
                problem = _relocate(problem, parsed)
                entry = _entry_of(problem, parsed, macs)
                if entry is None or entry in left_out:  # not about a row just applied
                    general.append(_row_error(problem, parsed, entry))
                else:
                    errors[entry].append(_row_error(problem, parsed, entry))
            # all or none: the rest is only looked at, for the report
            write = write and partial
    else:
        if not general:
            general.append(
                RowError(None, None, None, filename,
                         f"still refused after {MAX_ROUNDS} rounds; nothing was imported")
            )  # fmt: skip
    if progress is not None:
        progress("applying", MAX_ROUNDS, MAX_ROUNDS)
    good_rows = any(entry not in errors for entry, _ in specs)
    accepted = not general and not (errors and (not partial or not good_rows))
    return ImportReport(
        filename=filename,
        kind=fmt.kind,
        dry_run=dry_run,
        partial=partial,
        accepted=accepted,
        rows=_outcomes(parsed, keys, errors, result),
        problems=[*sorted((e for row in errors.values() for e in row), key=_order), *general],
        generation=result.generation if result is not None and write else None,
    )


def _spec_key(fmt: CsvFormat, spec: Any) -> str:
    return spec.mac if fmt is PHONES else f"{spec.site}/{spec.number}"


def _order(error: RowError) -> tuple[int, int]:
    return (error.row or 0, error.column or 0)


def _outcomes(
    parsed: ParsedCsv,
    keys: dict[int, str],
    errors: dict[int, list[RowError]],
    result: ApplyResult | None,
) -> list[RowOutcome]:
    fmt = parsed.format
    actions = (
        {change.key: change.action for change in result.changes if change.kind == fmt.noun}
        if result is not None
        else {}
    )
    names = {"create": "created", "update": "updated"}
    outcomes = []
    for entry, row in enumerate(parsed.rows):
        cells = parsed.cells[entry]
        key = keys.get(entry) or safe_cell(
            cells.get("mac", "") if fmt is PHONES else f"{cells['site']}/{cells['number']}"
        )
        if entry in errors:
            outcome = "error"
        elif result is None:
            outcome = "skipped"
        else:
            outcome = names.get(actions.get(key, ""), "unchanged")
        outcomes.append(RowOutcome(row, key, outcome, sorted(errors.get(entry, []), key=_order)))
    return outcomes
