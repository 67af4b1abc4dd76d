"""The ``plugtone`` command as an admin uses it, run as a real subprocess."""

from __future__ import annotations

import shutil

from tests.conftest import EXAMPLE, run_cli


def test_init_apply_export_phones_render_round_trip(tmp_path):
    data = tmp_path / "var"
    assert "store ready" in run_cli("init", data=data).stdout
    assert (data / "plugtone.db").is_file() and (data / "plugtone.toml").is_file()
    dry = run_cli("apply", str(EXAMPLE), "--dry-run", data=data).stdout
    assert "create phone 00085D000001: 6757i at hq" in dry
    assert "dry run: 15 change(s), nothing written" in dry
    assert "phones" not in run_cli("export", data=data).stdout
    applied = run_cli("apply", str(EXAMPLE), data=data).stdout
    assert "applied 15 change(s)" in applied
    assert run_cli("apply", str(EXAMPLE), data=data).stdout.strip() == "no changes"

    exported = tmp_path / "export.yaml"
    run_cli("export", "-o", str(exported), data=data)
    assert run_cli("apply", str(exported), data=data).stdout.strip() == "no changes"

    listing = run_cli("phones", data=data).stdout.splitlines()
    assert listing[0].split() == ["MAC", "MODEL", "SITE", "LINES", "LAST", "SEEN"]
    rows = {line.split()[0]: line.split()[:4] for line in listing[1:]}
    assert rows["00:08:5D:00:00:01"] == ["00:08:5D:00:00:01", "6757i", "hq", "1"]
    assert rows["00:04:F2:00:06:07"] == ["00:04:F2:00:06:07", "IP650", "maxcs7", "1"]

    rendered = run_cli("render", "00-08-5d-00-00-01", "00085D000001.cfg", data=data).stdout
    assert "sip line1 user name: 3003" in rendered
    assert "sip line1 password: 22222" in rendered
    common = run_cli("render", "00085D000001", "aastra.cfg", data=data).stdout
    assert "22222" not in common


def test_errors_are_clear_and_change_nothing(tmp_path):
    data = tmp_path / "var"
    run_cli("init", data=data)
    run_cli("apply", str(EXAMPLE), data=data)
    before = run_cli("export", data=data).stdout
    broken = tmp_path / "broken.yaml"
    shutil.copy(EXAMPLE.parent / "logo.png", tmp_path / "logo.png")
    broken.write_text(EXAMPLE.read_text().replace("model: 6731i", "model: 6731x"))
    result = run_cli("apply", str(broken), data=data, check=False)
    assert result.returncode != 0
    assert f"{broken}:73:5: unknown model '6731x'" in result.stderr
    assert "1 problem(s); nothing was changed" in result.stderr
    assert run_cli("export", data=data).stdout == before

    bad_mac = run_cli("render", "00:08:5D", "aastra.cfg", data=data, check=False)
    assert bad_mac.returncode != 0 and "not a MAC address" in bad_mac.stderr
    unknown = run_cli("render", "00085D0000AA", "00085D0000AA.cfg", data=data, check=False)
    assert unknown.returncode != 0 and "not served" in unknown.stderr
    missing = run_cli("apply", str(tmp_path / "nope.yaml"), data=data, check=False)
    assert missing.returncode != 0 and "cannot read" in missing.stderr


def test_commands_refuse_an_uninitialised_data_directory(tmp_path):
    result = run_cli("phones", data=tmp_path / "empty", check=False)
    assert result.returncode != 0 and "run 'plugtone init' first" in result.stderr


def test_postgresql_store_through_the_command_line(tmp_path, pg_url):
    data = tmp_path / "var"
    run_cli("init", "--db", pg_url, data=data)
    run_cli("apply", str(EXAMPLE), "--db", pg_url, data=data)
    exported = run_cli("export", "--db", pg_url, data=data).stdout
    assert "mac: 00:08:5D:00:00:01" in exported
    # the SQLite file under --data is not used when a PostgreSQL URL is given
    assert not (data / "plugtone.db").exists()


def test_export_tree_writes_what_phones_are_served(tmp_path):
    data = tmp_path / "var"
    run_cli("init", data=data)
    run_cli("apply", str(EXAMPLE), data=data)
    tree = tmp_path / "tree"
    result = run_cli("export-tree", str(tree), data=data)
    assert "wrote" in result.stdout
    names = {path.name for path in tree.rglob("*") if path.is_file()}
    for expected in ("aastra.cfg", "6757i.cfg", "00085D000001.cfg", "0004f2000607.cfg",
                     "0004f2000607-reg.cfg", "000000000000.cfg"):  # fmt: skip
        assert expected in names, expected
    rendered = run_cli("render", "00085D000001", "00085D000001.cfg", data=data).stdout
    assert (tree / "00085D000001.cfg").read_text() == rendered
    assert (tree / "00085D000001.cfg").stat().st_mode & 0o777 == 0o600
