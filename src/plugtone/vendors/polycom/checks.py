"""What a Polycom's files cannot carry as the inventory says (``check_phone``).

Each finding names the key, line, field or setting and the reason, so an apply that
would leave a phone so is refused with something the admin can act on (see
:meth:`plugtone.vendors.base.VendorPlugin.check_phone`). Nothing a finding names is
dropped silently at render time: the render writes what fits, and the apply that
would need more is refused.
"""

from __future__ import annotations

from plugtone.vendors.base import Finding, PhoneView
from plugtone.vendors.polycom.keys import check_keys
from plugtone.vendors.polycom.parameters import codec_findings, dial_plan_findings
from plugtone.vendors.polycom.timezones import zone_findings


def phone_findings(phone: PhoneView) -> list[Finding]:
    """Every finding of the parameters side of the plug-in for ``phone``."""
    findings = check_keys(phone)
    findings += codec_findings(phone.site.codecs, phone.model)
    findings += dial_plan_findings(phone.site)
    findings += zone_findings(phone.site.timezone)
    return findings
