"""What goes into ``SIPDefault.cnf`` and ``SIP<MAC>.cnf``.

``SIPDefault.cnf`` is fetched over TFTP with no MAC and no User-Agent, so it cannot know
the asking phone's site: it holds vendor-wide defaults only. ``SIP<MAC>.cnf`` is read
after it and overrides it key by key, so it carries everything that depends on the site,
the model or the phone: the pinned image, proxy, clock, URLs, lines, then the raw vendor
settings of site, branding, model and phone (in that order, last wins), so the
inventory's precedence holds.

``image_version`` is written only for a phone with a firmware pin: the phone compares it
with the image it runs and fetches ``<image_version>.loads`` when they differ, so a
missing key is what leaves its firmware alone. ``SIPDefault.cnf`` cannot carry it, since
it is the same file for phones pinned to different releases.

Every key written here is in :mod:`.names`, with the document it comes from; lines and
buttons are laid out by :mod:`.keys`, the clock by :mod:`.timezones`, and what a value
may hold is :mod:`.values`' rule (the file leaves out what it cannot carry unchanged).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from plugtone.vendors.base import Image, PhoneView, SiteView
from plugtone.vendors.cisco79xx.directory import page_path
from plugtone.vendors.cisco79xx.firmware import pinned_image
from plugtone.vendors.cisco79xx.keys import buttons_of, key_settings, line_labels
from plugtone.vendors.cisco79xx.timezones import cisco_time, date_and_time_format
from plugtone.vendors.cisco79xx.values import LABEL_LENGTH

DIAL_PLAN_FILE = "dialplan{mac}"
"""``dial_template`` names the dial plan file without its ``.xml``."""
LOGO_PATH = "cisco/logo-{mac}.bmp"

DTMF = {"rfc2833": "avt", "info": "avt", "inband": "none"}
"""``dtmf_outofband``: the firmware sends RFC 2833 ("avt") or nothing; it has no SIP INFO."""
CODECS = {"pcmu": "g711ulaw", "pcma": "g711alaw", "g729": "g729a"}


def default_settings() -> dict[str, str]:
    """``SIPDefault.cnf``: the same for every phone of every site, no secrets."""
    return {
        "proxy_register": "1",
        "dial_template": "dialplan",
        "sntp_mode": "unicast",
        "nat_enable": "0",
        "telnet_level": "0",
    }


def phone_settings(phone: PhoneView) -> tuple[dict[str, str], list[str]]:
    """``SIP<MAC>.cnf`` in file order, and notes to write as comments."""
    site = phone.site
    raw = {name.strip().lower(): value for name, value in phone.vendor_settings().items()}
    settings: dict[str, str] = {}
    image = pinned_image(phone)
    if image is not None:
        settings["image_version"] = image
    settings.update(_proxy(site))
    clock, notes = _clock(site)
    settings.update(clock)
    settings.update(_urls(phone))
    settings["phone_label"] = _label(phone)
    lines, line_notes = _lines(phone)
    settings.update(lines)
    settings.update(key_settings(phone))
    settings.update(raw)
    return settings, notes + line_notes


def _proxy(site: SiteView) -> dict[str, str]:
    settings = {
        "proxy1_address": site.sip_server,
        "proxy1_port": str(site.sip_port),
        "proxy_register": "1",
        "timer_register_expires": str(site.registration_period),
        "nat_enable": "1" if site.nat else "0",
        "dtmf_outofband": DTMF.get(site.dtmf_method, "avt"),
    }
    codec = next((CODECS[codec] for codec in site.codecs if codec in CODECS), None)
    if codec:
        settings["preferred_codec"] = codec
    return settings


def _clock(site: SiteView) -> tuple[dict[str, str], list[str]]:
    server = site.ntp_servers[0] if site.ntp_servers else None
    settings, notes = _clock_of(server, site.timezone, datetime.now(UTC).year)
    return dict(settings), list(notes)


@lru_cache(maxsize=1024)
def _clock_of(
    server: str | None, zone: str, year: int
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The clock settings for a server, a zone and a year, worked out once (every phone
    of a site has the same; the DST rule is a zone transitions search). Keyed by the
    values themselves, so an edited site can never get another's."""
    settings = {"sntp_mode": "unicast"}
    if server is not None:
        settings["sntp_server"] = server
    zone_settings, notes = cisco_time(zone, year)
    settings.update(zone_settings)
    settings.update(date_and_time_format(zone))
    return tuple(settings.items()), tuple(notes)


def _urls(phone: PhoneView) -> dict[str, str]:
    site = phone.site
    settings = {"dial_template": DIAL_PLAN_FILE.format(mac=phone.mac)}
    if site.voicemail:
        settings["messages_uri"] = site.voicemail
    if site.public_url:
        base = site.public_url.rstrip("/")
        settings["directory_url"] = f"{base}/{page_path(phone.mac, 1)}"
        if branding_logo(phone) is not None:
            settings["logo_url"] = f"{base}/{LOGO_PATH.format(mac=phone.mac)}"
    return settings


def branding_logo(phone: PhoneView) -> Image | None:
    """The logo of the phone's branding set (its own, else its site's), if it has one."""
    return phone.branding.logo if phone.branding is not None else None


def _label(phone: PhoneView) -> str:
    first = phone.lines[0] if phone.lines else None
    label = phone.description or (first.name or first.number if first else "")
    return label[:LABEL_LENGTH]


def _lines(phone: PhoneView) -> tuple[dict[str, str], list[str]]:
    """``lineN_*`` for every line button; buttons without a line are written empty.

    The phone keeps what it was last told, so an emptied button must be cleared
    explicitly. A line the model has no button for is left out, and the file says so
    (the apply is refused: :func:`.keys.check_keys`).
    """
    buttons = buttons_of(phone.model)
    labels = line_labels(phone)
    assigned = {line.index: line for line in phone.lines}
    settings: dict[str, str] = {}
    for index in range(1, buttons + 1):
        line = assigned.get(index)
        prefix = f"line{index}_"
        settings[prefix + "name"] = line.number if line else ""
        settings[prefix + "authname"] = line.auth_user if line else ""
        settings[prefix + "password"] = (line.password or "") if line else ""
        settings[prefix + "displayname"] = (line.name or line.number) if line else ""
        settings[prefix + "shortname"] = (labels.get(index) or line.number) if line else ""
    notes = [
        f"line {index} ({line.number}) left out: a {phone.model} has {buttons} line buttons"
        for index, line in sorted(assigned.items())
        if index > buttons
    ]
    return settings, notes
