"""The redirection service (issue 15): factory-fresh phones find their configuration
server by MAC, getting their assigned firmware and branding first.

A self-hosted, multi-account service. Each account (a service provider) registers
MACs, names its configuration servers and assigns each phone a server, optionally a
firmware version and a branding; a phone in factory state asks plugtone's ``/rcs/``
paths (or the root of ``plugtone serve --rcs-port``) for its vendor's first files and
is answered by its vendor plug-in's bootstrap hook (``vendors/bootstrap.py``).

Tenancy lives here only: every service of this package takes an :class:`~.actors.RcsActor`
and reads or writes only inside that actor's account (a plugtone admin names the
account). Modules: ``models`` (tables), ``actors`` (who asks), ``validate`` (field
rules), ``services`` (accounts, users, servers, brandings, phones, statistics),
``passwords`` (logins and reset tokens), ``mail`` (the reset mail), ``answer`` (the
phone-facing answer) and ``phone_app`` (its ASGI app).
"""
