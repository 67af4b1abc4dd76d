"""The ``[rcs]`` table of ``plugtone.toml``: the mail server the password-reset mails go
through, and the address people reach the admin listener at (for the reset link).

Read here rather than in ``plugtone.settings`` so the redirection service's settings
stay with it. ``PLUGTONE_RCS_<NAME>`` environment variables override the file::

    [rcs]
    smtp_host = "mail.example.com"
    smtp_port = 587
    smtp_starttls = true
    smtp_user = "plugtone"       # optional
    smtp_password = "..."        # optional; never logged
    mail_from = "rcs@example.com"
    public_url = "https://prov.example.com:8088"
    reset_minutes = 30
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from plugtone.settings import SETTINGS_FILE


@dataclass(frozen=True)
class RcsSettings:
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    mail_from: str = "plugtone@localhost"
    public_url: str | None = None
    """The admin listener's base URL for links in mails; ``None``: the request's own."""
    reset_minutes: int = 30


def rcs_settings(data_dir: Path) -> RcsSettings:
    stored: dict = {}
    path = Path(data_dir) / SETTINGS_FILE
    if path.is_file():
        with path.open("rb") as handle:
            stored = tomllib.load(handle).get("rcs", {}) or {}
    if not isinstance(stored, dict):
        raise SystemExit(f"{SETTINGS_FILE}: [rcs] must be a table")
    values: dict = {}
    for name, default in RcsSettings.__dataclass_fields__.items():
        raw = os.environ.get(f"PLUGTONE_RCS_{name.upper()}", stored.get(name))
        if raw is None:
            continue
        kind = type(RcsSettings().__getattribute__(name)) if default.default is not None else str
        if kind is bool:
            values[name] = (
                raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
            )
        elif kind is int:
            values[name] = int(raw)
        else:
            values[name] = str(raw)
    return RcsSettings(**values)
