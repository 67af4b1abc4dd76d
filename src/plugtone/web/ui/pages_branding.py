"""Branding sets: the list, one set's logo, files and users, and its edits (create and
delete a set, upload, replace and remove files, set and remove the logo).

Every change goes through :mod:`plugtone.services.branding_sets`, which applies it as the
inventory's own ``branding:`` entry and gives it the role the service layer gives
branding (admin): the page shows edit controls to those who may make them, and the
service refuses anyone else's post regardless. A refused change shows its reason beside
the field and changes nothing.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from plugtone.inventory.document import MAX_BRANDING_FILE_BYTES, MAX_LOGO_BYTES, NAME_RE
from plugtone.services import branding_sets
from plugtone.services.actors import Role, authorize_kinds
from plugtone.services.errors import Conflict, Invalid, NotFound
from plugtone.web.ui.auth import check_post, signed_in
from plugtone.web.ui.render import page

router = APIRouter()

NAV = [("Branding", "/branding", None)]
BODY_LIMITS = {"/branding": MAX_BRANDING_FILE_BYTES + 64 * 1024}
"""A branding file is at most 8 MiB (the inventory's cap); the form's fields besides."""
Token = Annotated[str, Form(max_length=256)]
Short = Annotated[str, Form(max_length=255)]


def _list_page(request: Request, found, status: int = 200, errors: dict | None = None,
               form: dict | None = None, message: str | None = None) -> Response:  # fmt: skip
    sets = branding_sets.list_sets(request.app.state.store, found.actor)
    return page(request, found, "branding_list.html", status, sets=sets, errors=errors or {},
                form=form or {}, message=message, can_edit=found.actor.can(Role.ADMIN))  # fmt: skip


def _set_page(request: Request, found, name: str, status: int = 200, errors: dict | None = None,
              form: dict | None = None, message: str | None = None) -> Response:  # fmt: skip
    summary = branding_sets.get_set(request.app.state.store, found.actor, name)
    return page(request, found, "branding_set.html", status, set=summary, errors=errors or {},
                form=form or {}, message=message, can_edit=found.actor.can(Role.ADMIN),
                quoted=quote(summary.name))  # fmt: skip


def _problems(error: Invalid) -> str:
    return "; ".join(problem.message for problem in error.problems)


@router.get("/branding")
def branding_list(request: Request) -> Response:
    return _list_page(request, signed_in(request))


@router.post("/branding")
def create_set(request: Request, csrf: Token = "", name: Short = "") -> Response:
    found = check_post(request, csrf)
    authorize_kinds(found.actor, ["branding"])
    text = name.strip()
    problem = None
    if not text:
        problem = "give the set a name"
    elif not NAME_RE.match(text):
        problem = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64"
    if problem is None:
        try:
            branding_sets.create_set(request.app.state.store, found.actor,
                                     request.app.state.registry, text)  # fmt: skip
        except Conflict:
            problem = f"a set called {text} exists already"
        except Invalid as error:
            problem = _problems(error)
    if problem is not None:
        return _list_page(request, found, 422, {"name": problem}, {"name": name})
    return RedirectResponse(f"/branding/{quote(text)}", status_code=303)


@router.get("/branding/{name}")
def branding_set(request: Request, name: str) -> Response:
    return _set_page(request, signed_in(request), name)


def _read(upload: UploadFile | None, limit: int) -> tuple[str, bytes | None]:
    """The upload's file name and content; ``None`` for content over ``limit``."""
    if upload is None or not upload.filename:
        return "", b""
    content = upload.file.read(limit + 1)
    return upload.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1], (
        None if len(content) > limit else content
    )


@router.post("/branding/{name}/files")
def put_file(request: Request, name: str, file: Annotated[UploadFile | None, File()] = None,
             csrf: Token = "", save_as: Short = "") -> Response:  # fmt: skip
    """Add a file, or replace the set's file of the same name."""
    found = check_post(request, csrf)
    authorize_kinds(found.actor, ["branding"])  # before the upload is read
    file_name, content = _read(file, MAX_BRANDING_FILE_BYTES)
    target = save_as.strip() or file_name
    errors = {}
    if content is None:
        errors["file"] = f"larger than {MAX_BRANDING_FILE_BYTES // 1024**2} MiB"
    elif not file_name:
        errors["file"] = "choose a file to upload"
    else:
        try:
            branding_sets.put_file(request.app.state.store, found.actor,
                                   request.app.state.registry, name, target, content)  # fmt: skip
        except Invalid as error:
            errors["save_as" if save_as.strip() else "file"] = _problems(error)
    if errors:
        return _set_page(request, found, name, 422, errors, {"save_as": save_as})
    return _set_page(request, found, name, message=f"{target} is stored in set {name}.")


@router.post("/branding/{name}/files/remove")
def remove_file(request: Request, name: str, csrf: Token = "", file_name: Short = "") -> Response:
    found = check_post(request, csrf)
    try:
        branding_sets.remove_file(request.app.state.store, found.actor,
                                  request.app.state.registry, name, file_name)  # fmt: skip
    except NotFound as error:
        return _set_page(request, found, name, 404, {"files": error.message})
    except Invalid as error:
        return _set_page(request, found, name, 422, {"files": _problems(error)})
    return _set_page(request, found, name, message=f"{file_name} is removed from set {name}.")


@router.post("/branding/{name}/logo")
def set_logo(request: Request, name: str, logo: Annotated[UploadFile | None, File()] = None,
             csrf: Token = "") -> Response:  # fmt: skip
    """The set's logo: an image (PNG, JPEG, GIF, BMP) each plug-in converts."""
    found = check_post(request, csrf)
    authorize_kinds(found.actor, ["branding"])
    _, content = _read(logo, MAX_LOGO_BYTES)
    if content is None:
        return _set_page(request, found, name, 422,
                         {"logo": f"larger than {MAX_LOGO_BYTES // 1024} KiB"})  # fmt: skip
    try:
        branding_sets.set_logo(request.app.state.store, found.actor, request.app.state.registry,
                               name, content)  # fmt: skip
    except Invalid as error:
        return _set_page(request, found, name, 422, {"logo": _problems(error)})
    return _set_page(request, found, name, message=f"Set {name} has a new logo.")


@router.post("/branding/{name}/logo/remove")
def remove_logo(request: Request, name: str, csrf: Token = "") -> Response:
    found = check_post(request, csrf)
    try:
        branding_sets.remove_logo(request.app.state.store, found.actor,
                                  request.app.state.registry, name)  # fmt: skip
    except NotFound as error:
        return _set_page(request, found, name, 404, {"logo": error.message})
    return _set_page(request, found, name, message=f"Set {name} has no logo now.")


@router.post("/branding/{name}/delete")
def delete_set(request: Request, name: str, csrf: Token = "") -> Response:
    """Refused while a site or phone has the set: the page says who."""
    found = check_post(request, csrf)
    try:
        branding_sets.delete_set(request.app.state.store, found.actor, name)
    except Conflict as error:
        return _set_page(request, found, name, 409, {"delete": error.message})
    return _list_page(request, found, message=f"Branding set {name} is deleted.")
