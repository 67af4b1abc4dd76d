"""Reading a CSV sheet of phones or extensions into the inventory file's shape.

The sheet face of the inventory, as ``yaml_source`` is the file's: each row becomes one
entry of the file's shape, and a position is kept for every cell, so the file's own
checker (``parse_document``) judges the rows and its problems read
``phones.csv:27:2 (model)``. Nothing here knows a field rule: cells are only typed as
YAML would type them (``true``, a forced pin). Spreadsheets differ, so a UTF-8 BOM,
``;`` or ``,`` (told from the header line), CRLF or LF and quoted cells are all read;
anything else is refused with its place before any row is looked at.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from plugtone.inventory.document import EXTENSION_FIELDS, PHONE_FIELDS, Problem
from plugtone.inventory.yaml_source import Located, Path

MAX_BYTES = 64 * 1024 * 1024
MAX_ROWS = 100_000
MAX_LINES = 64
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Cells a spreadsheet would run as a formula (OWASP CSV injection)."""

LINE_COLUMN = re.compile(r"^line([1-9][0-9]*)$")
FORCE_SUFFIX = " force"

Progress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: ``step`` is ``reading``, ``checking`` or ``applying``."""


@dataclass(frozen=True)
class CsvFormat:
    """The columns of one kind of sheet; each plain column is the field of its name."""

    kind: str
    """The inventory section its rows fill (``phones``, ``extensions``)."""
    noun: str
    """The change kind ``apply_inventory`` reports for a row (``phone``, ``extension``)."""
    columns: tuple[str, ...]
    required: tuple[str, ...]
    all_fields: tuple[str, ...]
    """The checker's fields for this kind: each is a column or in ``NOT_IN_CSV``."""
    lines: bool = False
    """``line1``, ``line2``... fill the ``lines`` field, one extension per line."""
    booleans: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    """Never stripped, never echoed in a report."""

    def fields(self) -> tuple[str, ...]:
        return (*self.columns, "lines") if self.lines else self.columns

    def header(self, lines: int = 1) -> list[str]:
        """The columns in the documented order (what ``export --format csv`` writes)."""
        if not self.lines:
            return list(self.columns)
        return [*self.columns[:3], *(f"line{i}" for i in range(1, lines + 1)), *self.columns[3:]]

    def describe(self) -> str:
        names = list(self.columns)
        if self.lines:
            names[3:3] = [f"line1..line{MAX_LINES}"]
        return ", ".join(names)


PHONES = CsvFormat(
    kind="phones",
    noun="phone",
    columns=("mac", "model", "site", "branding", "firmware", "description", "http_user",
             "http_password"),
    required=("mac", "model", "site"),
    all_fields=PHONE_FIELDS,
    lines=True,
    secrets=("http_password",),
)  # fmt: skip
EXTENSIONS = CsvFormat(
    kind="extensions",
    noun="extension",
    columns=EXTENSION_FIELDS,
    required=("number", "site"),
    all_fields=EXTENSION_FIELDS,
    booleans=("shared",),
    secrets=("password",),
)
FORMATS = {"phones": PHONES, "extensions": EXTENSIONS}
NOT_IN_CSV: tuple[tuple[str, str, str], ...] = (
    ("phones", "keys", "a list of keys, each a mapping: not one cell (use the inventory file)"),
    ("phones", "vendor_settings", "raw keys nested per vendor: not one cell"),
)
"""``(kind, field, why)``: fields of the inventory file a sheet cannot carry; an
import keeps their stored values."""


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet may show it: a leading ``'`` keeps a formula inert."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unescape_cell(text: str) -> str:
    """Undo :func:`safe_cell`, so an exported sheet imports back unchanged."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


@dataclass(frozen=True)
class Place:
    """Where a value came from: a spreadsheet row (the header is row 1) and column."""

    row: int
    column: int
    name: str | None
    """The column's header name; ``None`` when the whole row is meant."""
    entry: int
    """The row's index in its document section."""


@dataclass
class CsvLocated(Located):
    """Positions of a sheet's cells, naming the column as well (``phones.csv:3:2 (model)``)."""

    names: dict[int, str] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    """Every location text handed out, back to its place (to map problems to rows)."""

    def where(self, path: Path) -> str:
        probe = path
        while probe not in self.positions and len(probe) > 2:
            probe = probe[:-1]
        if len(probe) < 2 or probe not in self.positions:
            return super().where(path)
        row, column = self.positions[probe]
        entry = int(probe[1])
        if len(probe) == 2:
            return self.place(Place(row, 1, None, entry))
        return self.place(Place(row, column, self.names.get(column), entry))

    def place(self, place: Place) -> str:
        text = f"{self.filename}:{place.row}:{place.column}"
        if place.name:
            text += f" ({place.name})"
        self.places.setdefault(text, place)
        return text


@dataclass
class ParsedCsv:
    """A sheet read into entries of the inventory file's shape, with their places."""

    format: CsvFormat
    located: CsvLocated
    rows: list[int]
    """Entry index -> spreadsheet row number."""
    cells: list[dict[str, str]]
    """Entry index -> header name -> the cell as read (for the echo rules)."""
    supplied: set[str]
    """The fields the header supplies; the others keep stored values."""
    problems: list[Problem]


