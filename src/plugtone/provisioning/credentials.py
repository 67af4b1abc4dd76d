"""What a transport saw of a request's credentials, checked by the resolver.

Transports never decide whom to trust: they parse what the client sent into one of
these and hand it on with the request. The resolver looks the phone up by
``username`` and asks :meth:`DeviceCredentials.check` whether the phone's own
password fits; HTTP Digest answers are checked without the password ever crossing
the wire (:mod:`plugtone.provisioning.device_auth`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Protocol


class DeviceCredentials(Protocol):
    username: str

    def check(self, password: str) -> bool:
        """Whether these credentials prove knowledge of ``password``."""
        ...


@dataclass(frozen=True)
class PasswordCredentials:
    """A login and password sent in the clear (FTP ``USER``/``PASS``, HTTP Basic over TLS)."""

    username: str
    password: str = field(repr=False)

    def check(self, password: str) -> bool:
        return hmac.compare_digest(self.password.encode(), password.encode())
