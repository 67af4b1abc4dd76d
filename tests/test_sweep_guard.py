"""The sweep guard on its own: a fake clock, addresses and MACs in, verdicts out.

End to end (a real ``plugtone serve``, curl, ftplib) is tests/test_sweep.py; here every
rule of the guard is driven exactly: when the one alert of an episode fires, how the
wait grows, when blocking starts and ends, which buckets a request feeds, forgiveness
of a challenged phone, login throttling, bounded memory, and what the default
thresholds do to the traffic a real site makes.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from plugtone.provisioning.sweep_guard import (
    ADDRESS,
    ADDRESSES_MAX,
    EPISODES_MAX,
    NETWORK,
    NETWORKS_MAX,
    PREFIX,
    PREFIXES_MAX,
    SweepGuard,
    network_of,
)
from plugtone.settings import SETTINGS_FILE, SecuritySettings, load_settings

SMALL = SecuritySettings(
    sweep_seconds=100.0, sweep_alert=10, sweep_block=30, sweep_prefix_alert=50,
    sweep_prefix_block=100, sweep_delay_max=1.0, block_seconds=60.0,
    login_failures_before_delay=3, login_delay_max=30.0, login_block=10, login_seconds=100.0,
)  # fmt: skip
"""Small thresholds: the leak is 0.1 a second for addresses and networks."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def guard_with(settings: SecuritySettings = SMALL) -> tuple[SweepGuard, Clock]:
    clock = Clock()
    return SweepGuard(settings, clock), clock


def mac(index: int, prefix: str = "00085D") -> str:
    return f"{prefix}{index:06X}"


def sweep(guard: SweepGuard, address: str, count: int, start: int = 0, **flags):
    """``count`` strangers' requests for per-device names from ``address``."""
    flags.setdefault("personal", True)
    return [guard.check(address, mac(start + i), **flags) for i in range(count)]


def test_one_sweeper_raises_one_alert_then_is_slowed_then_blocked():
    guard, _ = guard_with()
    verdicts = sweep(guard, "192.0.2.7", 200)
    alerts = [v.alert for v in verdicts if v.alert is not None]
    assert len(alerts) == 1  # not one for its /24 nor its prefix as well
    assert (alerts[0].kind, alerts[0].source) == (ADDRESS, "192.0.2.7")
    assert verdicts[9].alert is alerts[0] and all(v.alert is None for v in verdicts[:9])
    assert "192.0.2.7" in alerts[0].detail and "10 per-device names" in alerts[0].detail
    assert len(alerts[0].detail) <= 255
    assert all(v.delay == 0 and not v.blocked for v in verdicts[:9])
    slowed = [v.delay for v in verdicts[9:29]]
    assert all(0 < d <= 1.0 for d in slowed) and slowed == sorted(slowed)  # growing, capped
    assert slowed[0] < 0.1 and slowed[-1] == 1.0
    assert all(v.blocked for v in verdicts[29:])
    assert guard.counters.alerts == 1
    assert guard.counters.slowed == 20 and guard.counters.blocked == 171
    assert guard.counters.stranger_answers == 200
    assert not guard.in_episode(NETWORK, "192.0.2.0/24") and not guard.in_episode(PREFIX, "00085D")
    # its non-suspicious stranger requests are blocked too; another address is not
    assert guard.check("192.0.2.7", None).blocked
    assert guard.check("198.51.100.1", mac(5000), personal=True) == (0.0, False, None)
    # but never a privileged request: phones behind the same NAT keep working
    assert guard.check("192.0.2.7", mac(1), privileged=True) == (0.0, False, None)
    unknown = guard.check("192.0.2.7", mac(99_999), unknown_mac=True, privileged=True)
    assert not unknown.blocked and unknown.delay == 0
    assert guard.counters.unknown_macs == 1  # ... though it still counts


