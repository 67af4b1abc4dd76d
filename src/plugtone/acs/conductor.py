"""What the ACS asks of one device in one session, as a generator of RPCs.

Sans-IO in the h11 sense: :func:`conduct` yields each request the ACS sends and is
sent back what the CPE answered (a response or a :class:`~plugtone.protocols.
cwmp_messages.Fault`); the endpoint moves the envelopes. Between messages it reads and
writes the store in short transactions of its own (:mod:`plugtone.acs.records`).

Order of a session: learn the MAC if the Inform did not carry it; discover the
parameter tree once per model and firmware (GetParameterNames, cached); match the
device to its inventory phone (a device whose MAC no site has stays seen but
unassigned); converge: read the values the inventory decides and set only those that
differ, with ``ParameterKey`` the inventory generation; then run the device's queued
tasks in order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from plugtone.acs import records, tasks
from plugtone.acs.datamodel import AcsSettings, CwmpMap, Tree, connection_login, desired
from plugtone.acs.records import DeviceRecord
from plugtone.inventory.store import Store
from plugtone.macaddr import MacError, normalize_mac
from plugtone.protocols import cwmp_messages as m
from plugtone.vendors import VendorRegistry

DEFAULT_MAC_PARAMETERS = (
    "Device.LAN.MACAddress",
    "InternetGatewayDevice.LANDevice.1.LANEthernetInterfaceConfig.1.MACAddress",
    "Device.Ethernet.Interface.1.MACAddress",
)
"""Where TR-098/TR-106/TR-181 devices keep their MAC, for vendors that name none."""

Conversation = Generator[m.Rpc, Any, None]
MAX_ONE_BY_ONE = 200
"""Names read one at a time after a batched read's 9005, at most."""


@dataclass
class Context:
    store: Store
    registry: VendorRegistry
    device: DeviceRecord
    root: str
    """The data model's root object (``Device.`` or ``InternetGatewayDevice.``)."""
    bootstrap: bool
    """Authenticated with a site's bootstrap login: the device gets its own login."""
    settings: AcsSettings
    transfer_base: str
    """``http://host:port`` the device reaches plugtone on, for transfer URLs."""
    address: str | None = None
    notes: list[str] = field(default_factory=list)
    phone_view: Callable[[str], tuple[Any, int]] | None = None
    """``mac -> (view, generation)``: the resolver's cached views when the ACS runs in
    ``plugtone serve`` (a view costs the site's extensions; a storm of one site's phones
    would load them once per phone), else a fresh read."""


def vendor_map(registry: VendorRegistry, oui: str, manufacturer: str) -> CwmpMap | None:
    for plugin in registry.plugins:
        found = plugin.cwmp_map()
        if found is not None and found.recognises(oui, manufacturer):
            return found
    return None


def conduct(context: Context, cwmp_map: CwmpMap | None) -> Conversation:
    device = context.device
    store = context.store
    mac = device.mac
    if mac is None:
        names = cwmp_map.mac_parameters if cwmp_map and cwmp_map.mac_parameters else ()
        for name in names or DEFAULT_MAC_PARAMETERS:
            reply = yield m.GetParameterValues(names=[name])
            if isinstance(reply, m.GetParameterValuesResponse) and reply.parameters:
                try:
                    mac = normalize_mac(str(reply.parameters[0].value))
                except MacError:
                    continue
                records.set_mac(store, device.id, mac, context.address)
                break
    tree = yield from discover(context)
    lookup = context.phone_view or (lambda found: records.phone_view(store, found))
    phone, generation = lookup(mac) if mac else (None, 0)
    if phone is not None and tree is not None and cwmp_map is not None:
        yield from converge(context, cwmp_map, tree, phone, generation)
    yield from run_tasks(context, tree)


def discover(context: Context, force: bool = False) -> Generator[m.Rpc, Any, Tree | None]:
    """The device's tree: cached per product class and firmware, else GetParameterNames
    of the whole root (some CPEs refuse an empty path; the root object is what they take)."""
    device = context.device
    product, version = device.product_class or "", device.software_version or ""
    names = None if force else records.cached_tree(context.store, product, version)
    if names is None:
        reply = yield m.GetParameterNames(parameter_path=context.root, next_level=False)
        if not isinstance(reply, m.GetParameterNamesResponse):
            records.device_error(context.store, device.id, f"tree discovery: {_text(reply)}")
            return None
        names = {item.name: bool(item.writable) for item in reply.parameters}
        records.save_tree(context.store, product, version, names)
    return Tree(names)


