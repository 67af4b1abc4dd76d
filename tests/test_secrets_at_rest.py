"""Secrets at rest: passwords sealed in the store with a key kept outside it.

On SQLite and PostgreSQL: the stored bytes hold no password, phones are still
served theirs, the 0007 migration seals (and its downgrade opens) existing values,
clear text is refused, not served. Through the real command: the key file and
``PLUGTONE_SECRET_KEY``, a wrong key as one line, ``rotate-key`` under a running
server, file modes, ``export`` with and without ``--with-secrets``.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError

from plugtone.inventory.models import Extension
from plugtone.inventory.secret_keys import KEY_FILE, OLD_KEY_FILE, SecretKeyError, key_id
from plugtone.inventory.store import Store, alembic_config, migrate
from plugtone.services.actors import local_admin
from plugtone.services.devices import rendered_file
from plugtone.vendors import default_registry

from .conftest import EXAMPLE, apply_text, run_cli, start_server, stop_server

PASSWORDS = {"4001": "Zq7-first-secret-4001", "4002": "Wx9-second-secret-4002"}
FTP_PASSWORD = "Ftp-site-secret-77aa"
RAW_PASSWORD = "Adm-raw-secret-9913"
"""A password given as a raw vendor setting: sealed like the others (migration 0010)."""
EXTRA = f"""
sites:
  - name: annex
    sip_server: 10.1.1.1
    ftp_account: {{user: annex-phones, password: {FTP_PASSWORD}}}
extensions:
  - {{number: "4001", site: annex, password: {PASSWORDS["4001"]}}}
  - {{number: "4002", site: annex, password: {PASSWORDS["4002"]}}}
phones:
  - {{mac: "00:08:5D:00:40:01", model: 6757i, site: annex, lines: ["4001"]}}
  - {{mac: "00:08:5D:00:40:02", model: 6757i, site: annex, lines: ["4002"],
      vendor_settings: {{aastra: {{admin password: {RAW_PASSWORD}}}}}}}
"""
SECRETS = (*PASSWORDS.values(), FTP_PASSWORD, RAW_PASSWORD)


def served(store: Store, mac: str) -> str:
    return rendered_file(
        store, default_registry(), local_admin(), mac, f"{mac}.cfg", reveal=True
    ).content.decode()


def stored_text(store: Store, tmp_path: Path) -> bytes:
    """Everything the store holds, as an attacker with a copy would see it: the SQLite
    files' bytes, or every row of every PostgreSQL table cast to text."""
    if store.dialect == "sqlite":
        database = Path(store.engine.url.database)
        return b"".join(
            path.read_bytes() for path in (database, *database.parent.glob(database.name + "-*"))
        )
    names = inspect(store.engine).get_table_names()
    with store.engine.connect() as connection:
        return "\n".join(
            row[0]
            for name in names
            for row in connection.execute(text(f'SELECT t::text FROM "{name}" t'))
        ).encode()


def test_stored_bytes_hold_no_password_and_phones_get_theirs(store, tmp_path):
    apply_text(store, EXAMPLE.read_text())
    apply_text(store, EXTRA)
    # an update (executemany by id) goes through the column type too
    apply_text(store, EXTRA.replace(PASSWORDS["4002"], PASSWORDS["4002"] + "-v2"))
    dump = stored_text(store, tmp_path)
    assert b"enc:v1:" in dump
    for secret in SECRETS:
        assert secret.encode() not in dump, secret
    assert f"password: {PASSWORDS['4001']}" in served(store, "00085D004001")
    assert f"password: {PASSWORDS['4002']}-v2" in served(store, "00085D004002")
    assert f"admin password: {RAW_PASSWORD}" in served(store, "00085D004002")
    assert "password: 22222" in served(store, "00085D000001")


def test_clear_text_in_a_secret_column_is_refused_not_served(store):
    apply_text(store, EXTRA)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE extensions SET password = 'plain' WHERE number = '4001'"))
    with pytest.raises(SecretKeyError, match="not encrypted"):
        served(store, "00085D004001")


def test_a_failing_statement_names_no_password(store):
    apply_text(store, EXTRA)
    with store.sessions() as session:
        site_id = session.scalar(text("SELECT id FROM sites WHERE name = 'annex'"))
    with pytest.raises(IntegrityError) as caught, store.engine.begin() as connection:
        connection.execute(
            insert(Extension), {"site_id": site_id, "number": "4001", "password": "Leak-me-9"}
        )
    message = str(caught.value) + repr(caught.value)
    assert "Leak-me-9" not in message and "enc:v1:" not in message
    assert "parameters hidden" in message