def test_the_block_lasts_block_seconds_and_the_episode_ends_once_drained():
    guard, clock = guard_with()
    sweep(guard, "192.0.2.7", 30)  # the 30th is blocked: block starts now
    clock.advance(59)
    assert guard.check("192.0.2.7", None).blocked  # still within block_seconds
    clock.advance(2)
    # the block expired; the bucket (30 - 61 * 0.1 = 23.9) is below the block
    # threshold, so it is slowed again, and no new alert: the same episode
    later = guard.check("192.0.2.7", mac(500), personal=True)
    assert not later.blocked and later.delay > 0 and later.alert is None
    assert guard.in_episode(ADDRESS, "192.0.2.7")
    clock.advance(250)  # drained empty: the episode is over
    assert not guard.in_episode(ADDRESS, "192.0.2.7")
    assert guard.check("192.0.2.7", None) == (0.0, False, None)
    again = sweep(guard, "192.0.2.7", 10, start=1000)
    assert again[-1].alert is not None and guard.counters.alerts == 2


def test_a_sweeper_that_keeps_going_stays_blocked_without_new_alerts():
    guard, clock = guard_with()
    sweep(guard, "192.0.2.7", 40)
    for _ in range(30):  # a request every 5 s (twice the leak): the bucket stays full,
        clock.advance(5)  # and the block is renewed as it expires
        assert guard.check("192.0.2.7", mac(7), personal=True).blocked
    assert guard.counters.alerts == 1


def test_addresses_of_one_network_raise_one_alert_each_and_one_for_the_network():
    guard, _ = guard_with()
    alerts = []
    for host in (2, 3, 4, 5):
        alerts += [v.alert for v in sweep(guard, f"127.0.0.{host}", 100) if v.alert]
    sources = sorted((alert.kind, alert.source) for alert in alerts)
    assert sources == [(ADDRESS, "127.0.0.2"), (ADDRESS, "127.0.0.3"), (ADDRESS, "127.0.0.4"),
                       (ADDRESS, "127.0.0.5"), (NETWORK, "127.0.0.0/24")]  # fmt: skip
    # the network's episode blocks strangers from addresses of it that never swept
    assert guard.check("127.0.0.9", None).blocked
    assert not guard.in_episode(PREFIX, "00085D")  # fed by none of it: one alert per sweeper


def test_a_sweep_spread_over_networks_raises_the_vendor_prefix_alert():
    guard, _ = guard_with()
    alerts = []
    for network in range(12):  # 5 requests from each of 12 networks: each stays quiet
        for host in range(1, 6):
            verdict = guard.check(f"10.{network}.0.{host}", mac(network * 10 + host),
                                  personal=True)  # fmt: skip
            alerts += [verdict.alert] if verdict.alert else []
    assert [(a.kind, a.source) for a in alerts] == [(PREFIX, "00085D")]
    assert "vendor prefix 00085D" in alerts[0].detail
    fresh = guard.check("203.0.113.9", mac(77), personal=True)
    assert fresh.delay > 0  # strangers naming the prefix are slowed, from anywhere
    assert guard.check("203.0.113.9", "0004F2000607", personal=True).delay == 0
    assert guard.check("203.0.113.9", None).delay == 0  # naming no MAC: not that source


def test_unknown_macs_from_trusted_networks_and_failed_credentials_count():
    guard, _ = guard_with()
    verdicts = [guard.check("10.1.1.1", mac(i), unknown_mac=True, privileged=True)
                for i in range(10)]  # fmt: skip
    assert verdicts[-1].alert is not None and not any(v.blocked or v.delay for v in verdicts)
    failed = [guard.check("10.2.2.2", mac(1), auth_failed=True) for _ in range(40)]
    assert failed[9].alert is not None and failed[-1].blocked
    assert guard.counters.failed_credentials == 40 and guard.counters.unknown_macs == 10


def test_phones_that_answer_their_challenge_are_forgiven():
    guard, clock = guard_with()
    for index in range(200):  # 200 phones with their own logins behind one NAT, booting
        guard.check("198.51.100.1", mac(index), personal=True)  # the challenged request
        clock.advance(0.05)
        assert guard.check("198.51.100.1", mac(index), privileged=True) == (0.0, False, None)
    assert guard.counters.alerts == 0 and guard.counters.forgiven == 200
    # a proof that comes too late, or for another MAC, forgives nothing
    guard.check("198.51.100.1", mac(500), personal=True)
    guard.check("198.51.100.1", mac(501), privileged=True)
    clock.advance(31)
    guard.check("198.51.100.1", mac(500), privileged=True)
    assert guard.counters.forgiven == 200


