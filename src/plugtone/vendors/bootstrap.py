"""What a vendor's factory-fresh phone is told by the redirection service (issue 15).

A phone in factory state asks the redirection service (plugtone's ``/rcs/`` paths, or
``plugtone serve --rcs-port``) for its vendor's first files. The core (``plugtone.redirect``)
finds the MAC's registration and hands the plug-in a :class:`BootstrapTarget`: where the
phone is to go, which firmware it is to run first, which branding settings it gets. The
plug-in answers with bytes in its own format (:class:`BootstrapAnswer`); it never learns
which account holds the MAC, and an unregistered or unknown MAC gets ``target=None``,
whose answer must be the same for every such MAC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from plugtone.vendors.base import FirmwareFile, FirmwareView


@dataclass(frozen=True)
class BootstrapRef:
    """A request path a plug-in recognised as one of its bootstrap files."""

    vendor: str
    name: str
    """The plug-in's own name for the file (``common``, ``mac``, ``image``...)."""
    mac: str | None = None
    model: str | None = None
    requested: str = ""
    """The path as asked (no leading slash)."""
    release_file: tuple[str, str] | None = None
    """``(version, file name)`` for a path that names a release's file by version
    (``firmware/<version>/sip.ld``): such a path names no MAC, so the core answers it
    alone, with the file, when some registered MAC is assigned that release."""


@dataclass(frozen=True)
class ConfigServer:
    """The configuration server a phone is sent on to, taken apart once for plug-ins."""

    url: str
    scheme: str
    """``http``, ``https``, ``ftp`` or ``tftp`` (lower case)."""
    host: str
    port: int | None
    path: str
    """Without the slashes at either end (``prov/phones``); empty at the root."""
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> ConfigServer:
        parts = urlsplit(url)
        return cls(
            url=url,
            scheme=parts.scheme.lower(),
            host=parts.hostname or "",
            port=parts.port,
            path=parts.path.strip("/"),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


@dataclass(frozen=True)
class BootstrapTarget:
    """A registered MAC with a configuration server: what its phone is to be given."""

    mac: str
    server: ConfigServer
    model: str | None = None
    """The model the request names (User-Agent, file name), when it names one."""
    branding: Mapping[str, str] = field(default_factory=dict)
    """This vendor's raw settings of the phone's branding, served before the redirect."""
    firmware: FirmwareView | None = None
    """The release assigned to the MAC, when plugtone holds it for this model."""
    firmware_due: bool = False
    """The phone reports a version other than ``firmware``'s (or none): it is to get
    the firmware first and the redirect on the boot after."""


@dataclass(frozen=True)
class BootstrapAnswer:
    """A file to send: ``content`` in memory, or a stored firmware ``file``; or, for a
    phone its vendor documents as following HTTP redirects, ``location``: the service
    answers ``302 Found`` there (over HTTP; TFTP and FTP have no redirect)."""

    content: bytes | None = None
    media_type: str = "text/plain; charset=utf-8"
    file: FirmwareFile | None = None
    location: str | None = None
    kind: str = "config"
    """What the answer does, for the statistics: ``redirect`` (it carries the server),
    ``firmware`` (an image, or a file that sends the phone for one), ``config``."""
