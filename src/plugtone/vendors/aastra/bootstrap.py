"""What the redirection service tells a factory-fresh Aastra phone.

The vendor's own service (seed 003, "RCS Boot Process"): a phone in factory state asks
the service first; if a firmware version is set for it and differs from its own, it
is sent that firmware and reboots; else it is given its branding and the address of
its configuration server, and from then on fetches its files there.

Files, as 3.x firmware asks for them (docs/phone-formats section 1): ``aastra.cfg`` (or
``startup.cfg`` on newer firmware), ``<model>.cfg``, ``<MAC>.cfg``, then the image
``<model>.st``. Over HTTP the User-Agent names the MAC (``Aastra6757i MAC:00-08-5D-...
V:3.2.2.1136-SIP``), so ``aastra.cfg`` can carry the phone's answer as ``<MAC>.cfg`` does;
both get the same bytes, and ``<model>.cfg`` is not found (the phone tolerates it).

The redirect is the configuration server settings of the Administrator Guide
(41-001343-02 Appendix A, "Configuration Server Settings"; the seed aastra.cfg of
docs/seeds 000 writes ``download protocol`` and ``tftp server`` the same way):
``download protocol`` (TFTP, FTP, HTTP, HTTPS) and, for that protocol, ``tftp server``,
``ftp server``/``ftp path``/``ftp username``/``ftp password``, ``http server``/
``http path``/``http port`` or ``https server``/``https path``/``https port``. The guide
documents no ``tftp path``, so a TFTP URL's path is not sent (a comment says so).

Branding settings (raw keys a Super User gave, checked by ``validate_settings``) come
first in the file, then the redirect: the phone takes both from the one file, its
branding before it moves on.

A phone whose MAC is unknown, unregistered or has no server gets the same
``aastra.cfg`` as every other such phone (a comment and no setting: older firmware
stops without the file, so it is never "not found"), and "not found" for ``<MAC>.cfg``.
"""

from __future__ import annotations

from plugtone.macaddr import normalize_mac
from plugtone.vendors.aastra.cfgfile import serialize
from plugtone.vendors.aastra.firmware import basename, image_model_token, release_image
from plugtone.vendors.bootstrap import BootstrapAnswer, BootstrapRef, BootstrapTarget, ConfigServer

COMMON = ("aastra.cfg", "startup.cfg")
NOTHING = "plugtone redirection service: nothing is registered for this phone"


def bootstrap_match(plugin, path: str) -> BootstrapRef | None:
    ref = plugin.match(path)
    if ref is None:
        return None
    if ref.name == "aastra.cfg":
        return BootstrapRef(plugin.name, "common", requested=path)
    if ref.name == "mac.cfg":
        return BootstrapRef(plugin.name, "mac", mac=normalize_mac(ref.mac), requested=path)
    if ref.name == "model.cfg":
        return BootstrapRef(plugin.name, "model", model=ref.model, requested=path)
    if image_model_token(path) is not None and "/" not in path:
        return BootstrapRef(plugin.name, "image", model=ref.model, requested=path)
    return None


def bootstrap_file(
    plugin, ref: BootstrapRef, target: BootstrapTarget | None
) -> BootstrapAnswer | None:
    if ref.name == "model":
        return None
    if target is None:
        if ref.name == "common":
            return BootstrapAnswer(serialize([NOTHING], {}))
        return None
    if ref.name == "image":
        return _image(plugin, ref, target)
    if target.firmware_due and target.firmware is not None:
        # firmware first: no redirect yet; the phone asks for <model>.st next, flashes
        # it and reboots, and its next boot (reporting the new version) is redirected
        comments = [f"plugtone redirection service: firmware {target.firmware.version} first"]
        return BootstrapAnswer(serialize(comments, dict(target.branding)), kind="firmware")
    settings = {name.lower(): value for name, value in target.branding.items()}
    comments = [f"plugtone redirection service: configuration server {target.server.url}"]
    redirect, notes = server_settings(target.server)
    settings.update(redirect)
    return BootstrapAnswer(serialize(comments + notes, settings), kind="redirect")


def _image(plugin, ref: BootstrapRef, target: BootstrapTarget) -> BootstrapAnswer | None:
    release = target.firmware
    if release is None or not target.firmware_due or ref.model not in release.models:
        return None
    spec = plugin._spec(ref.model)
    found = release_image(release, spec, basename(ref.requested)) if spec else None
    return (
        None
        if found is None
        else BootstrapAnswer(file=found, kind="firmware", media_type="application/octet-stream")
    )


def server_settings(server: ConfigServer) -> tuple[dict[str, str], list[str]]:
    """The documented configuration server settings for ``server`` (see the module
    docstring), and notes on what could not be said."""
    scheme = server.scheme
    settings = {"download protocol": scheme.upper()}
    notes: list[str] = []
    if scheme == "tftp":
        settings["tftp server"] = server.host
        if server.path:
            notes.append(f"the path /{server.path} is not sent: the guide has no tftp path")
    elif scheme == "ftp":
        settings["ftp server"] = server.host
        settings["ftp path"] = server.path
        if server.username:
            settings["ftp username"] = server.username
            settings["ftp password"] = server.password or ""
    else:
        settings[f"{scheme} server"] = server.host
        settings[f"{scheme} path"] = server.path
        settings[f"{scheme} port"] = str(server.port or (443 if scheme == "https" else 80))
    return settings, notes