def test_network_of():
    assert network_of("192.0.2.77") == "192.0.2.0/24"
    assert network_of("::ffff:192.0.2.77") == "192.0.2.0/24"
    assert network_of("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert network_of("fe80::1%eth0") == "fe80::/64"
    assert network_of("not an address") is None and network_of("1.2.3") is None


def test_ipv6_sweepers_share_their_64():
    guard, _ = guard_with()
    alerts = []
    for host in range(1, 4):
        alerts += [v.alert for v in sweep(guard, f"2001:db8:0:1::{host:x}", 15) if v.alert]
    assert sorted(a.source for a in alerts) == [
        "2001:db8:0:1::/64", "2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:1::3",
    ]  # fmt: skip


def test_memory_stays_bounded_under_made_up_sources():
    guard, clock = guard_with(replace(SMALL, sweep_alert=2, sweep_block=3))
    generator = random.Random(11)
    for _ in range(30_000):  # twice as many addresses as are kept
        address = ".".join(str(generator.randrange(256)) for _ in range(4))
        made_up = f"{generator.getrandbits(48):012X}"
        guard.check(address, made_up, personal=True)
        guard.check(address, made_up, unknown_mac=True)
        guard.check(address, made_up, auth_failed=True)
        clock.advance(0.001)
    for kind, bound in ((ADDRESS, ADDRESSES_MAX), (NETWORK, NETWORKS_MAX),
                        (PREFIX, PREFIXES_MAX)):  # fmt: skip
        assert len(guard.kinds[kind].counts) <= bound
        assert len(guard.kinds[kind].episodes) <= EPISODES_MAX
    assert len(guard.challenges) <= guard.challenges.size
    for index in range(10_000):
        guard.login_finished(f"10.9.{index // 256}.{index % 256}", f"user{index}", False)
    assert len(guard._login_addresses) <= guard._login_addresses.size
    assert len(guard._login_accounts) <= guard._login_accounts.size


# -- the defaults, on the traffic of real sites


def test_defaults_a_rebooting_site_of_strangers_alerts_and_its_trusted_phones_never_wait():
    guard, clock = guard_with(SecuritySettings())
    alert_at = None
    for index in range(200):  # 200 stranger phones behind one NAT, back within a minute
        clock.advance(0.3)
        verdict = guard.check("203.0.113.50", mac(index), personal=True)
        if verdict.alert is not None:
            alert_at = index
        # trusted phones behind the same NAT (another port rule, the same address)
        assert guard.check("203.0.113.50", mac(10_000 + index), privileged=True).delay == 0
    assert alert_at is not None and guard.counters.alerts == 1
    assert alert_at < 150  # the leak (a third a second) is outpaced by 3.3 names a second


def test_defaults_a_sequential_sweeper_is_slowed_to_a_crawl_then_blocked():
    guard, clock = guard_with(SecuritySettings())
    blocked_after = None
    for index in range(5_000):  # curl fetching 00085D000000 ... one after the other
        verdict = guard.check("192.0.2.66", mac(index), personal=True)
        if verdict.blocked:
            blocked_after = clock.now - 1000.0
            break
        clock.advance(0.002 + verdict.delay)  # 2 ms a request, plus what it is made to wait
    assert blocked_after is not None
    assert 20 < blocked_after < 90  # "within about a minute" (SecuritySettings.sweep_block)
    assert index < 500  # a few hundred names, instead of the 2,000 in 4 s it asked for


def test_defaults_login_throttle():
    guard, _ = guard_with(SecuritySettings())
    delays = []
    for _ in range(10):
        delays.append(guard.login_attempt("192.0.2.1", "phone-login"))
        assert guard.login_admit("192.0.2.1")
        guard.login_finished("192.0.2.1", "phone-login", False)
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16, 30, 30]


# -- logins