def test_migration_0007_seals_existing_values_and_downgrade_opens_them(db_url, tmp_path):
    store = Store(db_url, data_dir=tmp_path)
    try:
        migrate(store.engine, "0006")
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sites (name, sip_server, sip_port, sip_transport, timezone,"
                    " ntp_servers, dtmf_method, registration_period, codecs, nat, ftp_user,"
                    " ftp_password) VALUES ('hq', 'pbx', 5060, 'udp', 'UTC', '[]', 'rfc2833',"
                    " 3600, '[]', false, 'hq-ftp', :ftp)"
                ),
                {"ftp": FTP_PASSWORD},
            )
            connection.execute(
                text(
                    "INSERT INTO extensions (site_id, number, password, shared)"
                    " SELECT id, '4001', :password, false FROM sites"
                ),
                {"password": PASSWORDS["4001"]},
            )
        assert not (tmp_path / KEY_FILE).exists()
        migrate(store.engine)
        assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
        for secret in (PASSWORDS["4001"], FTP_PASSWORD):
            assert secret.encode() not in stored_text(store, tmp_path)
        with store.sessions() as session:
            assert session.scalar(text("SELECT 1")) == 1
            assert session.query(Extension.password).scalar() == PASSWORDS["4001"]
        command.downgrade(alembic_config(store.engine), "0006")
        with store.engine.connect() as connection:
            assert connection.scalar(text("SELECT password FROM extensions")) == PASSWORDS["4001"]
            assert connection.scalar(text("SELECT ftp_password FROM sites")) == FTP_PASSWORD
    finally:
        store.dispose()


# --- through the real command -------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def other_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def file_key(data: Path) -> str:
    return next(line for line in (data / KEY_FILE).read_text().splitlines() if line[0] != "#")


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PLUGTONE_SECRET_KEY"}
    return {**env, **extra}


def render(data: Path, mac: str = "00085D004001", **env: str):
    return run_cli("render", mac, f"{mac}.cfg", data=data, check=False, env=cli_env(**env))


def applied(tmp_path: Path, **env: str) -> Path:
    data = tmp_path / "data"
    run_cli("init", data=data, env=cli_env(**env))
    extra = tmp_path / "extra.yaml"
    extra.write_text(EXTRA)
    for file in (EXAMPLE, extra):
        run_cli("apply", str(file), data=data, env=cli_env(**env))
    return data


def test_init_makes_a_private_key_file_and_private_files(tmp_path):
    data = applied(tmp_path)
    assert mode(data) == 0o700
    assert mode(data / "plugtone.db") == 0o600
    assert mode(data / KEY_FILE) == 0o600
    key = file_key(data)
    run_cli("init", data=data, env=cli_env())  # never replaces the key
    assert file_key(data) == key
    assert PASSWORDS["4001"] in render(data).stdout


def test_wider_modes_are_narrowed_with_a_warning(tmp_path):
    data = tmp_path / "data"
    run_cli("init", "--tls", data=data, env=cli_env())
    os.chmod(data, 0o755)
    os.chmod(data / "plugtone.db", 0o644)
    os.chmod(data / "tls" / "key.pem", 0o644)
    result = run_cli("init", data=data, env=cli_env())
    assert mode(data) == 0o700
    assert mode(data / "plugtone.db") == 0o600
    assert mode(data / "tls" / "key.pem") == 0o600
    assert "plugtone.db was mode 0644, now 0600" in result.stderr
    assert "key.pem was mode 0644" in result.stderr


def test_the_environment_key_wins_over_the_file(tmp_path):
    key = other_key()
    data = applied(tmp_path, PLUGTONE_SECRET_KEY=key)
    assert not (data / KEY_FILE).exists()  # nothing to keep on disk: the variable is the key
    assert PASSWORDS["4001"] in render(data, PLUGTONE_SECRET_KEY=key).stdout
    # a key file with another key is ignored while the variable is set
    (data / KEY_FILE).write_text(other_key() + "\n")
    os.chmod(data / KEY_FILE, 0o600)
    assert PASSWORDS["4001"] in render(data, PLUGTONE_SECRET_KEY=key).stdout
    refused = render(data)
    assert refused.returncode == 1 and PASSWORDS["4001"] not in refused.stdout
    assert f"encrypted with key {key_id(base64.b64decode(key))}" in refused.stderr


@pytest.mark.parametrize("how", ["wrong key", "no key", "not base64"])
def test_a_wrong_key_is_one_line_and_serves_nothing(tmp_path, how):
    data = applied(tmp_path)
    env = {"wrong key": {"PLUGTONE_SECRET_KEY": other_key()}, "not base64": {
        "PLUGTONE_SECRET_KEY": "not a key"}, "no key": {}}[how]  # fmt: skip
    if how == "no key":
        (data / KEY_FILE).rename(tmp_path / "kept.key")
    result = render(data, **env)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    served = run_cli("serve", "--http-port", "0", "--tftp-port", "0", "--ftp-port", "0",
                     "--admin-port", "0", data=data, check=False, env=cli_env(**env))  # fmt: skip
    assert served.returncode == 1 and "Traceback" not in served.stderr
    assert served.stderr.strip().splitlines()[-1].startswith("Error: ")


