"""Cisco 7940/7960 dial plans: only the documented template syntax, dialled as the phone would.

The emulator (tests/emulators/cisco.py) refuses a ``dialplan<MAC>.xml`` with anything the
admin guide does not document (character classes, unknown attributes) and dials typed
keys through the templates the way the guide says the phone picks one (longest literal
match; a complete rule only when it beats every incomplete one; ``Timeout="0"`` at once).
"""

from __future__ import annotations

import time

import pytest

from plugtone.vendors.base import FileRef, FileScope, LineView, PhoneView, SiteView
from plugtone.vendors.cisco79xx import Cisco79xxPlugin
from plugtone.vendors.cisco79xx.dialplan import MAX_TEMPLATES, dial_template, plan_templates
from tests.emulators.cisco import Cisco7960, Refused, dial, parse_dial_plan

PLUGIN = Cisco79xxPlugin()
MAC = "00115C93AFD1"
SEED_PLAN = "0|911|##|#[1-3]x|#[5-9]x|#41xx|#4[2-9]|xxx+^|[1-7]xx|9[2-9]xxxxxx|91[2-9]xxxxxxxxx"


def phone(plan: str | None, timeout: int | None = 4, model: str = "7960") -> PhoneView:
    site = SiteView(name="hq", sip_server="10.0.0.1", dial_plan=plan, digit_timeout=timeout)
    return PhoneView(MAC, model, "cisco79xx", site, (LineView(1, "201", "Ann", "201", "pw"),), ())


def booted(plan: str | None, timeout: int | None = 4) -> Cisco7960:
    """A 7960 that booted from the plug-in's files, dial plan included."""
    view = phone(plan, timeout)

    def fetch(name: str) -> tuple[int, bytes]:
        ref = PLUGIN.match(name)
        if ref is None or ref.scope is FileScope.FIRMWARE:
            return 404, b""
        content = PLUGIN.render(ref, view if ref.scope is not FileScope.COMMON else None, None)
        return (200, content) if content is not None else (404, b"")

    emulator = Cisco7960(MAC)
    emulator.boot(fetch)
    assert (f"dialplan{MAC}.xml", 200) in emulator.fetched
    return emulator


def outcome(emulator: Cisco7960, keys: str) -> tuple[str, bool, int]:
    """``(number sent, sent at once, seconds waited)`` for a user typing ``keys``."""
    result = dial(emulator.dial_plan, keys)
    assert result.early is None, f"{keys}: dialled already at {result.early}"
    return result.number, result.at_once, result.after


def test_the_seed_plan_is_written_out_in_documented_syntax_and_dials_as_meant():
    emulator = booted(SEED_PLAN)
    matches = [rule.match for rule in emulator.dial_plan]
    assert not any("[" in match or "]" in match or "-" in match for match in matches)
    assert [f"{digit}.." for digit in "1234567"] == [m for m in matches if len(m) == 3 and
                                                     m.endswith("..") and m[0].isdigit()]  # fmt: skip
    assert [f"#4{digit}" for digit in "23456789"] == [m for m in matches if m.startswith("#4")
                                                      and len(m) == 3]  # fmt: skip
    assert "92......" in matches and "99......" in matches and "91......." not in matches
    assert matches[-1] == "*"
    # what a user at the site types, and what the phone does
    assert outcome(emulator, "911") == ("911", True, 0)
    assert outcome(emulator, "0") == ("0", True, 0)
    assert outcome(emulator, "205") == ("205", True, 0)  # [1-7]xx: an extension, at once
    assert outcome(emulator, "#25") == ("#25", True, 0)  # #[1-3]x
    assert outcome(emulator, "#4123") == ("#4123", True, 0)  # #41xx
    assert outcome(emulator, "#47") == ("#47", True, 0)  # #4[2-9]
    assert outcome(emulator, "92345678") == ("92345678", True, 0)  # 9[2-9]xxxxxx
    assert outcome(emulator, "912345678901") == ("912345678901", True, 0)
    # nothing complete yet: the phone waits the site's digit timeout, then dials
    assert outcome(emulator, "12") == ("12", False, 4)  # xxx+^ (two or more), or 1xx later
    assert outcome(emulator, "#41") == ("#41", False, 4)  # may still become #41xx
    assert outcome(emulator, "9123") == ("9123", False, 4)  # 91[2-9]... goes on
    assert outcome(emulator, "#4") == ("#4", False, 4)
    # a number the plan does not know waits for the timeout through the catch-all
    assert outcome(emulator, "8") == ("8", False, 4)
    assert outcome(emulator, "*97") == ("*97", False, 4)


