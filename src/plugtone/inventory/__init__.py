"""The inventory: schema, store access, migrations and the inventory file."""
