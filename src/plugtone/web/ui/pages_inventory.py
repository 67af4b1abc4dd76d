"""Add and edit forms for the inventory: sites, their extensions and directory
contacts, phones and their keys. Every change is one service call
(``services.objects``), so roles, field rules, the apply checks of the phones a
change touches, and the audit are the API's.

Form fields are named by the field paths the service names in its problems
(``lines[1]``, ``keys[0].type``), so a refusal lands beside the field that caused it;
a problem about no field of the form (an apply check: ``(body)``) is shown at the top
of the form. Rows left blank or marked for removal are dropped before the call, and
the problems' list indices are mapped back to the rows the user saw. A refused form is
shown again with what was typed; nothing was changed.

Edits merge into the entry as read (``patch_entry``): fields the form does not show
(vendor settings, branding, pins...) are kept. A viewer sees no edit control; a post
from one is refused by the service (403).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from plugtone.inventory.document import CODECS, DTMF_METHODS, TRANSPORTS, Problem
from plugtone.macaddr import colon_mac
from plugtone.services import devices, objects
from plugtone.services.actors import Role
from plugtone.services.errors import Conflict, Invalid
from plugtone.vendors.base import NEUTRAL_KEY_TYPES
from plugtone.web.ui.auth import Refused, Visit, check_post, signed_in
from plugtone.web.ui.render import page

router = APIRouter()
NAV = [("Sites", "/sites", None)]

BLANK_ROWS = 3
"""Empty rows a form offers for new lines, keys or contacts (more: save, edit again)."""
LINE_ROWS = 4
"""Line fields a phone form shows at least."""
LONGEST = 8192
"""Characters of one form value read at all (the service's caps are lower)."""
MASK = "********"
SITE_FIELDS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("sip_server", "SIP server (host or host:port)", "text", ()),
    ("sip_transport", "SIP transport", "select", TRANSPORTS),
    ("timezone", "Time zone (IANA name, such as Europe/Brussels)", "text", ()),
    ("ntp_servers", "NTP servers (separated by commas or spaces)", "list", ()),
    ("dial_plan", "Dial plan", "text", ()),
    ("digit_timeout", "Digit timeout (seconds)", "int", ()),
    ("voicemail", "Voicemail code", "text", ()),
    ("dtmf_method", "DTMF method", "select", DTMF_METHODS),
    ("codecs", f"Codecs in order (of {', '.join(CODECS)})", "list", ()),
    ("registration_period", "Registration period (seconds)", "int", ()),
    ("trusted_networks", "Trusted networks (one a line; optionally transports: "
     "10.1.0.0/16 tftp,http)", "lines", ()),
)  # fmt: skip
"""The site fields the form shows: ``(name, label, kind, choices)``."""
KEY_FIELDS = ("type", "value", "label", "line", "family", "slot")
INT_FIELDS = {"digit_timeout", "registration_period", "line", "slot"}


# -- reading forms --------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str]:
    """The posted form as text fields (files and overlong values are not read)."""
    data = await request.form(max_fields=2000)
    return {name: value[:LONGEST] for name, value in data.multi_items()
            if isinstance(value, str)}  # fmt: skip


def _text(form: dict[str, str], name: str) -> str:
    return form.get(name, "").strip()


def _number(text: str) -> int | str:
    """A whole number as a number; anything else as typed, for the service to refuse
    with its own message beside the field."""
    return int(text) if re.fullmatch(r"-?\d{1,9}", text) else text


def _indices(form: dict[str, str], prefix: str) -> list[int]:
    """The row numbers ``i`` of the form's ``prefix[i].field`` names, in order."""
    pattern = re.compile(rf"{prefix}\[(\d{{1,4}})\]\.\w+")
    return sorted({int(found.group(1)) for name in form if (found := pattern.fullmatch(name))})


def _rows(form: dict[str, str], prefix: str, fields: tuple[str, ...]) -> list[tuple[int, dict]]:
    """The rows ``prefix[i].field`` of the form, in order, as ``(row, values)``: a row
    left blank or marked ``remove`` is dropped."""
    indices = _indices(form, prefix)
    rows = []
    for index in indices:
        if form.get(f"{prefix}[{index}].remove"):
            continue
        values = {}
        for field in fields:
            text = _text(form, f"{prefix}[{index}].{field}")
            if text:
                values[field] = _number(text) if field in INT_FIELDS else text
        if values:
            rows.append((index, values))
    return rows


