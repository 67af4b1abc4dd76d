"""The admin listener: the REST API (``app.py``), served on its own port."""
