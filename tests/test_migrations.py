"""Alembic migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from plugtone.inventory.models import Base
from plugtone.inventory.store import Store, current_revision, head_revision, migrate

TABLES = {
    "sites", "extensions", "phones", "line_assignments", "keys", "vendor_settings",
    "model_profiles", "device_states", "provisioning_events", "meta", "alembic_version",
    "blobs", "directory_contacts",
}  # fmt: skip


def test_empty_database_upgrades_to_head_and_matches_the_models(db_url):
    store = Store(db_url)
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


def test_downgrade_to_base_removes_everything(db_url):
    store = Store(db_url)
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