def _typed_rows(form: dict[str, str], prefix: str, fields: tuple[str, ...]) -> list[dict]:
    """Every row as typed (for showing a refused form again), blank ones included."""
    indices = _indices(form, prefix)
    return [{field: form.get(f"{prefix}[{index}].{field}", "") for field in (*fields, "remove")}
            for index in indices]  # fmt: skip


class Fields:
    """Where each problem goes: beside a field of the form, or at the top of it."""

    def __init__(self, names: set[str], moved: dict[str, list[int]] | None = None,
                 prefix: str = "") -> None:  # fmt: skip
        self.names = names
        self.moved = moved or {}
        """For each row list, the form row of each submitted item."""
        self.prefix = prefix

    def place(self, problems: list[Problem]) -> tuple[dict[str, str], list[str]]:
        beside: dict[str, list[str]] = {}
        top: list[str] = []
        for problem in problems:
            where = self._form_path(problem.where)
            missing = re.fullmatch(r"missing required field '(\w+)'", problem.message)
            if missing:  # named by the entry holding it: the form's field is the missing one
                inner = missing.group(1)
                where = f"{where}.{inner}" if where not in ("", "(body)") else inner
            field = self._field(where)
            if field is None:
                top.append(problem.message if problem.where in ("(body)", "") else str(problem))
            else:
                beside.setdefault(field, []).append(problem.message)
        return {name: "; ".join(messages) for name, messages in beside.items()}, top

    def _form_path(self, where: str) -> str:
        where = self.prefix + where if where.startswith("[") else where
        found = re.match(r"(\w+)\[(\d+)\](.*)", where)
        if found and found.group(1) in self.moved:
            rows = self.moved[found.group(1)]
            index = int(found.group(2))
            if index < len(rows):
                return f"{found.group(1)}[{rows[index]}]{found.group(3)}"
        return where

    def _field(self, where: str) -> str | None:
        """The field itself, else the nearest enclosing one (``ntp_servers[1]`` is the
        NTP servers field); ``None`` when the form has none."""
        while where:
            if where in self.names:
                return where
            shorter = re.sub(r"(\.\w+|\[\d+\])$", "", where)
            if shorter == where:
                return None
            where = shorter
        return None


def _operator(found: Visit) -> None:
    """Forms are not even shown to a viewer (the service would refuse the post)."""
    if not found.actor.can(Role.OPERATOR):
        raise Refused(403, "Your role (viewer) cannot change the inventory.")


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _url(text: str) -> str:
    return quote(text, safe="")


def _store(request: Request):
    return request.app.state.store


def _registry(request: Request):
    return request.app.state.registry


async def _post(request: Request, handle: Callable[..., Response], *args: Any) -> Response:
    """Read the form, check its token and origin, and handle it off the event loop."""
    form = await _form(request)

    def run() -> Response:
        found = check_post(request, form.get("csrf"))
        return handle(request, found, form, *args)

    return await run_in_threadpool(run)


# -- sites ----------------------------------------------------------------------------


def _site_values(entry: dict) -> dict[str, str]:
    """A site entry as the form's text fields."""
    values = {"name": entry.get("name", "")}
    for name, _, kind, _ in SITE_FIELDS:
        value = entry.get(name)
        if value is None:
            values[name] = ""
        elif name == "trusted_networks":
            values[name] = "\n".join(
                item if isinstance(item, str)
                else f"{item['network']} {','.join(item.get('transports', []))}".strip()
                for item in value
            )  # fmt: skip
        elif kind == "list":
            values[name] = ", ".join(value)
        else:
            values[name] = str(value)
    return values


def _site_body(form: dict[str, str]) -> dict[str, Any]:
    """The shown site fields from the form; an empty one is ``None`` (the default)."""
    body: dict[str, Any] = {}
    for name, _, kind, _ in SITE_FIELDS:
        text = _text(form, name)
        if not text:
            body[name] = None
        elif name == "trusted_networks":
            body[name] = [_network(line) for line in text.splitlines() if line.strip()]
        elif kind == "list":
            body[name] = [part for part in re.split(r"[\s,]+", text) if part]
        elif kind == "int":
            body[name] = _number(text)
        else:
            body[name] = text
    return body


def _network(line: str) -> str | dict:
    network, _, transports = line.strip().partition(" ")
    if not transports.strip():
        return network
    return {"network": network, "transports": [t for t in re.split(r"[\s,]+", transports) if t]}


