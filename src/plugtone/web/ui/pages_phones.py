"""The phones list (search, filters, keyset pages). A phone's own page is
``pages_phone_detail``.

Paging reuses the services' cursors: ``next`` is handed back as ``after``. A state
filter lists from ``services.status`` (keyset by MAC too), which filters by site only:
the page says so when a search or a model or vendor filter is set with a state.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from plugtone.services import devices, objects
from plugtone.services.status import STATES, phone_status
from plugtone.web.ui.auth import signed_in
from plugtone.web.ui.pages_dashboard import STATE_NAMES
from plugtone.web.ui.render import page

router = APIRouter()

PAGE = 50
Text = Annotated[str | None, Query(max_length=255)]


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


@router.get("/phones")
def phones(request: Request, q: Text = None, site: Text = None, model: Text = None,
           vendor: Text = None, state: Text = None, after: Text = None) -> Response:  # fmt: skip
    found = signed_in(request)
    store = request.app.state.store
    registry = request.app.state.registry
    q, site, model, vendor, state = map(_clean, (q, site, model, vendor, state))
    note = None
    if state is not None and state not in STATES:
        state, note = None, "That is not a state; showing every phone."
    if state is not None:
        if q or model or vendor:
            note = "A state filter combines with the site only: search, model and vendor are off."
        listed = phone_status(store, found.actor, [state], site=site, after=after, limit=PAGE)
        rows, cursor, mode = listed.items, listed.next, "status"
    else:
        listed = devices.list_phones(store, found.actor, site=site, model=model, vendor=vendor,
                                     q=q, after=after, limit=PAGE)  # fmt: skip
        rows, cursor, mode = list(listed.items), listed.next, "phones"
    filters = {name: value for name, value in
               (("q", q), ("site", site), ("model", model), ("vendor", vendor), ("state", state))
               if value}  # fmt: skip
    more = f"/phones?{urlencode({**filters, 'after': cursor})}" if cursor else None
    sites = objects.site_names(store, found.actor)
    vendors = sorted(plugin.name for plugin in registry.plugins)
    return page(request, found, "phones.html", rows=rows, mode=mode, more=more, note=note,
                filters=filters, sites=sites, vendors=vendors, states=STATES,
                state_names=STATE_NAMES, first=after is None)  # fmt: skip