def converge(
    context: Context, cwmp_map: CwmpMap, tree: Tree, phone, generation: int
) -> Conversation:
    """Set what differs from the inventory; ``ParameterKey`` says which generation."""
    device = context.device
    up_to_date = device.applied_generation == generation and not context.bootstrap
    if up_to_date:
        return
    site_settings = phone.site.tr069
    if not site_settings:
        records.device_error(
            context.store, device.id, f"site {phone.site.name} does not enable TR-069"
        )
        return
    login = records.new_device_login(phone.mac, device.id) if context.bootstrap else None
    settings = AcsSettings(
        acs_url=context.settings.acs_url,
        interval=int(site_settings.get("periodic_inform_interval") or 3600),
        stun_host=context.settings.stun_host or _host(context.transfer_base),
        stun_port=context.settings.stun_port,
    )  # fmt: skip
    wanted = desired(phone, tree, cwmp_map, settings, login)
    secret = {name for name in wanted if name.endswith(cwmp_map.secret_suffixes)}
    readable = [name for name in wanted if name not in secret]
    current: dict[str, m.ParameterValue] = {}
    if readable:
        reply = yield m.GetParameterValues(names=readable)
        if isinstance(reply, m.GetParameterValuesResponse):
            current = {item.name: item for item in reply.parameters}
        elif isinstance(reply, m.Fault) and reply.code == 9005 and len(readable) > 1:
            # A 9005 in a batch does not say which name the CPE refuses: ask one at a
            # time, and leave out what it cannot read (localhots/SimulaTR69 #10).
            for name in readable[:MAX_ONE_BY_ONE]:
                single = yield m.GetParameterValues(names=[name])
                if isinstance(single, m.GetParameterValuesResponse):
                    current.update({item.name: item for item in single.parameters})
                elif isinstance(single, m.Fault) and single.code == 9005:
                    wanted.pop(name, None)
    changes: list[m.ParameterValue] = []
    digests: dict[str, str] = {}
    for name, value in wanted.items():
        if name in secret:
            digests[name] = records.digest(value)
            if device.applied_secrets.get(name) == digests[name] and login is None:
                continue
            changes.append(m.ParameterValue(name, str(value), "string"))
            continue
        have = current.get(name)
        if have is not None and _same(have.value, value):
            continue
        changes.append(_typed(name, value, have))
    connection = None
    if phone.site.tr069_password:
        connection = connection_login(phone.mac, phone.site.tr069_password)
    if changes:
        reply = yield m.SetParameterValues(parameters=changes, parameter_key=str(generation)[:32])
        if isinstance(reply, m.Fault) and reply.parameter_faults:
            refused = {item.parameter_name for item in reply.parameter_faults}
            kept = [item for item in changes if item.name not in refused]
            records.device_error(context.store, device.id, reply.message)
            if kept:
                reply = yield m.SetParameterValues(parameters=kept, parameter_key=str(generation))
        if not isinstance(reply, m.SetParameterValuesResponse):
            records.device_error(context.store, device.id, f"setting values: {_text(reply)}")
            return
    records.applied(context.store, device.id, generation, digests, login, connection)
    udp = (tree.management_root or "") + "UDPConnectionRequestAddress"
    if tree.has(udp) and device.applied_generation is None:
        # TR-111 part 2: active notification, so a NAT mapping change is reported at once.
        yield m.SetParameterAttributes(parameters=[
            m.SetParameterAttribute(name=udp, notification_change=True, notification=2)
        ])  # fmt: skip


def _host(base: str) -> str:
    """The host a device reached plugtone at (its STUN server is there too)."""
    from urllib.parse import urlsplit

    return urlsplit(base).hostname or ""


def _same(have: object, want: object) -> bool:
    if isinstance(want, bool):
        return str(have).strip().lower() in (("1", "true") if want else ("0", "false"))
    if isinstance(want, dt.datetime):
        return isinstance(have, dt.datetime) and have == want
    return str(have) == str(want)


