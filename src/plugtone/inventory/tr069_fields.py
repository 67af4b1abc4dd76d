"""A site's ``tr069:`` entry: whether its phones are managed over CWMP, and how.

```yaml
tr069: {enabled: true, bootstrap_username: acs, bootstrap_password: "s3cret",
        periodic_inform_interval: 3600}
```

The bootstrap login is what a phone uses until the ACS has given it its own; the
password is a secret (sealed in ``sites.tr069_password``, masked in reads). The rest
is stored as one normalised mapping in ``sites.tr069``, so exporting and applying it
again changes nothing.
"""

from __future__ import annotations

import re
from typing import Any, Protocol
from urllib.parse import urlsplit

TR069_FIELDS = (
    "enabled", "bootstrap_username", "bootstrap_password", "periodic_inform_interval",
    "allow_basic", "acs_url", "connection_request_port", "connection_request_path",
    "trusted_certificates",
)  # fmt: skip
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
DEFAULT_INTERVAL = 3600
MIN_INTERVAL, MAX_INTERVAL = 30, 7 * 86400
MAX_PASSWORD = 64
PATH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@%+-]{0,254}$")


class Checker(Protocol):
    def mapping(self, value: Any, path: tuple, allowed: tuple[str, ...]) -> dict | None: ...
    def text(self, value: Any, path: tuple, pattern: Any = ..., what: str = ...) -> str | None: ...
    def integer(self, value: Any, path: tuple, low: int, high: int) -> int | None: ...
    def boolean(self, value: Any, path: tuple) -> bool | None: ...
    def fail(self, path: tuple, message: str) -> None: ...


def parse_tr069(check: Checker, value: Any, path: tuple) -> tuple[dict | None, str | None]:
    """``(settings, bootstrap password)`` of a ``tr069:`` entry; ``(None, None)`` if absent
    or refused (the refusal is recorded on ``check``)."""
    if value is None:
        return None, None
    item = check.mapping(value, path, TR069_FIELDS)
    if item is None:
        return None, None
    enabled = check.boolean(item.get("enabled", False), (*path, "enabled"))
    username = check.text(
        item.get("bootstrap_username"), (*path, "bootstrap_username"), USERNAME_RE, "user name"
    )
    password = check.text(item.get("bootstrap_password"), (*path, "bootstrap_password"))
    if password is not None and not 0 < len(password) <= MAX_PASSWORD:
        check.fail((*path, "bootstrap_password"), f"1 to {MAX_PASSWORD} characters")
        password = None
    interval = check.integer(
        item.get("periodic_inform_interval", DEFAULT_INTERVAL),
        (*path, "periodic_inform_interval"), MIN_INTERVAL, MAX_INTERVAL,
    )  # fmt: skip
    allow_basic = check.boolean(item.get("allow_basic", False), (*path, "allow_basic"))
    acs_url = check.text(item.get("acs_url"), (*path, "acs_url"))
    if acs_url is not None:
        parts = urlsplit(acs_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            check.fail((*path, "acs_url"), f"{acs_url!r} is not an http:// or https:// URL")
            acs_url = None
    if enabled:
        for name, got in (("bootstrap_username", username), ("bootstrap_password", password)):
            if got is None and item.get(name) is None:
                check.fail(path, f"missing required field {name!r} (tr069 is enabled)")
    settings: dict[str, Any] = {
        "enabled": bool(enabled),
        "bootstrap_username": username,
        "periodic_inform_interval": interval or DEFAULT_INTERVAL,
        "allow_basic": bool(allow_basic),
    }
    if acs_url:
        settings["acs_url"] = acs_url
    port = check.integer(
        item.get("connection_request_port"), (*path, "connection_request_port"), 1, 65535
    )
    if port:
        settings["connection_request_port"] = port
    for name in ("connection_request_path", "trusted_certificates"):
        text = check.text(item.get(name), (*path, name), PATH_RE, "path or URL")
        if text:
            settings[name] = text
    return settings, password


def export_tr069(settings: dict | None, password: str | None, secret: Any) -> dict | None:
    """The ``tr069:`` entry as the file writes it (``secret`` masks or keeps the password)."""
    if settings is None:
        return None
    entry = {key: value for key, value in settings.items() if value is not None}
    if password is not None:
        entry["bootstrap_password"] = secret(password)
    return entry
