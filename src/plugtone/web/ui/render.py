"""Pages from Jinja2 templates, with the session renewed and the user's role at hand.

Templates autoescape everything; a template never decides what a role may do on its
own: ``can(role)`` asks the actor, and the service layer refuses regardless.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from plugtone.macaddr import colon_mac
from plugtone.services.actors import Role
from plugtone.web.ui.auth import Visit, set_session

TEMPLATES = Path(__file__).parent / "templates"


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def _mac(value: str | None) -> str:
    return "" if not value else colon_mac(value)


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["mac"] = _mac
    env.globals["Role"] = Role
    return env


def page(request: Request, visit: Visit | None, template: str, status: int = 200,
         **values: Any) -> HTMLResponse:  # fmt: skip
    env: Environment = request.app.state.ui.templates
    actor = visit.actor if visit else None
    html = env.get_template(template).render(
        request=request, visit=visit, actor=actor, csrf=visit.csrf if visit else "",
        can=lambda role: actor is not None and actor.can(role), path=request.url.path,
        **values,
    )  # fmt: skip
    response = HTMLResponse(html, status_code=status)
    if visit is not None and visit.renewed:
        set_session(request, response, visit.renewed)
    return response
