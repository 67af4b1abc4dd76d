"""The phones list: search, filters that combine (site, model, vendor, state), sorted by
any of its columns, keyset-paged in every order. A phone's own page is
``pages_phone_detail``.

The list is :func:`plugtone.services.phone_list.browse_phones`; its cursor is handed
back as ``after`` with the same ``sort`` and ``order``. Column headers are links that
sort by that column (again: the other way), the sorted one marked with ``aria-sort``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from plugtone.services import objects
from plugtone.services.errors import Invalid
from plugtone.services.phone_list import SORTS, STATE_ORDER, browse_phones
from plugtone.web.ui.auth import signed_in
from plugtone.web.ui.pages_dashboard import STATE_NAMES
from plugtone.web.ui.render import page

router = APIRouter()

PAGE = 50
Text = Annotated[str | None, Query(max_length=255)]
COLUMNS = (("mac", "MAC"), ("state", "State"), ("model", "Model"), ("site", "Site"),
           ("lines", "Lines"), ("name", "Name"), ("seen", "Last seen"))  # fmt: skip
"""The list's columns, in order: ``(sort key, header)``; all but Lines sort."""


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


@router.get("/phones")
def phones(request: Request, q: Text = None, site: Text = None, model: Text = None,
           vendor: Text = None, state: Text = None, sort: Text = None, order: Text = None,
           after: Text = None) -> Response:  # fmt: skip
    found = signed_in(request)
    store = request.app.state.store
    registry = request.app.state.registry
    q, site, model, vendor, state = map(_clean, (q, site, model, vendor, state))
    notes = []
    if state == "unassigned":
        state = None
        notes.append("Unassigned devices are not inventory phones: the Unassigned page lists "
                     "them. Showing every phone.")  # fmt: skip
    elif state is not None and state not in STATE_ORDER:
        state = None
        notes.append("That is not a state; showing every phone.")
    if sort is not None and sort not in SORTS:
        notes.append("That is not a column to sort by; sorted by MAC.")
    sort = sort if sort in SORTS else "mac"
    descending = order == "desc"
    asked = {"site": site, "model": model, "vendor": vendor, "q": q, "sort": sort,
             "states": [state] if state else [], "descending": descending}  # fmt: skip
    try:
        listed = browse_phones(store, found.actor, after=after, limit=PAGE, **asked)
    except Invalid as error:
        if after is None or not any(problem.where == "after" for problem in error.problems):
            raise
        notes.append("That page link belongs to another order; showing the first page.")
        after = None
        listed = browse_phones(store, found.actor, limit=PAGE, **asked)
    filters = {name: value for name, value in
               (("q", q), ("site", site), ("model", model), ("vendor", vendor), ("state", state))
               if value}  # fmt: skip
    ordering = {"sort": sort, "order": "desc" if descending else "asc"}
    more = None
    if listed.next:
        more = f"/phones?{urlencode({**filters, **ordering, 'after': listed.next})}"
    headers = []
    for key, label in COLUMNS:
        if key not in SORTS:
            headers.append({"label": label, "href": None, "sorted": None})
            continue
        sorted_here = "descending" if key == sort and descending else (
            "ascending" if key == sort else None)  # fmt: skip
        flip = "asc" if sorted_here == "descending" else ("desc" if sorted_here else "asc")
        href = f"/phones?{urlencode({**filters, 'sort': key, 'order': flip})}"
        headers.append({"label": label, "href": href, "sorted": sorted_here})
    sites = objects.site_names(store, found.actor)
    vendors = sorted(plugin.name for plugin in registry.plugins)
    label = dict(COLUMNS)[sort]
    return page(request, found, "phones.html", rows=listed.items, more=more, notes=notes,
                filters=filters, sites=sites, vendors=vendors, states=STATE_ORDER,
                state_names=STATE_NAMES, first=after is None, headers=headers,
                ordering=ordering, first_href=f"/phones?{urlencode({**filters, **ordering})}",
                sorted_by=f"{label}, {'descending' if descending else 'ascending'}",
                )  # fmt: skip