def _site_form(request: Request, found: Visit, values: dict, *, new: bool, status: int = 200,
               errors: dict | None = None, top: list[str] | None = None) -> Response:  # fmt: skip
    return page(request, found, "inventory_site_form.html", status, values=values, new=new,
                fields=SITE_FIELDS, errors=errors or {}, top=top or [])  # fmt: skip


@router.get("/sites")
def sites(request: Request) -> Response:
    found = signed_in(request)
    listed = objects.list_entries(_store(request), found.actor, "site", limit=1000)
    return page(request, found, "inventory_sites.html", sites=listed.items,
                more=listed.next is not None)  # fmt: skip


@router.get("/sites/new")
def new_site(request: Request) -> Response:
    found = signed_in(request)
    _operator(found)
    return _site_form(request, found, _site_values({}), new=True)


def _create_site(request: Request, found: Visit, form: dict[str, str]) -> Response:
    body = {"name": _text(form, "name"), **{k: v for k, v in _site_body(form).items()
                                           if v is not None}}  # fmt: skip
    fields = Fields({"name", *(name for name, *_ in SITE_FIELDS)})
    try:
        _, key = objects.create_entry(_store(request), found.actor, _registry(request),
                                      "site", body)  # fmt: skip
    except Invalid as error:
        errors, top = fields.place(error.problems)
        return _site_form(request, found, form, new=True, status=422, errors=errors, top=top)
    except Conflict:
        errors = {"name": f"a site {body['name']} exists already"}
        return _site_form(request, found, form, new=True, status=409, errors=errors)
    return _see(f"/sites/{_url(key)}")


@router.post("/sites/new")
async def create_site(request: Request) -> Response:
    return await _post(request, _create_site)


@router.get("/sites/{name}")
def site(request: Request, name: str, after: str | None = None) -> Response:
    found = signed_in(request)
    store = _store(request)
    entry = objects.get_entry(store, found.actor, "site", name)
    extensions = objects.list_entries(store, found.actor, "extension", site=name, limit=200,
                                      after=after)  # fmt: skip
    more = f"/sites/{_url(name)}?after={_url(extensions.next)}" if extensions.next else None
    return page(request, found, "inventory_site.html", site=entry, values=_site_values(entry),
                fields=SITE_FIELDS, extensions=extensions.items, more=more)  # fmt: skip


@router.get("/sites/{name}/edit")
def edit_site_form(request: Request, name: str) -> Response:
    found = signed_in(request)
    _operator(found)
    entry = objects.get_entry(_store(request), found.actor, "site", name)
    return _site_form(request, found, _site_values(entry), new=False)


def _edit_site(request: Request, found: Visit, form: dict[str, str], name: str) -> Response:
    fields = Fields({name for name, *_ in SITE_FIELDS})
    values = {**form, "name": name}
    try:
        objects.patch_entry(_store(request), found.actor, _registry(request), "site", name,
                            _site_body(form))  # fmt: skip
    except Invalid as error:
        errors, top = fields.place(error.problems)
        return _site_form(request, found, values, new=False, status=422, errors=errors, top=top)
    return _see(f"/sites/{_url(name)}")


@router.post("/sites/{name}/edit")
async def edit_site(request: Request, name: str) -> Response:
    return await _post(request, _edit_site, name)


def _confirm(request: Request, found: Visit, what: str, action: str, back: str,
             status: int = 200, error: str | None = None) -> Response:  # fmt: skip
    return page(request, found, "inventory_delete.html", status, what=what, action=action,
                back=back, error=error)  # fmt: skip


@router.get("/sites/{name}/delete")
def delete_site_form(request: Request, name: str) -> Response:
    found = signed_in(request)
    _operator(found)
    objects.get_entry(_store(request), found.actor, "site", name)  # 404 for no such site
    return _confirm(request, found, f"site {name} with its extensions and contacts",
                    f"/sites/{_url(name)}/delete", f"/sites/{_url(name)}")  # fmt: skip


def _delete_site(request: Request, found: Visit, form: dict[str, str], name: str) -> Response:
    try:
        objects.delete_site(_store(request), found.actor, name)
    except Conflict as error:
        return _confirm(request, found, f"site {name} with its extensions and contacts",
                        f"/sites/{_url(name)}/delete", f"/sites/{_url(name)}", 409,
                        error.message)  # fmt: skip
    return _see("/sites")


@router.post("/sites/{name}/delete")
async def delete_site(request: Request, name: str) -> Response:
    return await _post(request, _delete_site, name)


# -- directory contacts ---------------------------------------------------------------


