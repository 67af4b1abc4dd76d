"""plugtone: zero-touch provisioning for SIP desk phones.

One vendor-neutral inventory is rendered on demand into each vendor's own
configuration files and served to phones over the protocols they speak.
"""

__version__ = "0.1.0"
