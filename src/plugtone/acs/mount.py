"""Where the ACS lives on the phone-facing listeners: ``/cwmp`` and below.

Kept apart from :mod:`plugtone.acs.endpoint` so the HTTP server's hot path imports one
function, not the ACS."""

PREFIX = "/cwmp"


def is_acs_path(path: str) -> bool:
    """``/cwmp``, ``/cwmp/`` and ``/cwmp/transfer/...``; not a phone file ``/cwmpx.cfg``."""
    return path.startswith(PREFIX) and (len(path) == 5 or path[5] == "/")