def _contacts_form(request: Request, found: Visit, site: str, rows: list[dict],
                   status: int = 200, errors: dict | None = None,
                   top: list[str] | None = None) -> Response:  # fmt: skip
    rows = rows + [{"name": "", "number": ""} for _ in range(BLANK_ROWS)]
    return page(request, found, "inventory_contacts.html", status, site=site, rows=rows,
                errors=errors or {}, top=top or [])  # fmt: skip


@router.get("/sites/{name}/contacts")
def contacts_form(request: Request, name: str) -> Response:
    found = signed_in(request)
    _operator(found)
    contacts = objects.get_contacts(_store(request), found.actor, name)
    return _contacts_form(request, found, name, [dict(row) for row in contacts])


def _save_contacts(request: Request, found: Visit, form: dict[str, str], name: str) -> Response:
    rows = _rows(form, "directory", ("name", "number"))
    contacts = [values for _, values in rows]
    fields = Fields({f"directory[{index}].{field}" for index, _ in
                     enumerate(_typed_rows(form, "directory", ("name", "number")))
                     for field in ("name", "number")},
                    {"directory": [index for index, _ in rows]}, prefix="directory")  # fmt: skip
    try:
        objects.replace_contacts(_store(request), found.actor, _registry(request), name, contacts)
    except Invalid as error:
        errors, top = fields.place(error.problems)
        typed = _typed_rows(form, "directory", ("name", "number"))
        page_ = page(request, found, "inventory_contacts.html", 422, site=name, rows=typed,
                     errors=errors, top=top)  # fmt: skip
        return page_
    return _see(f"/sites/{_url(name)}")


@router.post("/sites/{name}/contacts")
async def save_contacts(request: Request, name: str) -> Response:
    return await _post(request, _save_contacts, name)


# -- extensions -----------------------------------------------------------------------

EXTENSION_FIELDS = ("number", "name", "auth_user", "password", "shared")


def _extension_values(entry: dict) -> dict[str, str]:
    values = {name: str(entry.get(name) or "") for name in EXTENSION_FIELDS}
    values["shared"] = "1" if entry.get("shared") else ""
    return values


def _extension_body(form: dict[str, str], site: str, number: str) -> dict[str, Any]:
    body: dict[str, Any] = {"site": site, "number": number, "shared": bool(form.get("shared"))}
    for name in ("name", "auth_user"):
        body[name] = _text(form, name) or None
    body["password"] = form.get("password", "") or None  # passwords are kept as typed
    return body


def _extension_form(request: Request, found: Visit, site: str, values: dict, *, new: bool,
                    status: int = 200, errors: dict | None = None,
                    top: list[str] | None = None) -> Response:  # fmt: skip
    return page(request, found, "inventory_extension_form.html", status, site=site,
                values=values, new=new, errors=errors or {}, top=top or [],
                has_password=values.get("password") == MASK)  # fmt: skip


@router.get("/sites/{name}/extensions/new")
def new_extension(request: Request, name: str) -> Response:
    found = signed_in(request)
    _operator(found)
    objects.get_entry(_store(request), found.actor, "site", name)
    return _extension_form(request, found, name, _extension_values({}), new=True)


def _typed_extension(form: dict[str, str]) -> dict[str, str]:
    """The form as typed, a typed password not sent back to the browser."""
    values = {name: form.get(name, "") for name in EXTENSION_FIELDS}
    values["password"] = MASK if values["password"] == MASK else ""
    return values


def _create_extension(request: Request, found: Visit, form: dict[str, str],
                      site: str) -> Response:  # fmt: skip
    number = _text(form, "number")
    body = {k: v for k, v in _extension_body(form, site, number).items() if v is not None}
    try:
        objects.create_entry(_store(request), found.actor, _registry(request), "extension", body)
    except Invalid as error:
        errors, top = Fields(set(EXTENSION_FIELDS)).place(error.problems)
        return _extension_form(request, found, site, _typed_extension(form), new=True,
                               status=422, errors=errors, top=top)  # fmt: skip
    except Conflict:
        taken = {"number": f"{number} exists already"}
        return _extension_form(request, found, site, _typed_extension(form), new=True,
                               status=409, errors=taken)  # fmt: skip
    return _see(f"/sites/{_url(site)}")


@router.post("/sites/{name}/extensions/new")
async def create_extension(request: Request, name: str) -> Response:
    return await _post(request, _create_extension, name)


@router.get("/sites/{name}/extensions/{number}/edit")
def edit_extension_form(request: Request, name: str, number: str) -> Response:
    found = signed_in(request)
    _operator(found)
    entry = objects.get_entry(_store(request), found.actor, "extension", f"{name}/{number}")
    return _extension_form(request, found, name, _extension_values(entry), new=False)