def _typed(name: str, value: object, have: m.ParameterValue | None) -> m.ParameterValue:
    """The value in the type the device reported for it (a CPE may refuse another, 9006)."""
    kind = have.type if have is not None and have.type else ""
    if kind == "boolean" or (not kind and isinstance(value, bool)):
        return m.ParameterValue(name, bool(value), "boolean")
    if kind in ("int", "unsignedInt", "long", "unsignedLong") or (
        not kind and isinstance(value, int)
    ):
        try:
            return m.ParameterValue(name, int(value), kind or "unsignedInt")  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return m.ParameterValue(name, str(value), "string")
    if kind == "dateTime" or isinstance(value, dt.datetime):
        return m.ParameterValue(name, value, "dateTime")  # type: ignore[arg-type]
    return m.ParameterValue(name, str(value), kind or "string")


def _text(reply: object) -> str:
    if isinstance(reply, m.Fault):
        return reply.message
    return f"unexpected {type(reply).__name__}"


# -- tasks


FILE_TYPES = {
    "firmware": "1 Firmware Upgrade Image",
    "restore": "3 Vendor Configuration File",
    "backup": "1 Vendor Configuration File",
    "logs": "2 Vendor Log File",
}
"""TR-069 Table A.xx file types (``cwmp-1-2.xsd``): down for firmware and restore, up
(by HTTP PUT) for backups and logs."""


def run_tasks(context: Context, tree: Tree | None) -> Conversation:
    store = context.store
    device = context.device
    while True:
        task = tasks.next_task(store, device.id)
        if task is None:
            return
        tasks.start(store, task.id)
        request = yield from task_request(context, task, tree)
        if request is None:
            continue
        reply = yield request
        if isinstance(reply, m.Fault):
            tasks.fail(store, task.id, reply.code, reply.message)
            continue
        if task.kind in ("reboot", "factory-reset"):
            if task.kind == "factory-reset":
                tasks.finish(store, task.id, "factory reset accepted")
            return  # the device restarts once the session ends: ask nothing more
        if task.kind in FILE_TYPES:
            status = getattr(reply, "status", 1)
            if status == 0:
                tasks.finish(store, task.id, "transfer completed")
            continue  # 1: a TransferComplete follows, maybe in a later session
        tasks.finish(store, task.id, _result(reply))


def _result(reply: object) -> str:
    if isinstance(reply, m.SetParameterValuesResponse):
        return "applied" + (" (takes effect after a reboot)" if reply.status == 1 else "")
    return "done"


def task_request(context: Context, task: tasks.TaskInfo, tree: Tree | None):
    store = context.store
    kind = task.kind
    if kind == "reboot":
        return m.Reboot(command_key=task.command_key)
    if kind == "factory-reset":
        return m.FactoryReset()
    if kind == "refresh":
        found = yield from discover(context, force=True)
        if found is None:
            tasks.fail(store, task.id, None, "the device did not list its parameters")
        else:
            records.forget_applied(store, context.device.id)
            tasks.finish(store, task.id, f"{len(found.names)} parameters discovered")
        return None
    if kind == "set":
        name, value = task.arguments.get("name", ""), task.arguments.get("value", "")
        reply = yield m.GetParameterValues(names=[name])
        if isinstance(reply, m.Fault):
            tasks.fail(store, task.id, reply.code, reply.message)
            return None
        have = reply.parameters[0] if reply.parameters else None
        return m.SetParameterValues(parameters=[_typed(name, value, have)],
                                    parameter_key=f"set-{task.id}")  # fmt: skip
    if kind in ("backup", "logs"):
        token = records.new_transfer(store, task.id, "up", None)
        return m.Upload(command_key=task.command_key, file_type=FILE_TYPES[kind],
                        url=f"{context.transfer_base}/cwmp/transfer/{token}")  # fmt: skip
    if kind in ("firmware", "restore"):
        found = records.download_source(store, context.device, kind, task.arguments)
        if isinstance(found, str):
            tasks.fail(store, task.id, None, found)
            return None
        source, size, name = found
        token = records.new_transfer(store, task.id, "down", source)
        return m.Download(command_key=task.command_key, file_type=FILE_TYPES[kind],
                          url=f"{context.transfer_base}/cwmp/transfer/{token}",
                          file_size=size, target_file_name=name)  # fmt: skip
    tasks.fail(store, task.id, None, f"unknown task {kind!r}")
    return None
