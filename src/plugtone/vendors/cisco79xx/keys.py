"""The inventory's keys on a 7940/7960's line buttons (SIP firmware).

The phone's programmable keys are its line buttons: two on a 7940, six on a 7960
(:mod:`.models`). On the SIP firmware a button is one of two things:

- a line: button N shows line N (``lineN_name`` ...), labelled ``lineN_shortname``;
- a speed dial: ``speed_lineN`` (the number) with ``speed_labelN`` (its label), on a
  button with no line (a working 7960 file: oldwiki.funkfeuer.at "Cisco 7940",
  ``speed_label2``/``speed_line2``; the same pair in the admin guide's parameter list).

Everything else the phone does sits on fixed buttons and softkeys the files cannot
move: Messages (``messages_uri``), Directories (``directory_url`` and the call logs),
Services (``services_url``), and the Trnsfer and Confrn softkeys during a call. So a
neutral key becomes:

- ``line``: the label of its line's button (``lineN_shortname``); it cannot move the
  line to another button;
- ``speeddial`` and ``voicemail`` (which dials the site's ``voicemail`` code, as on every
  plug-in): a speed dial on the pinned button (``family: line, slot: N``), else on the
  first button without a line or another key;
- ``services`` and ``xml``: ``services_url``, the page the Services button opens (one
  URL per phone);
- ``empty``: a button left blank (pinned, or the next free one);
- ``blf``, ``park``, ``dnd``, ``flash``, ``directory``, ``callers``, ``transfer``,
  ``conference``: refused, each with the reason. The SIP firmware documents no
  busy-lamp field, park, do-not-disturb or hook-flash key, and the others are fixed
  buttons or softkeys a line button cannot be.

Every key that cannot land as the inventory says is a refusing :class:`Finding` from
:func:`check_keys`, so the apply is refused instead of the phone silently showing less;
a line past the model's buttons is refused the same way. Rendering writes only what
fits (:func:`key_settings`), and clears every button it does not use: the phone keeps
what it was last told.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from plugtone.vendors.base import Finding, KeyView, PhoneView, dialled_number
from plugtone.vendors.cisco79xx.models import BY_NAME, MAX_LINES

FAMILY = "line"
"""The one key family of these phones: the line buttons."""

FIXED: dict[str, str] = {
    "blf": "the SIP firmware has no busy-lamp field; a line button is a line or a speed dial",
    "park": "the SIP firmware has no park key; dial the park code from a speed dial instead",
    "dnd": "the SIP firmware documents no do-not-disturb key for a line button",
    "flash": "the SIP firmware has no hook-flash key",
    "directory": "a line button cannot open the directory; the phone's own Directories "
    "button does (it opens the site's book)",
    "callers": "a line button cannot show the call lists; the phone's Directories button "
    "holds the missed, received and placed calls",
    "transfer": "a line button cannot transfer; the phone's Trnsfer softkey does, during a call",
    "conference": "a line button cannot start a conference; the phone's Confrn softkey does, "
    "during a call",
}
"""Why each key type the line buttons cannot be is refused."""

SPEED_DIAL_TYPES = ("speeddial", "voicemail")
SERVICES_TYPES = ("services", "xml")


@dataclass(frozen=True)
class SpeedDial:
    button: int
    number: str
    label: str


@dataclass
class Layout:
    """What every line button shows, and what cannot be shown."""

    buttons: int
    labels: dict[int, str] = field(default_factory=dict)
    """Line index -> its button's label (``lineN_shortname``)."""
    speed_dials: dict[int, SpeedDial] = field(default_factory=dict)
    services_url: str | None = None
    texts: list[tuple[str, str]] = field(default_factory=list)
    """``(what, value)`` of every text a key puts in the file, for the check that the
    format carries it unchanged (:mod:`.values`)."""
    findings: list[Finding] = field(default_factory=list)

    def refuse(self, message: str) -> None:
        self.findings.append(Finding(message))


def buttons_of(model: str) -> int:
    spec = BY_NAME.get(model)
    return spec.lines if spec else MAX_LINES