def _edit_extension(request: Request, found: Visit, form: dict[str, str], site: str,
                    number: str) -> Response:  # fmt: skip
    body = _extension_body(form, site, number)
    try:
        objects.patch_entry(_store(request), found.actor, _registry(request), "extension",
                            f"{site}/{number}", body)  # fmt: skip
    except Invalid as error:
        errors, top = Fields(set(EXTENSION_FIELDS)).place(error.problems)
        values = {**_typed_extension(form), "number": number}
        return _extension_form(request, found, site, values, new=False, status=422,
                               errors=errors, top=top)  # fmt: skip
    return _see(f"/sites/{_url(site)}")


@router.post("/sites/{name}/extensions/{number}/edit")
async def edit_extension(request: Request, name: str, number: str) -> Response:
    return await _post(request, _edit_extension, name, number)


@router.get("/sites/{name}/extensions/{number}/delete")
def delete_extension_form(request: Request, name: str, number: str) -> Response:
    found = signed_in(request)
    _operator(found)
    objects.get_entry(_store(request), found.actor, "extension", f"{name}/{number}")
    base = f"/sites/{_url(name)}/extensions/{_url(number)}"
    return _confirm(request, found, f"extension {number} of site {name}", f"{base}/delete",
                    f"/sites/{_url(name)}")  # fmt: skip


def _delete_extension(request: Request, found: Visit, form: dict[str, str], site: str,
                      number: str) -> Response:  # fmt: skip
    try:
        objects.delete_extension(_store(request), found.actor, site, number)
    except Conflict as error:
        base = f"/sites/{_url(site)}/extensions/{_url(number)}"
        return _confirm(request, found, f"extension {number} of site {site}", f"{base}/delete",
                        f"/sites/{_url(site)}", 409, error.message)  # fmt: skip
    return _see(f"/sites/{_url(site)}")


@router.post("/sites/{name}/extensions/{number}/delete")
async def delete_extension(request: Request, name: str, number: str) -> Response:
    return await _post(request, _delete_extension, name, number)


# -- phones and their keys ------------------------------------------------------------


def _phone_values(entry: dict) -> dict[str, Any]:
    """A phone entry as the form shows it: text fields, line fields and key rows."""
    lines = [line or "" for line in entry.get("lines") or []]
    lines += [""] * max(LINE_ROWS - len(lines), 1)
    keys = [{field: "" if key.get(field) is None else str(key[field]) for field in KEY_FIELDS}
            for key in entry.get("keys") or []]  # fmt: skip
    keys += [dict.fromkeys(KEY_FIELDS, "") for _ in range(BLANK_ROWS)]
    return {"mac": entry.get("mac", ""), "model": entry.get("model", ""),
            "site": entry.get("site", ""), "description": entry.get("description", ""),
            "lines": lines, "keys": keys}  # fmt: skip


def _typed_phone(form: dict[str, str]) -> dict[str, Any]:
    lines = [form[name] for name in sorted(
        (name for name in form if re.fullmatch(r"lines\[\d{1,3}\]", name)),
        key=lambda name: int(name[6:-1]))]  # fmt: skip
    return {"mac": form.get("mac", ""), "model": form.get("model", ""),
            "site": form.get("site", ""), "description": form.get("description", ""),
            "lines": lines, "keys": _typed_rows(form, "keys", KEY_FIELDS)}  # fmt: skip


def _phone_body(form: dict[str, str]) -> tuple[dict[str, Any], list[int]]:
    """The phone fields of the form (``None``: default) and the form row of each key."""
    lines: list[str | None] = [
        _text(form, f"lines[{index}]") or None for index in range(64)
        if f"lines[{index}]" in form
    ]  # fmt: skip
    while lines and lines[-1] is None:
        lines.pop()
    keys = _rows(form, "keys", KEY_FIELDS)
    body = {"model": _text(form, "model"), "site": _text(form, "site"),
            "description": _text(form, "description") or None, "lines": lines or None,
            "keys": [values for _, values in keys] or None}  # fmt: skip
    return body, [index for index, _ in keys]


def _phone_fields(form: dict[str, str], rows: list[int]) -> Fields:
    names = {"mac", "model", "site", "description", "lines", "keys"}
    names |= {name for name in form if name.startswith(("lines[", "keys["))}
    return Fields(names, {"keys": rows})


