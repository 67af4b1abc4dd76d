"""CSV import and export: the sheet face of the inventory, checked by the file's rules.

The service tests run on SQLite and PostgreSQL (the ``store`` fixture); the command
tests run the real ``plugtone`` on a data directory of their own.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from plugtone.inventory.csv_source import (
    EXTENSIONS,
    FORMATS,
    FORMULA_STARTS,
    NOT_IN_CSV,
    PHONES,
    safe_cell,
)
from plugtone.inventory.document import (
    EXTENSION_FIELDS,
    PHONE_FIELDS,
    SITE_FIELDS,
    parse_document,
)
from plugtone.inventory.models import Phone
from plugtone.inventory.yaml_source import Located
from plugtone.services.actors import Actor, Role, local_admin
from plugtone.services.csv_export import export_csv
from plugtone.services.csv_import import import_csv
from plugtone.services.errors import Denied, Invalid
from plugtone.services.inventory import export_inventory
from plugtone.services.inventory_export import export_document
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text, run_cli

FORMULA = "=cmd|' /C calc'!A0"
EXTENSIONS_YAML = "extensions:\n  - {number: '202', site: maxcs7}\n" + "".join(
    f"  - {{number: '{4000 + i}', site: hq, password: pw{i}}}\n" for i in range(50)
)


def mac(i: int) -> str:
    return f"00:08:5D:10:00:{i:02X}"


def phones_csv(count: int = 50, bad: dict[int, dict[str, str]] | None = None) -> str:
    """``count`` Aastra phones at hq, one extension each; ``bad`` overrides cells by row."""
    rows = ["mac,model,site,line1,description"]
    for i in range(count):
        cells = {"mac": mac(i), "model": "6757i", "site": "hq", "line1": str(4000 + i),
                 "description": f"desk {i}"}  # fmt: skip
        cells.update((bad or {}).get(i + 2, {}))  # row 1 is the header
        rows.append(",".join(_quoted(cells[name]) for name in rows[0].split(",")))
    return "\n".join(rows) + "\n"


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',";\n') else cell


@pytest.fixture
def hq(store):
    """The example inventory plus 50 free extensions 4000-4049 at hq."""
    apply_text(store, EXAMPLE.read_text())
    apply_text(store, EXTENSIONS_YAML)
    return store


def phone_count(store) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.count(Phone.id)))


def run(store, text: str | bytes, **options):
    data = text.encode() if isinstance(text, str) else text
    options.setdefault("filename", "phones.csv")
    return import_csv(store, local_admin(), data, default_registry(), **options)


# -- one face, one set of fields


def test_every_csv_column_is_a_field_of_the_file_and_every_field_is_a_column_or_excused():
    assert PHONES.all_fields is PHONE_FIELDS and EXTENSIONS.all_fields is EXTENSION_FIELDS
    excused = {(kind, name) for kind, name, _why in NOT_IN_CSV}
    for kind, fmt in FORMATS.items():
        for name in fmt.fields():
            assert name in fmt.all_fields, f"CSV column {name!r} is no {kind} field"
            assert (kind, name) not in excused, f"{name!r} is a column and excused"
        for name in fmt.all_fields:
            assert name in fmt.fields() or (kind, name) in excused, (
                f"{kind} field {name!r} is neither a CSV column nor listed in NOT_IN_CSV"
            )
    for kind, name, why in NOT_IN_CSV:
        assert name in FORMATS[kind].all_fields and why.strip()


def test_the_checker_reads_the_field_constants_and_the_csv_required_columns():
    entries = {"sites": [{"name": "x", "sip_server": "h", "colour": 1}],
               "extensions": [{"number": "1", "site": "x", "colour": 1}],
               "phones": [{"mac": mac(1), "model": "6757i", "site": "x", "colour": 1}]}  # fmt: skip
    _, problems = parse_document(Located("f.yaml", entries), default_registry())
    messages = {str(problem) for problem in problems}
    for fields in (SITE_FIELDS, EXTENSION_FIELDS, PHONE_FIELDS):
        assert any(f"(allowed: {', '.join(fields)})" in text for text in messages)
    # the columns a sheet must have are exactly the fields the checker requires
    for fmt, full in ((PHONES, entries["phones"][0]), (EXTENSIONS, entries["extensions"][0])):
        full = {key: value for key, value in full.items() if key != "colour"}
        for name in fmt.columns:
            entry = {key: value for key, value in full.items() if key != name}
            _, problems = parse_document(Located("f", {fmt.kind: [entry]}), default_registry())
            missing = f"missing required field {name!r}" in {p.message for p in problems}
            assert missing == (name in fmt.required), name


def test_the_inventory_export_writes_only_the_checkers_fields(hq):
    exported = export_inventory(hq, local_admin())
    for section, fields in (("sites", SITE_FIELDS), ("extensions", EXTENSION_FIELDS),
                            ("phones", PHONE_FIELDS)):  # fmt: skip
        for entry in exported[section]:
            assert set(entry) <= set(fields), (section, set(entry) - set(fields))


# -- one bad row in fifty


def test_one_bad_row_is_named_and_by_default_nothing_is_imported(hq):
    text = phones_csv(bad={27: {"model": "6757x"}})
    generation, phones = hq.generation(), phone_count(hq)

    dry = run(hq, text, dry_run=True)
    assert [str(p).split(": unknown model")[0] for p in dry.problems] == ["phones.csv:27:2 (model)"]
    error = dry.problems[0]
    assert (error.row, error.column, error.column_name, error.value) == (27, 2, "model", "6757x")
    assert "unknown model '6757x'" in error.message
    assert not dry.accepted and dry.totals["error"] == 1 and dry.totals["created"] == 49
    assert dry.summary().startswith("dry run: 49 created, 0 updated, 0 unchanged, 1 with errors")

    refused = run(hq, text)
    assert not refused.accepted and refused.generation is None
    assert refused.summary() == (
        "49 created, 0 updated, 0 unchanged, 1 with errors; nothing was imported"
    )
    assert [row.row for row in refused.rows if row.outcome == "error"] == [27]
    assert hq.generation() == generation and phone_count(hq) == phones

    partial = run(hq, text, partial=True)
    assert partial.accepted and partial.generation == generation + 1
    assert partial.totals == {"created": 49, "updated": 0, "unchanged": 0, "error": 1,
                              "skipped": 0}  # fmt: skip
    assert [str(p).split(": ")[0] for p in partial.problems] == ["phones.csv:27:2 (model)"]
    assert phone_count(hq) == phones + 49
    again = run(hq, text, partial=True)
    assert again.totals["unchanged"] == 49 and again.generation is None


def test_bom_semicolons_crlf_and_quoted_cells(hq):
    text = (
        "\ufeffMAC;Model;Site;Line1;Line2;Description\r\n"
        f'{mac(1)};6757i;hq;4001;;"desk; by the window"\r\n'
        f'{mac(2)};57i;hq;;4002;"two\r\nlines"\r\n'
        f"{mac(3)};6757i;hq;maxcs7/202;;\r\n"
    )
    report = run(hq, text, partial=True)
    assert [(row.row, row.outcome) for row in report.rows] == [
        (2, "created"), (3, "error"), (4, "created")]  # fmt: skip
    assert [str(p).split(": ")[0] for p in report.problems] == ["phones.csv:3:6 (description)"]
    exported = {entry["mac"]: entry for entry in export_inventory(hq, local_admin())["phones"]}
    assert exported[mac(1)]["description"] == "desk; by the window"
    assert exported[mac(1)]["lines"] == ["4001"]
    assert exported[mac(3)]["lines"] == ["maxcs7/202"]
    fixed = text.replace('"two\r\nlines"', "two lines")
    assert run(hq, fixed).totals == {"created": 1, "updated": 0, "unchanged": 2, "error": 0,
                                      "skipped": 0}  # fmt: skip
    second = {e["mac"]: e for e in export_inventory(hq, local_admin())["phones"]}[mac(2)]
    assert second["lines"] == [None, "4002"] and second["model"] == "6757i"


# -- references the store refuses


def test_partial_leaves_out_only_the_rows_the_store_refuses(hq):
    bad = {4: {"site": "nosuch"}, 6: {"line1": "4999"}, 8: {"line1": "3003"}, 9: {"mac": mac(2)}}
    text = phones_csv(10, bad=bad)
    dry = run(hq, text, dry_run=True)
    assert not dry.accepted
    report = run(hq, text, partial=True)
    assert report.accepted
    errors = {(p.row, p.column_name) for p in report.problems}
    # row 4's line is looked for in its (unknown) site too
    expected = {(4, "site"), (4, "line1"), (6, "line1"), (8, "line1"), (9, "mac")}
    assert errors == expected, report.problems
    assert {p.row for p in dry.problems} == {4, 6, 8, 9}
    assert report.totals["created"] == 6 and report.totals["error"] == 4
    stored = {entry["mac"] for entry in export_inventory(hq, local_admin())["phones"]}
    assert {mac(i) for i in (0, 1, 3, 5, 8, 9)} <= stored
    assert not stored & {mac(i) for i in (2, 4, 6, 7)}


def test_a_sheet_keeps_what_it_cannot_say(hq):
    """Keys and vendor settings (no CSV column), and columns a sheet leaves out, stay."""
    before = {e["mac"]: e for e in export_inventory(hq, local_admin())["phones"]}
    text = (
        "mac,model,site,description\n00:08:5D:00:00:01,6757i,hq,new\n00:08:5D:00:00:02,6731i,hq,\n"
    )
    report = run(hq, text)
    assert report.totals["updated"] == 1 and report.totals["unchanged"] == 1
    after = {e["mac"]: e for e in export_inventory(hq, local_admin())["phones"]}
    first, second = after["00:08:5D:00:00:01"], after["00:08:5D:00:00:02"]
    assert first["description"] == "new" and first["lines"] == ["3003"]
    assert first["vendor_settings"] == before["00:08:5D:00:00:01"]["vendor_settings"]
    assert second["keys"] == before["00:08:5D:00:00:02"]["keys"]
    names = run(hq, "number,site,name\n3003,hq,Johnny\n", filename="names.csv")
    assert names.totals["updated"] == 1
    with hq.sessions() as session:  # with its secrets
        stored = export_document(session)["extensions"]
    ext = {(e["site"], e["number"]): e for e in stored}
    assert ext[("hq", "3003")] == {"number": "3003", "site": "hq", "name": "Johnny",
                                    "password": "22222"}  # fmt: skip


# -- CSV injection and secrets


def test_formula_cells_are_never_echoed_unescaped(hq):
    text = phones_csv(5, bad={3: {"description": FORMULA}, 5: {"model": FORMULA},
                              6: {"mac": "@SUM(1+1)"}})  # fmt: skip
    report = run(hq, text, partial=True)
    assert report.totals["created"] == 3
    shown = "\n".join(str(problem) for problem in report.problems)
    assert "'" + FORMULA in shown and "'@SUM(1+1)" in shown
    assert shown.count(FORMULA) == shown.count("'" + FORMULA)
    assert {p.value for p in report.problems} == {"'" + FORMULA, "'@SUM(1+1)"}

    sheet = export_csv(hq, local_admin(), "phones")
    cells = [cell for row in csv.reader(io.StringIO(sheet)) for cell in row]
    assert "'" + FORMULA in cells
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    # the escape is taken off again on import: an exported sheet changes nothing
    assert run(hq, sheet).totals["updated"] == 0
    stored = {e["mac"]: e for e in export_inventory(hq, local_admin())["phones"]}
    assert stored[mac(1)]["description"] == FORMULA


def test_exported_sheets_import_back_unchanged(hq):
    run(hq, phones_csv(), partial=True)
    for kind in ("phones", "extensions"):
        report = run(hq, export_csv(hq, local_admin(), kind), filename=f"{kind}.csv")
        assert report.accepted and report.totals["unchanged"] == len(report.rows) > 4, kind


def test_safe_cell_follows_the_owasp_rule():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_cell(start + "x") == "'" + start + "x"
    assert safe_cell("3003") == "3003" and safe_cell("a=b") == "a=b"


# -- files that are not sheets


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"mac,model,site\n00:08:5D:00:00:09,6757i,caf\xe9\n", "phones.csv:2:28: not UTF-8 text"),
        (b"00:08:5D:00:00:09,6757i,hq\n", "phones.csv:1:1: no header"),
        (b"mac,model,site,colour\n", "phones.csv:1:4: unknown column 'colour'"),
        (b"mac,model,site,=HYPERLINK()\n", 'phones.csv:1:4: unknown column "\'=HYPERLINK()"'),
        (b"", "phones.csv:1:1: the file is empty"),
        (b"\xef\xbb\xbf\r\n", "phones.csv:1:1: the file is empty"),
        (b"mac,site\n", "phones.csv:1:1: missing column 'model'"),
        (
            b'mac,model,site\n"00:08:5D:00:00:09,6757i,hq\n',
            "phones.csv:2:1: not a CSV file plugtone can read",
        ),
    ],
)
def test_files_that_are_not_sheets_are_refused_and_change_nothing(hq, data, expected):
    generation = hq.generation()
    with pytest.raises(Invalid) as refused:
        run(hq, data)
    assert len(refused.value.problems) == 1
    assert str(refused.value.problems[0]).startswith(expected), refused.value.problems
    assert hq.generation() == generation


def test_a_header_alone_imports_nothing_and_says_so(hq):
    report = run(hq, "mac,model,site,line1\n")
    assert report.accepted and report.rows == [] and report.summary().startswith("0 created")


def test_a_viewer_cannot_import(hq, registry):
    generation = hq.generation()
    with pytest.raises(Denied):
        import_csv(hq, Actor("someone", Role.VIEWER), phones_csv(1).encode(), registry,
                   filename="phones.csv")  # fmt: skip
    assert hq.generation() == generation


def test_progress_is_reported_per_step(hq):
    steps = []
    run(hq, phones_csv(3), progress=lambda step, done, total: steps.append(step))
    assert steps[0] == "reading" and "checking" in steps and steps[-1] == "applying"


# -- the command


@pytest.fixture
def data_dir(tmp_path):
    data = tmp_path / "var"
    run_cli("init", data=data)
    run_cli("apply", str(EXAMPLE), data=data)
    extensions = tmp_path / "extensions.yaml"
    extensions.write_text(EXTENSIONS_YAML)
    run_cli("apply", str(extensions), data=data)
    return data


def test_command_imports_all_or_nothing_then_partial_and_the_phone_is_served(tmp_path, data_dir):
    (tmp_path / "phones.csv").write_text(phones_csv(bad={27: {"model": "6757x"}}))
    before = run_cli("export", data=data_dir).stdout

    dry = run_cli("import", "phones.csv", "--dry-run", data=data_dir, cwd=tmp_path, check=False)
    assert dry.returncode != 0
    assert dry.stderr.splitlines()[0].startswith("phones.csv:27:2 (model): unknown model '6757x'")
    refused = run_cli("import", "phones.csv", data=data_dir, cwd=tmp_path, check=False)
    assert refused.returncode != 0
    assert refused.stdout.strip() == (
        "49 created, 0 updated, 0 unchanged, 1 with errors; nothing was imported"
    )
    assert run_cli("export", data=data_dir).stdout == before

    partial = run_cli("import", "phones.csv", "--partial", data=data_dir, cwd=tmp_path)
    assert partial.stdout.strip() == "49 created, 0 updated, 0 unchanged, 1 with errors; imported"
    assert [line.split(": ")[0] for line in partial.stderr.splitlines()] == [
        "phones.csv:27:2 (model)"
    ]
    rendered = run_cli("render", mac(7), f"{mac(7).replace(':', '')}.cfg", data=data_dir).stdout
    assert "sip line1 user name: 4007" in rendered
    assert "sip line1 password: pw7" in rendered
    missing = run_cli("render", mac(25), f"{mac(25).replace(':', '')}.cfg", data=data_dir,
                      check=False)  # fmt: skip
    assert missing.returncode != 0  # row 27 was left out


def test_command_never_prints_a_password_or_an_unescaped_formula(tmp_path, data_dir):
    sheet = tmp_path / "extensions.csv"
    sheet.write_text(
        "number,site,name,password,shared\n"
        "5001,hq,Ann,Secret-One-5001,no\n"
        f'5002,hq,"{FORMULA}",=Secret-Two,maybe\n'
        "bad number!,hq,Bob,Secret-Three,\n"
        "5004,nosuch,Cy,Secret-Four,yes\n"
    )
    outputs = []
    for flags in ((), ("--dry-run",), ("--partial",), ("--partial",)):
        result = run_cli("import", str(sheet), *flags, data=data_dir, check=False)
        outputs.append(result.stdout + result.stderr)
    text = "\n".join(outputs)
    assert "Secret" not in text
    assert f"{sheet}:3:5 (shared)" in text and f"{sheet}:4:1 (number)" in text
    assert f"{sheet}:5:2 (site)" in text
    assert "1 created, 0 updated, 0 unchanged, 3 with errors; imported" in outputs[2]
    assert "0 created, 0 updated, 1 unchanged, 3 with errors; imported" in outputs[3]

    # a sheet shows passwords as every read of the inventory does; importing it back
    # keeps the stored ones
    sheet.write_text(
        run_cli("export", "--format", "csv", "--kind", "extensions", data=data_dir).stdout
    )
    again = run_cli("import", str(sheet), data=data_dir).stdout
    assert again.startswith("0 created, 0 updated, 56 unchanged, 0 with errors; imported")
    assert "password: Secret-One-5001" in run_cli("export", "--with-secrets", data=data_dir).stdout
    phones = tmp_path / "phones.csv"
    phones.write_text(f'mac,model,site,description\n{mac(1)},6757i,hq,"{FORMULA}"\n')
    run_cli("import", str(phones), data=data_dir)
    exported = run_cli("export", "--format", "csv", data=data_dir).stdout
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert "'" + FORMULA in cells and FORMULA not in cells
    mixed = run_cli("export", "--kind", "phones", data=data_dir, check=False)
    assert mixed.returncode != 0 and "--kind is for --format csv" in mixed.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"mac,model,site\n00:08:5D:00:00:09,6757i,caf\xe9\n", "not UTF-8 text"),
        (b"00:08:5D:00:00:09,6757i,hq\n", "no header"),
        (b"mac,model,site,colour\n", "unknown column 'colour'"),
        (b"", "the file is empty"),
    ],
)
def test_command_refuses_what_is_not_a_sheet_in_one_line(tmp_path, data_dir, content, message):
    (tmp_path / "phones.csv").write_bytes(content)
    before = run_cli("export", data=data_dir).stdout
    result = run_cli("import", "phones.csv", data=data_dir, cwd=tmp_path, check=False)
    assert result.returncode != 0
    problems = [line for line in result.stderr.splitlines() if line.startswith("phones.csv:")]
    assert len(problems) == 1 and message in problems[0], result.stderr
    assert "nothing was imported" in result.stderr
    assert run_cli("export", data=data_dir).stdout == before
