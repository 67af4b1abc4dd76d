"""The ``tr69 ...`` settings of ``<MAC>.cfg`` when the phone's site enables TR-069.

Source: the Aastra TR-069 Configuration Guide 41-001373-01 REV02 05.2014, "TR-069
Configuration Parameters" (seed 002): ``tr69 server`` (``http://10.30.105.127``),
``tr69 server port``, ``tr69 password`` ("Password for HTTP authentication against the
ACS"), ``tr69 connection request path`` and ``tr69 connection request port`` (its
example: ``aastra`` and ``12345``), the connection-request password (example
``ACS1234``), ``tr69 periodic inform enable`` / ``interval`` (the phone-formats
reference marks these [V]), and for TLS ``tr69 trusted certificates``. The seed's
excerpt cuts the names of the two user-name parameters; ``tr69 username`` and
``tr69 connection request username`` are read from the guide's page order (server,
port, username, password; connection request username, password) and, like every
name here, listed with this source in :mod:`.names`.

The login written is the site's bootstrap login (what a phone uses until the ACS gives
it its own); the connection-request login is the one the ACS derives for this phone
(:func:`plugtone.acs.datamodel.connection_login`), so file and ACS always agree.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from plugtone.acs.datamodel import connection_login
from plugtone.vendors.base import PhoneView


def tr69_settings(phone: PhoneView) -> dict[str, str]:
    site = phone.site
    tr069 = site.tr069
    if not tr069 or not tr069.get("enabled"):
        return {}
    url = tr069.get("acs_url") or (f"{site.public_url}/cwmp" if site.public_url else None)
    settings: dict[str, str] = {}
    if url:
        parts = urlsplit(url)
        settings["tr69 server"] = url
        settings["tr69 server port"] = str(parts.port or (443 if parts.scheme == "https" else 80))
    if tr069.get("bootstrap_username") and site.tr069_password:
        settings["tr69 username"] = tr069["bootstrap_username"]
        settings["tr69 password"] = site.tr069_password
        user, password = connection_login(phone.mac, site.tr069_password)
        settings["tr69 connection request username"] = user
        settings["tr69 connection request password"] = password
    if tr069.get("connection_request_path"):
        settings["tr69 connection request path"] = tr069["connection_request_path"]
    if tr069.get("connection_request_port"):
        settings["tr69 connection request port"] = str(tr069["connection_request_port"])
    settings["tr69 periodic inform enable"] = "1"
    settings["tr69 periodic inform interval"] = str(tr069.get("periodic_inform_interval", 3600))
    if tr069.get("trusted_certificates"):
        settings["tr69 trusted certificates"] = tr069["trusted_certificates"]
    return settings
