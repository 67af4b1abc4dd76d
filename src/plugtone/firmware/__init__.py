"""Firmware releases (files on disk by SHA-256, facts in the store) and pin resolution."""
