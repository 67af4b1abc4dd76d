"""Alembic environment: runs migrations on the engine plugtone hands over."""

from alembic import context

from plugtone.inventory.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # pragma: no cover - only when someone runs plain `alembic`
    from plugtone.inventory.store import create_store_engine

    engine = create_store_engine(config.get_main_option("sqlalchemy.url"))

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