def test_stars_tones_prefixes_and_waits():
    emulator = booted("*7x|9;xxx|1x+#,9|555^|2[0-9]x|3[0-9*#]", timeout=3)
    by_match = {rule.match: rule for rule in emulator.dial_plan}
    assert by_match["\\*7."].timeout == 0  # the star key is escaped; '.' takes a digit
    assert by_match["9,..."].timeout == 0  # ';' is the secondary dial tone ','
    assert by_match["1#"].rewrite == "9%s" and by_match["1*#"].rewrite == "9%s"
    assert by_match["555"].timeout == 3  # '^': wait for the timeout even when complete
    assert "2.." in by_match and "3." in by_match  # a class of all ten digits is '.'
    assert outcome(emulator, "*71") == ("*71", True, 0)
    assert outcome(emulator, "9123") == ("9123", True, 0)  # the tone takes no key
    assert outcome(emulator, "1#") == ("91#", False, 3)  # may become 1x#, so it waits
    assert outcome(emulator, "15#") == ("915#", True, 0)  # prefix 9 prepended
    assert outcome(emulator, "555") == ("555", False, 3)
    assert outcome(emulator, "255") == ("255", True, 0)


def test_the_emulator_refuses_what_the_guide_does_not_document():
    good = dial_template("[1-7]xx", 4)
    assert parse_dial_plan(good)
    for bad in (
        b'<DIALTEMPLATE><TEMPLATE MATCH="[1-7].." Timeout="0"/></DIALTEMPLATE>',
        b'<DIALTEMPLATE><TEMPLATE MATCH="1.." Timeout="0" Route="x"/></DIALTEMPLATE>',
        b'<DIALTEMPLATE><TEMPLATE MATCH="1X." Timeout="0"/></DIALTEMPLATE>',
        b'<DIALTEMPLATE><TEMPLATE MATCH="1.." Timeout="soon"/></DIALTEMPLATE>',
        b'<DIALTEMPLATE><TEMPLATE MATCH="1.." Timeout="0" User="sip"/></DIALTEMPLATE>',
        b'<DIALTEMPLATE><RULE MATCH="1.." Timeout="0"/></DIALTEMPLATE>',
        b'<DIALPLAN><TEMPLATE MATCH="1.." Timeout="0"/></DIALPLAN>',
    ):
        with pytest.raises(Refused):
            parse_dial_plan(bad)


def test_a_plan_past_the_templates_the_phone_holds_is_refused_at_apply():
    huge = "911|x[0-8]x[0-8]x[0-8]"  # 9*9*9 = 729 templates
    findings = PLUGIN.check_phone(phone(huge))
    assert [finding.refuse for finding in findings] == [True]
    assert findings[0].message.startswith(
        "dial plan of site hq: 'x[0-8]x[0-8]x[0-8]' expands to 729 patterns, more than the "
        f"7960's {MAX_TEMPLATES} templates"
    )
    # many rules that fit alone but not together are refused too
    together = "|".join(f"{n}[0-8]x" for n in range(10, 22))  # 12 rules of 9
    findings = PLUGIN.check_phone(phone(together, model="7940"))
    assert len(findings) == 1 and findings[0].refuse
    assert "expand to 109 templates with the final catch-all, more than the 7940's" in (
        findings[0].message
    )
    # a plan that does not fit is never written in part: the phone gets the catch-all
    for plan in (huge, together):
        rules = parse_dial_plan(dial_template(plan, 4))
        assert [rule.match for rule in rules] == ["*"]
    # a North American plan fits: 1[2-9]xx[2-9]xxxxxx is 64 templates
    assert PLUGIN.check_phone(phone("1[2-9]xx[2-9]xxxxxx|911")) == []
    assert plan_templates("1[2-9]xx[2-9]xxxxxx").count == 65


def test_rules_with_no_79xx_equivalent_are_warned_about_not_dropped_silently():
    findings = PLUGIN.check_phone(phone("911|(12)|4a|2xx"))
    assert [(finding.refuse, finding.message) for finding in findings] == [
        (False, "dial plan of site hq: '(12)' is left out: groups '(...)' have no 79xx "
                "equivalent; numbers it matches dial after the digit timeout"),
        (False, "dial plan of site hq: '4a' is left out: 'a' is not in the dial plan "
                "notation; numbers it matches dial after the digit timeout"),
    ]  # fmt: skip
    body = dial_template("911|(12)|4a|2xx", 4)
    assert b"<!-- (12): groups" in body and b"<!-- 4a:" in body
    assert [rule.match for rule in parse_dial_plan(body)] == ["911", "2..", "*"]
    assert PLUGIN.check_phone(phone(None)) == [] and PLUGIN.check_phone(phone(SEED_PLAN)) == []


def test_a_rule_asking_for_millions_is_counted_not_built():
    started = time.perf_counter()
    findings = PLUGIN.check_phone(phone("[0-8][0-8][0-8][0-8][0-8][0-8][0-8][0-8][0-8]"))
    assert time.perf_counter() - started < 0.5
    assert "expands to 387,420,489 patterns" in findings[0].message


def test_common_and_stranger_plans_are_the_catch_all():
    ref = FileRef("cisco79xx", "dialplan.xml", FileScope.COMMON)
    rules = parse_dial_plan(PLUGIN.render(ref, None, None))
    assert [(rule.match, rule.timeout, rule.user) for rule in rules] == [("*", 5, None)]
    assert outcome_of(rules, "12345") == ("12345", False, 5)


def outcome_of(rules, keys: str) -> tuple[str, bool, int]:
    result = dial(rules, keys)
    return result.number, result.at_once, result.after