def _phone_form(request: Request, found: Visit, values: dict, *, new: bool, status: int = 200,
                errors: dict | None = None, top: list[str] | None = None) -> Response:  # fmt: skip
    registry = _registry(request)
    models = [(plugin.label, [spec.name for spec in plugin.models])
              for plugin in sorted(registry.plugins, key=lambda plugin: plugin.label)]  # fmt: skip
    model = values.get("model") or ""
    if model and not any(model in names for _, names in models):
        try:  # stored by an alias (CP-7960G): offered as it is, in its vendor's group
            vendor = registry.resolve_model(model)[0].label
        except Exception:  # typed and unknown: the service says so beside the field
            vendor = None
        for label, names in models:
            if label == vendor:
                names.insert(0, model)
    listed = objects.list_entries(_store(request), found.actor, "site", limit=1000).items
    sites = [entry["name"] for entry in listed]
    return page(request, found, "inventory_phone_form.html", status, values=values, new=new,
                models=models, sites=sites, key_types=NEUTRAL_KEY_TYPES, key_fields=KEY_FIELDS,
                errors=errors or {}, top=top or [])  # fmt: skip


@router.get("/sites/{name}/phones/new")
def new_phone(request: Request, name: str) -> Response:
    found = signed_in(request)
    _operator(found)
    objects.get_entry(_store(request), found.actor, "site", name)
    return _phone_form(request, found, _phone_values({"site": name}), new=True)


def _create_phone(request: Request, found: Visit, form: dict[str, str], site: str) -> Response:
    body, rows = _phone_body(form)
    body = {"mac": _text(form, "mac"), **{k: v for k, v in body.items() if v is not None}}
    fields = _phone_fields(form, rows)
    try:
        _, mac = objects.create_entry(_store(request), found.actor, _registry(request),
                                      "phone", body)  # fmt: skip
    except Invalid as error:
        errors, top = fields.place(error.problems)
        return _phone_form(request, found, _typed_phone(form), new=True, status=422,
                           errors=errors, top=top)  # fmt: skip
    except Conflict:
        return _phone_form(request, found, _typed_phone(form), new=True, status=409,
                           errors={"mac": "this phone is in the inventory already"})  # fmt: skip
    return _see(f"/phones/{colon_mac(mac)}")


@router.post("/sites/{name}/phones/new")
async def create_phone(request: Request, name: str) -> Response:
    return await _post(request, _create_phone, name)


@router.get("/phones/{mac}/edit")
def edit_phone_form(request: Request, mac: str) -> Response:
    found = signed_in(request)
    _operator(found)
    entry = objects.get_entry(_store(request), found.actor, "phone", objects.phone_mac(mac))
    return _phone_form(request, found, _phone_values(entry), new=False)


def _edit_phone(request: Request, found: Visit, form: dict[str, str], mac: str) -> Response:
    normalized = objects.phone_mac(mac)
    body, rows = _phone_body(form)
    try:
        objects.patch_entry(_store(request), found.actor, _registry(request), "phone",
                            normalized, body)  # fmt: skip
    except Invalid as error:
        errors, top = _phone_fields(form, rows).place(error.problems)
        values = {**_typed_phone(form), "mac": colon_mac(normalized)}
        return _phone_form(request, found, values, new=False, status=422, errors=errors, top=top)
    return _see(f"/phones/{colon_mac(normalized)}")


@router.post("/phones/{mac}/edit")
async def edit_phone(request: Request, mac: str) -> Response:
    return await _post(request, _edit_phone, mac)


@router.get("/phones/{mac}/delete")
def delete_phone_form(request: Request, mac: str) -> Response:
    found = signed_in(request)
    _operator(found)
    normalized = objects.phone_mac(mac)
    objects.get_entry(_store(request), found.actor, "phone", normalized)
    shown = colon_mac(normalized)
    return _confirm(request, found, f"phone {shown}", f"/phones/{shown}/delete",
                    f"/phones/{shown}")  # fmt: skip


def _delete_phone(request: Request, found: Visit, form: dict[str, str], mac: str) -> Response:
    normalized = objects.phone_mac(mac)
    listed = devices.list_phones(_store(request), found.actor, q=normalized, limit=1).items
    site = next((item.site for item in listed if item.mac == normalized), None)
    objects.delete_phone(_store(request), found.actor, normalized)
    return _see(f"/sites/{_url(site)}" if site else "/phones")


@router.post("/phones/{mac}/delete")
async def delete_phone(request: Request, mac: str) -> Response:
    return await _post(request, _delete_phone, mac)
