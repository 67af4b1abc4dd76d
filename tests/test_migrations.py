"""Alembic migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from plugtone.inventory.models import Base
from plugtone.inventory.store import Store, current_revision, head_revision, migrate

TABLES = {
    "sites", "extensions", "phones", "line_assignments", "keys", "vendor_settings",
    "model_profiles", "device_states", "provisioning_events", "provisioning_windows", "meta", "alembic_version",
    "blobs", "directory_contacts", "branding_sets", "branding_files", "firmware_releases",
    "firmware_files", "firmware_pins", "device_firmware", "users", "api_tokens", "audit_log",
    "inventory_changes",
    "acs_devices", "acs_parameter_trees", "acs_tasks", "acs_uploads", "acs_transfers",
    "rcs_accounts", "rcs_users", "rcs_servers", "rcs_brandings", "rcs_phones", "rcs_contacts",
    "rcs_audit", "rcs_reset_tokens", "rcs_api_tokens",
}  # fmt: skip


def test_empty_database_upgrades_to_head_and_matches_the_models(db_url, tmp_path):
    store = Store(db_url, data_dir=tmp_path)
    try:
        assert current_revision(store.engine) is None
        migrate(store.engine)
        assert current_revision(store.engine) == head_revision()
        assert set(inspect(store.engine).get_table_names()) == TABLES
        with store.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
        # upgrading again is a no-op (every start may call it)
        migrate(store.engine)
        assert current_revision(store.engine) == head_revision()
    finally:
        store.dispose()


def test_downgrade_to_base_removes_everything(db_url, tmp_path):
    store = Store(db_url, data_dir=tmp_path)
    try:
        migrate(store.engine)
        migrate_down(store)
        assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    finally:
        store.dispose()


def migrate_down(store: Store) -> None:
    from alembic import command

    from plugtone.inventory.store import alembic_config

    command.downgrade(alembic_config(store.engine), "base")


def test_site_logos_become_branding_sets_and_come_back_on_downgrade(db_url, tmp_path):
    """0004 moves each site's logo into a branding set named after the site."""
    from alembic import command
    from sqlalchemy import text

    from plugtone.inventory.store import alembic_config

    store = Store(db_url, data_dir=tmp_path)
    try:
        migrate(store.engine, "0003")
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO blobs (sha256, media_type, size, content)"
                    " VALUES (:sha, 'image/png', 3, :content)"
                ),
                {"sha": "ab" * 32, "content": b"png"},
            )
            for name, logo in (("hq", "ab" * 32), ("lab", None)):
                connection.execute(
                    text(
                        "INSERT INTO sites (name, sip_server, sip_port, sip_transport, timezone,"
                        " ntp_servers, dtmf_method, registration_period, codecs, nat, logo_sha256)"
                        " VALUES (:name, 'pbx', 5060, 'udp', 'UTC', '[]', 'rfc2833', 3600, '[]',"
                        " false, :logo)"
                    ),
                    {"name": name, "logo": logo},
                )
        migrate(store.engine)
        with store.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT s.name, b.name, b.logo_sha256 FROM sites s"
                    " LEFT JOIN branding_sets b ON b.id = s.branding_id ORDER BY s.name"
                )
            ).all()
        assert [tuple(row) for row in rows] == [("hq", "hq", "ab" * 32), ("lab", None, None)]
        command.downgrade(alembic_config(store.engine), "0003")
        with store.engine.connect() as connection:
            rows = connection.execute(text("SELECT name, logo_sha256 FROM sites ORDER BY name"))
            assert [tuple(row) for row in rows] == [("hq", "ab" * 32), ("lab", None)]
    finally:
        store.dispose()
