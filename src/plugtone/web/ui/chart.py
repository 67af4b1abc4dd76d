"""The dashboard's chart of requests and failures per hour, as an SVG the server draws.

No script and no style attribute (the CSP forbids inline style): bars are ``rect``
elements with classes the stylesheet colours, and each carries a ``title`` with its
figures, so the chart reads without a mouse too (its table twin is on the page).
"""

from __future__ import annotations

from dataclasses import dataclass

from plugtone.services.activity import HourCount

WIDTH = 720
HEIGHT = 200
LEFT = 44
BOTTOM = 24
TOP = 10


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    y: float
    height: float
    fail_y: float
    fail_height: float
    label: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]
    """(y, label) of the vertical axis."""
    base: float
    left: int


def _scale_top(peak: int) -> int:
    """The least of 1, 2, 5, 10, 20, 50 ... at or above ``peak``: a round axis maximum."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= peak:
                return step * magnitude
        magnitude *= 10


def hourly_chart(hours: list[HourCount]) -> Chart:
    peak = max((hour.requests for hour in hours), default=0)
    top = _scale_top(peak)
    plot = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(hours), 1)
    base = HEIGHT - BOTTOM
    bars = []
    for index, hour in enumerate(hours):
        height = plot * hour.requests / top
        failed = plot * hour.failures / top
        label = hour.start.strftime("%H") if index % 3 == 0 else ""
        title = f"{hour.start:%Y-%m-%d %H}:00 UTC: {hour.requests} requests, {hour.failures} failed"
        bars.append(Bar(LEFT + index * slot + 1, max(slot - 2, 1), base - height, height,
                        base - failed, failed, label, title))  # fmt: skip
    ticks = [(base - plot * share, f"{round(top * share):,}") for share in (0, 0.5, 1)]
    return Chart(WIDTH, HEIGHT, bars, ticks, base, LEFT)
