"""The layers import one way: faces (CLI, web) -> services -> everything else.

The phone-facing side (``provisioning``, ``servers``, ``protocols``), the store
(``inventory``), the plug-ins (``vendors``) and ``firmware`` must never import the
service layer or the CLI: they run on every request, and an import cycle through
``services`` once made importing ``provisioning`` depend on the order modules were
first loaded in. ``servers/runner.py`` may import ``plugtone.web`` (the admin app it
starts); that is not a service import.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import plugtone

SRC = Path(plugtone.__file__).parent
LOWER_LAYERS = ("firmware", "provisioning", "inventory", "vendors", "protocols", "servers")
FORBIDDEN = ("plugtone.services", "plugtone.cli")


def modules() -> list[str]:
    """Every module of the package but those that run when imported: the Alembic scripts
    (Alembic runs them) and ``__main__`` (runs the command)."""
    names = []
    for info in pkgutil.walk_packages([str(SRC)], prefix="plugtone."):
        if ".migrations" not in info.name and not info.name.endswith("__main__"):
            names.append(info.name)
    return sorted(names)


def imported(path: Path, module: str) -> list[tuple[int, str]]:
    """``(line, module)`` of each import in ``path``, relative ones made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            # ``from plugtone import services`` names the module in the alias
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


@pytest.mark.parametrize("name", modules())
def test_every_module_imports(name):
    importlib.import_module(name)


def test_lower_layers_never_import_services_or_the_cli():
    offences = []
    checked = 0
    for layer in LOWER_LAYERS:
        for path in sorted((SRC / layer).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = path.relative_to(SRC).with_suffix("")
            module = ".".join(["plugtone", *relative.parts]).removesuffix(".__init__")
            checked += 1
            for line, name in imported(path, module):
                if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN):
                    offences.append(f"{path.relative_to(SRC.parent)}:{line} imports {name}")
    assert checked > 20  # the walk found the layers
    assert offences == []


def test_the_check_sees_every_way_to_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import plugtone.services.devices\n"
        "from plugtone import cli\n"
        "from ..services import firmware\n"
        "def later():\n    from plugtone.services.errors import Invalid\n"
    )
    names = [name for _, name in imported(sample, "plugtone.provisioning.sample")]
    assert "plugtone.services.devices" in names
    assert "plugtone.cli" in names
    assert "plugtone.services" in names and "plugtone.services.firmware" in names
    assert "plugtone.services.errors" in names
