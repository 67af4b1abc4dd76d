"""Use cases shared by the CLI, the REST API, the UI and the inventory file."""
