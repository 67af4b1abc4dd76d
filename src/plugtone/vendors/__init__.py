"""Vendor plug-ins, found through the ``plugtone.vendors`` entry point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from plugtone.vendors.base import VendorPlugin

ENTRY_POINT_GROUP = "plugtone.vendors"


class UnknownModel(LookupError):
    """No installed plug-in knows this model name."""


class VendorRegistry:
    """The installed plug-ins, and the model-name lookups that span them."""

    def __init__(self, plugins: list[VendorPlugin]) -> None:
        self.plugins = sorted(plugins, key=lambda plugin: plugin.name)
        self.by_name = {plugin.name: plugin for plugin in self.plugins}

    def factory_ftp_accounts(self) -> list[tuple[str, str]]:
        """Every installed vendor's out-of-the-box FTP login, each once."""
        accounts: dict[str, str] = {}
        for plugin in self.plugins:
            for user, password in plugin.factory_ftp_accounts:
                accounts.setdefault(user, password)
        return list(accounts.items())

    def get(self, vendor: str) -> VendorPlugin:
        return self.by_name[vendor]

    def resolve_model(self, name: str) -> tuple[VendorPlugin, str]:
        """``(plug-in, canonical model)`` for a model name or alias."""
        for plugin in self.plugins:
            canonical = plugin.canonical_model(name)
            if canonical is not None:
                return plugin, canonical
        known = ", ".join(spec.name for plugin in self.plugins for spec in plugin.models)
        raise UnknownModel(f"unknown model {name!r} (known models: {known})")


@cache
def default_registry() -> VendorRegistry:
    """Every plug-in installed in this environment."""
    plugins: list[VendorPlugin] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        plugin_class = entry.load()
        plugins.append(plugin_class())
    return VendorRegistry(plugins)
