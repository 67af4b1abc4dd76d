"""The phones list page in process: its column headers sort (``aria-sort`` on the sorted
one, its link the other way), keep the filters and start again from the first page; the
next page keeps the order; a page link of another order shows the first page, said so."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.test_ui_pages import app, sign_in, sqlite_store  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def headers(html: str) -> dict[str, tuple[str | None, str | None]]:
    """Header label -> (its aria-sort, its link)."""
    found = {}
    for sort, cell in re.findall(r'<th scope="col"( aria-sort="[a-z]+")?>(.*?)</th>', html, re.S):
        link = re.search(r'href="([^"]+)"', cell)
        label = re.sub(r"<[^>]+>|[▲▼]", "", cell).strip()
        found[label] = (sort.split('"')[1] if sort else None,
                        unescape(link.group(1)) if link else None)  # fmt: skip
    return found


def macs(html: str) -> list[str]:
    return re.findall(r'<td><a href="/phones/([0-9A-F:]{17})">', html)


def test_headers_sort_both_ways_keep_filters_and_mark_the_sorted_one(app):  # noqa: F811
    browser = sign_in(app)
    first = browser.get("/phones?site=hq")
    assert first.status_code == 200
    shown = headers(first.text)
    assert list(shown) == ["MAC", "State", "Model", "Site", "Lines", "Name", "Last seen"]
    assert shown["MAC"] == ("ascending", "/phones?site=hq&sort=mac&order=desc")
    assert shown["Last seen"] == (None, "/phones?site=hq&sort=seen&order=asc")
    assert shown["Lines"] == (None, None)
    by_model = browser.get("/phones?site=hq&sort=model&order=desc")
    shown = headers(by_model.text)
    assert shown["Model"] == ("descending", "/phones?site=hq&sort=model&order=asc")
    assert shown["MAC"][0] is None
    assert "sorted by Model, descending" in by_model.text
    assert macs(by_model.text) == ["00:08:5D:00:00:01", "00:08:5D:00:00:02"]  # 6757i, 6731i
    assert 'name="sort" value="model"' in by_model.text  # the search form keeps the order
    everyone = macs(browser.get("/phones?sort=mac&order=desc").text)
    assert everyone == sorted(everyone, reverse=True) and len(everyone) >= 4


def test_next_page_keeps_the_order_and_a_link_of_another_order_starts_over(app):  # noqa: F811
    import plugtone.web.ui.pages_phones as pages

    browser = sign_in(app)
    everyone = macs(browser.get("/phones?sort=mac&order=desc").text)
    kept, pages.PAGE = pages.PAGE, 2
    try:
        first = browser.get("/phones?sort=mac&order=desc")
        more = re.search(r'<a href="([^"]+)" rel="next">', first.text)
        assert more, "no next page link"
        second = browser.get(unescape(more.group(1)))
        assert macs(first.text) + macs(second.text) == everyone[:4]
        cursor = re.search(r"after=([^&\"]+)", unescape(more.group(1))).group(1)
        other = browser.get(f"/phones?sort=name&after={cursor}")  # a link of another order
        assert other.status_code == 200
        assert "belongs to another order; showing the first page" in other.text
        assert len(macs(other.text)) == 2
    finally:
        pages.PAGE = kept