def test_rotate_key_under_a_running_server(tmp_path):
    data = tmp_path / "data"
    running = start_server(data)
    try:
        extra = tmp_path / "extra.yaml"
        extra.write_text(EXTRA)
        for file in (EXAMPLE, extra):
            run_cli("apply", str(file), data=data, env=cli_env())
        url = f"{running.base}/00085D004001.cfg"
        assert PASSWORDS["4001"] in httpx.get(url).text
        old = file_key(data)
        result = run_cli("rotate-key", data=data, env=cli_env())
        # 7 passwords, the example's 15 raw vendor settings and EXTRA's one (sealed
        # since migration 0010)
        assert "23 secret(s) encrypted again" in result.stdout
        assert "every other machine" in result.stdout
        assert file_key(data) != old
        assert not (data / OLD_KEY_FILE).exists()
        assert mode(data / KEY_FILE) == 0o600
        # an inventory change makes the server load the phones again: it meets values
        # sealed with the new key and reads the rotated key file by itself
        extra.write_text(EXTRA.replace("10.1.1.1", "10.1.1.2"))
        run_cli("apply", str(extra), data=data, env=cli_env())
        for mac, password in (("00085D004001", PASSWORDS["4001"]),
                              ("00085D004002", PASSWORDS["4002"])):  # fmt: skip
            assert password in httpx.get(f"{running.base}/{mac}.cfg").text
            assert password in render(data, mac).stdout
        assert "password: 22222" in render(data, "00085D000001").stdout
        # the old key opens nothing any more
        refused = render(data, PLUGTONE_SECRET_KEY=old)
        assert refused.returncode == 1 and PASSWORDS["4001"] not in refused.stdout
    finally:
        stop_server(running)
    for suffix in ("-wal", "-shm"):
        path = data / ("plugtone.db" + suffix)
        if path.exists():
            assert mode(path) == 0o600


def test_a_rotation_cut_short_is_read_with_both_keys(tmp_path):
    """secret.key already new, secret.key.old holding the old key, values still old."""
    data = applied(tmp_path)
    old = (data / KEY_FILE).read_text()
    (data / OLD_KEY_FILE).write_text(old)
    (data / KEY_FILE).write_text(other_key() + "\n")
    assert PASSWORDS["4001"] in render(data).stdout
    run_cli("rotate-key", data=data, env=cli_env())
    assert not (data / OLD_KEY_FILE).exists()
    assert PASSWORDS["4001"] in render(data).stdout


def test_rotate_key_refuses_a_key_from_the_environment(tmp_path):
    key = other_key()
    data = applied(tmp_path, PLUGTONE_SECRET_KEY=key)
    result = run_cli("rotate-key", data=data, check=False, env=cli_env(PLUGTONE_SECRET_KEY=key))
    assert result.returncode == 1 and "PLUGTONE_SECRET_KEY is set" in result.stderr
    assert PASSWORDS["4001"] in render(data, PLUGTONE_SECRET_KEY=key).stdout


def test_export_masks_secrets_unless_asked(tmp_path):
    data = applied(tmp_path)
    masked = run_cli("export", data=data, env=cli_env()).stdout
    for secret in SECRETS:
        assert secret not in masked
    assert "'********'" in masked
    again = tmp_path / "again.yaml"
    again.write_text(masked)
    assert run_cli("apply", str(again), data=data, env=cli_env()).stdout.strip() == "no changes"
    assert PASSWORDS["4001"] in render(data).stdout
    output = tmp_path / "with-secrets.yaml"
    run_cli("export", "--with-secrets", "-o", str(output), data=data, env=cli_env())
    revealed = output.read_text()
    for secret in SECRETS:
        assert secret in revealed
    assert mode(output) == 0o600


def test_a_masked_raw_setting_is_kept_and_a_mask_with_nothing_stored_is_refused(tmp_path):
    data = applied(tmp_path)
    edited = tmp_path / "edited.yaml"
    # the exported mask keeps the stored admin password while another setting changes
    edited.write_text(EXTRA.replace(
        f"admin password: {RAW_PASSWORD}", "admin password: '********', sip mode: 1"
    ))  # fmt: skip
    run_cli("apply", str(edited), data=data, env=cli_env())
    rendered = render(data, mac="00085D004002").stdout
    assert f"admin password: {RAW_PASSWORD}" in rendered and "sip mode: 1" in rendered
    # a mask where nothing is stored is never taken as the value
    edited.write_text(EXTRA.replace(
        'lines: ["4001"]}', "lines: [\"4001\"], vendor_settings: {aastra: {admin password: '********'}}}"
    ))  # fmt: skip
    refused = run_cli("apply", str(edited), data=data, check=False, env=cli_env())
    assert refused.returncode != 0 and "nothing is stored to keep" in refused.stderr
    assert "admin password" not in render(data, mac="00085D004001").stdout


def test_bind_errors_name_no_value(store):
    """A secret that cannot be sealed fails with the key's problem, never the value."""
    store.keys.environ = {"PLUGTONE_SECRET_KEY": "broken"}
    store.keys.reset()
    with pytest.raises(StatementError) as caught, store.engine.begin() as connection:
        connection.execute(insert(Extension), {"site_id": 1, "number": "1", "password": "Leak-2"})
    assert "Leak-2" not in str(caught.value)
    assert isinstance(caught.value.orig, SecretKeyError)