def key_layout(phone: PhoneView) -> Layout:
    """The phone's line buttons as the inventory's lines and keys fill them."""
    layout = Layout(buttons_of(phone.model))
    model = f"a {phone.model}"
    assigned = {line.index: line for line in phone.lines}
    for index, line in sorted(assigned.items()):
        if index > layout.buttons:
            layout.refuse(
                f"line {index} ({line.number}): {model} has {_buttons(layout.buttons)}; "
                "the line would have no button and not register"
            )
    taken: dict[int, str] = {
        index: f"line {index}" for index in assigned if index <= layout.buttons
    }
    for name, key in _named(phone):
        if key.family is not None and key.family != FAMILY:
            layout.refuse(
                f"{name}: {model} has one key family, {FAMILY!r} (its line buttons), "
                f"not {key.family!r}"
            )
        elif key.slot is not None and not 1 <= key.slot <= layout.buttons:
            layout.refuse(f"{name}: {model} has {_buttons(layout.buttons)}, no button {key.slot}")
        elif key.type in FIXED:
            layout.refuse(f"{name}: {FIXED[key.type]}")
        elif key.type == "line":
            _line_key(phone, layout, name, key)
        elif key.type in SPEED_DIAL_TYPES:
            _speed_dial(phone, layout, taken, name, key)
        elif key.type in SERVICES_TYPES:
            _services(layout, name, key)
        elif key.type == "empty":
            button = _button(layout, taken, name, key, model)
            if button is not None:
                taken[button] = name
        else:
            layout.refuse(f"{name}: {model} has no {key.type} key")
    return layout


def check_keys(phone: PhoneView) -> list[Finding]:
    """Refusing findings for every key (and line) that cannot land as the inventory says."""
    return key_layout(phone).findings


def key_settings(phone: PhoneView) -> dict[str, str]:
    """``speed_lineN``/``speed_labelN`` for every button (empty where it shows none), and
    ``services_url`` when a key gives one."""
    layout = key_layout(phone)
    settings: dict[str, str] = {}
    for button in range(1, layout.buttons + 1):
        dial = layout.speed_dials.get(button)
        settings[f"speed_line{button}"] = dial.number if dial else ""
        settings[f"speed_label{button}"] = dial.label if dial else ""
    if layout.services_url is not None:
        settings["services_url"] = layout.services_url
    return settings


def line_labels(phone: PhoneView) -> dict[int, str]:
    """Line index -> the label its ``line`` key gives its button."""
    return key_layout(phone).labels


def _line_key(phone: PhoneView, layout: Layout, name: str, key: KeyView) -> None:
    target = key.line or 1
    if target not in {line.index for line in phone.lines}:
        layout.refuse(f"{name}: the phone has no line {target}")
    elif target > layout.buttons:
        return  # refused with the line itself
    elif key.slot is not None and key.slot != target:
        layout.refuse(
            f"{name}: line {target} is always on button {target} of a {phone.model}; "
            f"button {key.slot} cannot show it"
        )
    elif target in layout.labels:
        layout.refuse(f"{name}: line {target} already has its key; a 79xx shows a line once")
    else:
        layout.labels[target] = key.label or ""
        if key.label:
            layout.texts.append((f"{name} label", key.label))


def _speed_dial(
    phone: PhoneView, layout: Layout, taken: dict[int, str], name: str, key: KeyView
) -> None:
    number, why = dialled_number(key, phone.site)
    if not number:
        layout.refuse(f"{name}: {why}")
        return
    button = _button(layout, taken, name, key, f"a {phone.model}")
    if button is None:
        return
    taken[button] = name
    label = key.label or ("Voicemail" if key.type == "voicemail" else number)
    layout.speed_dials[button] = SpeedDial(button, number, label)
    layout.texts += [(f"{name} number", number), (f"{name} label", label)]


def _services(layout: Layout, name: str, key: KeyView) -> None:
    url = key.value or ""
    if not url.lower().startswith(("http://", "https://")):
        layout.refuse(
            f"{name}: the Services button opens a URL (services_url); the key gives "
            f"{'none' if not url else repr(url)}"
        )
    elif layout.services_url is not None and layout.services_url != url:
        layout.refuse(
            f"{name}: the phone has one Services button, already opening {layout.services_url}"
        )
    else:
        layout.services_url = url
        layout.texts.append((f"{name} URL", url))


def _button(
    layout: Layout, taken: dict[int, str], name: str, key: KeyView, model: str
) -> int | None:
    """The button ``key`` lands on: its pinned slot if free, else the first free one."""
    if key.slot is not None:
        if key.slot in taken:
            layout.refuse(f"{name}: button {key.slot} already holds {taken[key.slot]}")
            return None
        return key.slot
    for button in range(1, layout.buttons + 1):
        if button not in taken:
            return button
    layout.refuse(
        f"{name}: {model} has {_buttons(layout.buttons)} and none is left "
        f"({', '.join(taken[button] for button in sorted(taken))})"
    )
    return None


def _named(phone: PhoneView) -> Iterator[tuple[str, KeyView]]:
    """Each key with the name messages give it: ``key 3 (speeddial 201)``."""
    for number, key in enumerate(phone.effective_keys, start=1):
        what = f"{key.type} {key.value}" if key.value else key.type
        yield f"key {number} ({what})", key


def _buttons(count: int) -> str:
    return f"{count} line buttons"
