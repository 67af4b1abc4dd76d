"""One log line per phone request (``plugtone serve --log-requests LEVEL``), and JSON lines
for every log record (``--log-format json``).

The event log in the store is what ``plugtone events`` queries; this is what an
operator watches with ``journalctl -f`` or ships to a log collector, so it must be one
line per request whatever a client sent (values are quoted, control characters
escaped) and must never carry a secret. A line is built only from the request's
outcome as the provisioner records it: time, transport, client address, path, MAC,
vendor, status, bytes sent, duration, trust level, User-Agent and the login name the
client gave (never its password, digest response or Authorization header, which the
request does not even keep in a loggable form).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

REQUEST_LOGGER = "plugtone.requests"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
"""``--log-requests`` choices besides ``off``: the level request lines are logged at."""

FIELDS = ("transport", "client", "path", "mac", "vendor", "status", "bytes", "duration_ms",
          "trust", "user", "user_agent")  # fmt: skip
"""The fields of a request line, in the order the text format writes them."""


class RequestLog:
    """Writes a line per request to the ``plugtone.requests`` logger at ``level``."""

    def __init__(self, level: int = logging.INFO) -> None:
        self.level = level
        self.logger = logging.getLogger(REQUEST_LOGGER)
        self.logger.setLevel(min(level, self.logger.getEffectiveLevel()))

    def write(self, fields: dict[str, object]) -> None:
        """Log one request; ``fields`` are :data:`FIELDS` (``None`` where unknown)."""
        self.logger.log(self.level, "%s", logfmt(fields), extra={"request": fields})


def logfmt(fields: dict[str, object]) -> str:
    """``transport=tftp client=10.0.0.5 path=aastra.cfg ...``: empty fields left out, a
    value with a space, quote, ``=`` or a control character in double quotes with JSON's
    escapes, so one request is always one line that splits back into its fields."""
    parts = []
    for name in FIELDS:
        value = fields.get(name)
        if value is None or value == "":
            continue
        text = str(value)
        if not text.isprintable() or any(c in text for c in ' "=\\'):
            text = json.dumps(text)
        parts.append(f"{name}={text}")
    return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: ``time``, ``level``, ``logger``, ``message`` (and
    ``exception``), plus a request line's fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "request", None)
        if isinstance(fields, dict):
            line.update((name, value) for name, value in fields.items() if value is not None)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def use_json_lines() -> None:
    """Make every handler of the root logger (``plugtone``'s ``basicConfig``) write JSON
    lines; uvicorn's loggers propagate to it (the runner gives uvicorn no handlers)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())


def request_fields(
    *, transport: str, client: str | None, path: str, mac: str | None, vendor: str | None,
    status: str, sent: int, seconds: float, trust: str | None, user: str | None,
    user_agent: str | None,
) -> dict[str, object]:  # fmt: skip
    """The fields of one request line (see :data:`FIELDS`)."""
    return {
        "transport": transport,
        "client": client,
        "path": path,
        "mac": mac,
        "vendor": vendor,
        "status": status,
        "bytes": sent,
        "duration_ms": round(seconds * 1000, 3),
        "trust": trust,
        "user": user,
        "user_agent": user_agent,
    }