def test_login_failures_delay_then_refuse_the_address_and_only_delay_the_account():
    guard, clock = guard_with()
    waits = []
    for _ in range(10):
        wait = guard.login_attempt("192.0.2.9", "alice")
        waits.append(wait)
        assert guard.login_admit("192.0.2.9")
        refused = guard.login_finished("192.0.2.9", "alice", False)
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 30, 30] and refused  # 10th failure: refused
    assert guard.login_attempt("192.0.2.9", None) is None  # even a gate login, for a while
    assert guard.counters.refused_logins == 1
    # the account is delayed from anywhere, never refused
    assert guard.login_attempt("198.51.100.3", "alice") == 30
    guard.login_finished("198.51.100.3", "alice", True)
    # another account from another address: nothing
    assert guard.login_attempt("198.51.100.4", "bob") == 0
    guard.login_finished("198.51.100.4", "bob", True)
    clock.advance(61)  # block_seconds passed, and 6.1 failures leaked away: 3.9 are left,
    assert guard.login_attempt("192.0.2.9", None) == 1  # past the free three: 1 s, no refusal
    guard.login_finished("192.0.2.9", None, True)
    assert guard.counters.login_failures == 10 and guard.counters.throttled_logins >= 6


def test_gate_logins_are_not_counted_per_account():
    guard, _ = guard_with()
    for host in range(1, 20):  # wrong factory passwords from many addresses
        assert guard.login_attempt(f"10.0.0.{host}", None) == 0
        guard.login_admit(f"10.0.0.{host}")
        guard.login_finished(f"10.0.0.{host}", None, False)
    assert guard.login_attempt("10.0.1.1", None) == 0  # a phone elsewhere is not slowed


def test_parallel_attempts_cannot_share_one_wait():
    guard, _ = guard_with()
    waits = [guard.login_attempt("192.0.2.10", None) for _ in range(100)]
    assert waits[:3] == [0, 0, 0] and waits[3:8] == [1, 2, 4, 8, 16] and set(waits[8:]) == {30}
    # all waited; only login_block of them may be checked at once, the rest are refused
    admitted = [guard.login_admit("192.0.2.10") for _ in range(100)]
    assert admitted.count(True) == SMALL.login_block
    for was_admitted in admitted:
        guard.login_finished("192.0.2.10", None, False if was_admitted else None,
                             admitted=was_admitted)  # fmt: skip
    assert guard.login_attempt("192.0.2.10", None) is None


def test_abandoned_attempts_are_not_failures():
    guard, _ = guard_with()
    for _ in range(20):
        guard.login_attempt("192.0.2.11", "carol")
        guard.login_finished("192.0.2.11", "carol", None, admitted=False)
    assert guard.login_attempt("192.0.2.11", "carol") == 0
    assert guard.counters.login_failures == 0


# -- settings


def test_security_thresholds_are_read_and_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("PLUGTONE_TRUSTED_NETWORKS", raising=False)
    (tmp_path / SETTINGS_FILE).write_text(
        "[security]\nsweep_alert = 5\nsweep_block = 9\nsweep_delay_max = 0.5\n"
        "block_seconds = 30\nlogin_block = 7\n"
    )
    security = load_settings(str(tmp_path)).security
    assert (security.sweep_alert, security.sweep_block, security.login_block) == (5, 9, 7)
    assert security.block_seconds == 30.0 and isinstance(security.block_seconds, float)
    assert security.sweep_seconds == SecuritySettings().sweep_seconds  # unset: the default
    for bad, message in (
        ("sweep_alert = 0", "sweep_alert must be at least 1"),
        ("sweep_alert = 2.5", "sweep_alert must be a whole number"),
        ('sweep_seconds = "60"', "sweep_seconds must be a number"),
        ("sweep_alert = 400", "sweep_block must be above sweep_alert"),
        ("sweep_prefix_block = 10", "sweep_prefix_block must be above sweep_prefix_alert"),
    ):
        (tmp_path / SETTINGS_FILE).write_text(f"[security]\n{bad}\n")
        with pytest.raises(SystemExit, match=message):
            load_settings(str(tmp_path))
