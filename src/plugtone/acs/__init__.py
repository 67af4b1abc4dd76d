"""TR-069 auto-configuration server: sessions, tasks, desired-state maps, transfers.

The protocol itself (envelopes, faults, the session machine) lives in
:mod:`plugtone.protocols.cwmp`; this package decides what to ask each device and
keeps what it learnt in the store. It knows no vendor: data-model maps come from the
vendor plug-ins (``VendorPlugin.cwmp_map``).
"""
