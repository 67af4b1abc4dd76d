"""Phones or extensions as a CSV sheet, in the columns ``plugtone import`` reads.

Built on the inventory export (``export_inventory``), so a phone's lines, pin and
branding are written exactly as in the inventory file, and a sheet exported then
imported changes nothing. Every cell that a spreadsheet would run as a formula
(``=``, ``+``, ``-``, ``@``, tab, CR) is written with a leading ``'`` (the OWASP
CSV-injection rule); the importer takes that ``'`` off again.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from plugtone.inventory.csv_source import FORCE_SUFFIX, FORMATS, PHONES, CsvFormat, safe_cell
from plugtone.inventory.store import Store
from plugtone.services.actors import Actor
from plugtone.services.inventory import export_inventory


def export_csv(store: Store, actor: Actor, kind: str = "phones", *, secrets: bool = False) -> str:
    """The store's phones or extensions as CSV text; passwords are :data:`MASK` (which
    an import reads as "keep the stored one") unless ``secrets`` (admins; audited)."""
    fmt = FORMATS[kind]
    return write_csv(fmt, export_inventory(store, actor, secrets=secrets).get(fmt.kind, []))


def write_csv(fmt: CsvFormat, entries: list[dict[str, Any]]) -> str:
    """Entries of the inventory file's shape as a sheet of ``fmt``'s columns."""
    lines = max((len(entry.get("lines") or []) for entry in entries), default=0)
    header = fmt.header(max(lines, 1))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for entry in entries:
        row = []
        for name in header:
            if fmt is PHONES and name.startswith("line") and name[4:].isdigit():
                refs = entry.get("lines") or []
                index = int(name[4:]) - 1
                row.append(_cell(refs[index] if index < len(refs) else None))
            else:
                row.append(_cell(entry.get(name)))
        writer.writerow(row)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # a forced firmware pin
        return f"{value['version']}{FORCE_SUFFIX}" if value.get("force") else value["version"]
    return safe_cell(str(value))
