"""How ``plugtone serve`` runs the ACS: the app on the phone-facing listeners, its own
``--cwmp-port`` listener, and (``--stun-port``) the TR-111 STUN server."""

from __future__ import annotations

from typing import Any

from plugtone.acs.endpoint import AcsApp


def acs_app(provisioner: Any, digest: Any, options: Any) -> AcsApp:
    """The ACS over the provisioner's store and plug-ins, sharing the phone side's Digest
    nonces (so a CPE challenged on one listener may answer on another)."""
    resolver = provisioner.resolver
    return AcsApp(
        resolver.store, resolver.registry, digest, data_dir=options.data_dir,
        stun_host=getattr(options, "stun_host", None) or None,
        stun_port=getattr(options, "stun_port", None), resolver=resolver,
    )  # fmt: skip