class CsvError(ValueError):
    """The bytes are not a sheet plugtone can read; ``problems`` say where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


def read_csv(
    data: bytes, filename: str, kind: str | None = None, progress: Progress | None = None
) -> ParsedCsv:
    """Entries from a sheet, in one pass; raise :class:`CsvError` for a file not a sheet."""
    text = _decode(data, filename)
    stream = io.StringIO(text, newline="")
    reader = csv.reader(stream, delimiter=_delimiter(text), strict=True)
    record = 1
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            _refuse(filename, 1, 1, "the file is empty: " + _HEADER_HINT)
        fmt, names, supplied = _header(header, filename, kind)
        located = CsvLocated(filename, {fmt.kind: []}, names=names)
        parsed = ParsedCsv(fmt, located, [], [], supplied, [])
        for cells in reader:
            record += 1
            if any(cell.strip() for cell in cells):
                if len(parsed.rows) >= MAX_ROWS:
                    _refuse(filename, record, 1, f"more than {MAX_ROWS} rows; split the file")
                _add_row(parsed, record, cells)
            if progress is not None and record % 1000 == 0:
                progress("reading", stream.tell(), len(text))
    except csv.Error as error:
        _refuse(filename, record + 1, 1, f"not a CSV file plugtone can read ({error})")
    if progress is not None:
        progress("reading", len(text), len(text))
    return parsed


_HEADER_HINT = (
    "the first row must name the columns, such as mac,model,site,line1 (phones)"
    " or number,site,name,password (extensions)"
)


def _refuse(filename: str, row: int, column: int, message: str) -> NoReturn:
    raise CsvError([Problem(f"{filename}:{row}:{column}", message)])


def _decode(data: bytes, filename: str) -> str:
    if len(data) > MAX_BYTES:
        _refuse(filename, 1, 1, f"larger than {MAX_BYTES // 1024**2} MiB; split the file")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        _refuse(
            filename, line, column,
            f"not UTF-8 text (byte 0x{data[error.start]:02x}): save the sheet as 'CSV UTF-8'",
        )  # fmt: skip


def _delimiter(text: str) -> str:
    """``;`` when the header line has more of them than commas (outside quotes)."""
    counts = {",": 0, ";": 0}
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted and char in counts:
            counts[char] += 1
    return ";" if counts[";"] > counts[","] else ","


def _header(
    header: list[str], filename: str, kind: str | None
) -> tuple[CsvFormat, dict[int, str], set[str]]:
    names = [cell.strip().lower() for cell in header]
    if kind is not None:
        fmt = FORMATS[kind]
    elif "mac" in names:
        fmt = PHONES
    elif "number" in names:
        fmt = EXTENSIONS
    else:
        fmt = None
    if fmt is None or not any(name in fmt.columns for name in names):
        _refuse(filename, 1, 1, "no header: " + _HEADER_HINT)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    supplied: set[str] = set()
    for column, name in enumerate(names, start=1):
        where = f"{filename}:1:{column}"
        match = LINE_COLUMN.match(name) if fmt.lines else None
        if not name:
            problems.append(Problem(where, f"column {column} has no name"))
        elif name in seen:
            problems.append(Problem(where, f"column {name!r} is also column {seen[name]}"))
        elif match and int(match.group(1)) > MAX_LINES:
            problems.append(Problem(where, f"lines go from line1 to line{MAX_LINES}"))
        elif name not in fmt.columns and not match:
            problems.append(
                Problem(
                    where,
                    f"unknown column {safe_cell(header[column - 1].strip())!r}"
                    f" ({fmt.kind} columns: {fmt.describe()})",
                )
            )
        seen.setdefault(name, column)
        supplied.add("lines" if match else name)
    for name in fmt.required:
        if name not in seen:
            problems.append(
                Problem(f"{filename}:1:1", f"missing column {name!r} ({fmt.kind} need it)")
            )
    if problems:
        raise CsvError(problems)
    return fmt, dict(enumerate(names, start=1)), supplied


def _add_row(parsed: ParsedCsv, row: int, cells: list[str]) -> None:
    """One row's entry, with a position for every cell the header names."""
    fmt, located = parsed.format, parsed.located
    entry_index = len(parsed.rows)
    base: Path = (fmt.kind, entry_index)
    located.positions[base] = (row, 1)
    entry: dict[str, Any] = {}
    read: dict[str, str] = {}
    lines: dict[int, str] = {}
    for column, name in located.names.items():
        raw = cells[column - 1] if column <= len(cells) else ""
        value = unescape_cell(raw if name in fmt.secrets else raw.strip())
        read[name] = value
        match = LINE_COLUMN.match(name) if fmt.lines else None
        path: Path = (*base, "lines", int(match.group(1)) - 1) if match else (*base, name)
        located.positions[path] = (row, column)
        if not value.strip():
            continue
        if match:
            lines[int(match.group(1))] = value
        else:
            entry[name] = _typed(fmt, name, value)
    if lines:
        entry["lines"] = [lines.get(index) for index in range(1, max(lines) + 1)]
    extra = [i for i, cell in enumerate(cells[len(located.names) :], len(located.names) + 1)
             if cell.strip()]  # fmt: skip
    if extra:
        where = located.place(Place(row, extra[0], None, entry_index))
        parsed.problems.append(
            Problem(where, f"the row has {len(cells)} cells, the header {len(located.names)}")
        )
    located.data[fmt.kind].append(entry)
    parsed.rows.append(row)
    parsed.cells.append(read)


def _typed(fmt: CsvFormat, name: str, value: str) -> Any:
    """A cell as the file's YAML would have typed it (the checker judges it)."""
    if name in fmt.booleans:
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(
            value.lower(), value
        )
    if name == "firmware" and value.lower().endswith(FORCE_SUFFIX):
        return {"version": value[: -len(FORCE_SUFFIX)].strip(), "force": True}
    return value
