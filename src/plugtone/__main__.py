"""``python -m plugtone`` runs the ``plugtone`` command."""

from plugtone.cli import main

main()
