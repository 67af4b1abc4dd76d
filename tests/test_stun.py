"""Classic STUN (RFC 3489) with TR-111's attributes: a real client (Vovida ``stun`` from
Debian's stun-client) against the asyncio server, and datagrams built from the RFC's
layout for what that client never sends (USERNAME, MESSAGE-INTEGRITY, the TR-111
attributes, RFC 5389 IDs, hostile input)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import shutil
import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugtone.protocols import stun as s
from plugtone.servers.stun import StunListener

SERVER = ("192.0.2.10", 3478)
ALTERNATE = ("192.0.2.11", 3479)
CPE = ("198.51.100.7", 40123)
CLASSIC_ID = bytes(range(16))
COOKIE_ID = s.MAGIC_COOKIE.to_bytes(4, "big") + bytes(range(12))


def request(attributes, transaction_id=CLASSIC_ID, key=None, kind=s.MessageType.BINDING_REQUEST):
    return s.build_message(kind, transaction_id, attributes, integrity_key=key)


def tr111(username: bytes | None = b"00085D0A0B0C", change: bool = False):
    attributes = [(s.Attr.CONNECTION_REQUEST_BINDING, s.TR111_BINDING)]
    if change:
        attributes.append((s.Attr.BINDING_CHANGE, b""))
    if username is not None:
        attributes.insert(0, (s.Attr.USERNAME, username))
    return attributes


def server(**options) -> s.StunServer:
    passwords = {"00085D0A0B0C": "stun-pass"}
    return s.StunServer(SERVER, alternate=ALTERNATE, password_for=passwords.get, **options)


def answer(reply: s.StunReply) -> s.StunMessage:
    return s.parse_message(reply.datagram)


def error_code(message: s.StunMessage) -> int:
    value = message.get(s.Attr.ERROR_CODE)
    return value[2] * 100 + value[3]


def test_binding_response_layout_and_the_learned_binding():
    reply = server().handle(request(tr111()), CPE)
    message = answer(reply)
    assert message.type == s.MessageType.BINDING_RESPONSE
    assert message.transaction_id == CLASSIC_ID
    assert s.decode_address(message.get(s.Attr.MAPPED_ADDRESS)) == CPE
    assert s.decode_address(message.get(s.Attr.SOURCE_ADDRESS)) == SERVER
    assert s.decode_address(message.get(s.Attr.CHANGED_ADDRESS)) == ALTERNATE
    assert message.get(s.Attr.XOR_MAPPED_ADDRESS) is None  # RFC 3489 ID: classic answer
    assert reply.destination == CPE
    assert reply.binding == s.BindingLearned(
        CPE, "00085D0A0B0C", authenticated=False, tr111=True, binding_change=False
    )
    # the whole answer, byte by byte, as RFC 3489 §11.1 lays it out
    assert reply.datagram[:4] == struct.pack("!HH", 0x0101, 36)
    assert reply.datagram[20:32] == struct.pack("!HHBBH", 1, 8, 0, 1, CPE[1]) + bytes(
        [198, 51, 100, 7]
    )


def test_binding_change_from_a_known_user_needs_message_integrity():
    stun = server()
    refused = answer(stun.handle(request(tr111(change=True)), CPE))
    assert refused.type == s.MessageType.BINDING_ERROR_RESPONSE
    assert error_code(refused) == 401

    reply = stun.handle(request(tr111(change=True), key=b"stun-pass"), CPE)
    message = answer(reply)
    assert message.type == s.MessageType.BINDING_RESPONSE
    assert reply.binding.authenticated and reply.binding.binding_change
    # the answer is signed with the same key, RFC 3489 style (text padded to 64 bytes)
    integrity = message.get(s.Attr.MESSAGE_INTEGRITY)
    signed = reply.datagram[:-24]
    expected = hmac.new(b"stun-pass", signed + b"\0" * (-len(signed) % 64), hashlib.sha1)
    assert integrity == expected.digest()

    wrong = answer(stun.handle(request(tr111(change=True), key=b"guess"), CPE))
    assert error_code(wrong) == 431
    anonymous = answer(stun.handle(request(tr111(username=None), key=b"stun-pass"), CPE))
    assert error_code(anonymous) == 432


def test_binding_change_of_unknown_users_or_with_integrity_not_required():
    reply = server().handle(request(tr111(username=b"stranger", change=True)), CPE)
    assert reply.binding == s.BindingLearned(CPE, "stranger", False, True, True)
    relaxed = server(require_integrity_on_change=False)
    reply = relaxed.handle(request(tr111(change=True)), CPE)
    assert answer(reply).type == s.MessageType.BINDING_RESPONSE
    assert not reply.binding.authenticated


def test_rfc5389_requests_get_xor_mapped_address_and_5389_integrity():
    username = b"00085D0A0B0C"  # 12 bytes: no padding needed
    attributes = [(s.Attr.USERNAME, username + b"x"), (s.Attr.BINDING_CHANGE, b"")]
    body = b"".join(
        struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)
        for kind, value in attributes
    )
    # RFC 5389 §15.4: HMAC over the message with the length counting MESSAGE-INTEGRITY
    head = struct.pack("!HH", 1, len(body) + 24) + COOKIE_ID
    digest = hmac.new(b"pw", head + body, hashlib.sha1).digest()
    datagram = head + body + struct.pack("!HH", 8, 20) + digest
    stun = s.StunServer(SERVER, password_for={"00085D0A0B0Cx": "pw"}.get)
    reply = stun.handle(datagram, ("2001:db8::7", 5000))
    message = answer(reply)
    assert message.type == s.MessageType.BINDING_RESPONSE
    assert reply.binding.authenticated
    assert reply.binding.username == "00085D0A0B0Cx"
    xor = message.get(s.Attr.XOR_MAPPED_ADDRESS)
    assert s.decode_address(xor, xor_with=COOKIE_ID) == ("2001:db8::7", 5000)
    assert s.decode_address(message.get(s.Attr.MAPPED_ADDRESS)) == ("2001:db8::7", 5000)
    # no alternate address: CHANGED-ADDRESS is the server itself
    assert s.decode_address(message.get(s.Attr.CHANGED_ADDRESS)) == SERVER


def test_usernames_padded_with_nuls_or_spaces_and_unpadded_classic_attributes():
    reply = server().handle(request(tr111(username=b"00085D0A0B0C\0\0\0\0")), CPE)
    assert reply.binding.username == "00085D0A0B0C"
    # an RFC 3489 CPE that did not pad a 5-byte USERNAME (and put nothing after it)
    datagram = struct.pack("!HH", 1, 9) + CLASSIC_ID + struct.pack("!HH", 6, 5) + b"phone"
    assert server().handle(datagram, CPE).binding.username == "phone"
    # ... or padded it as RFC 5389 does, followed by another attribute
    body = struct.pack("!HH", 6, 5) + b"phone\0\0\0" + struct.pack("!HH", 0xC002, 0)
    datagram = struct.pack("!HH", 1, len(body)) + CLASSIC_ID + body
    reply = server().handle(datagram, CPE)
    assert (reply.binding.username, reply.binding.binding_change) == ("phone", True)


def test_change_request_flags_and_response_address_is_not_obeyed():
    change_both = (s.Attr.CHANGE_REQUEST, struct.pack("!I", 0x06))
    elsewhere = (s.Attr.RESPONSE_ADDRESS, s.encode_address(("203.0.113.99", 53)))
    reply = server().handle(request([change_both, elsewhere]), CPE)
    assert (reply.change_ip, reply.change_port) == (True, True)
    assert reply.destination == CPE
    assert s.decode_address(answer(reply).get(s.Attr.SOURCE_ADDRESS)) == ALTERNATE
    alone = s.StunServer(SERVER)
    reply = alone.handle(request([change_both]), CPE)
    assert (reply.change_ip, reply.change_port) == (False, False)


def test_unknown_comprehension_required_attributes_get_420():
    message = answer(server().handle(request([(0x0777, b"abcd"), (0x7FFE, b"")]), CPE))
    assert error_code(message) == 420
    assert message.get(s.Attr.UNKNOWN_ATTRIBUTES) == struct.pack("!HH", 0x0777, 0x7FFE)
    # comprehension-optional ones (0x8000 and up) are ignored
    ok = answer(server().handle(request([(0x8123, b"zz")]), CPE))
    assert ok.type == s.MessageType.BINDING_RESPONSE


def test_shared_secret_requests_are_told_to_use_tls():
    message = answer(server().handle(request([], kind=s.MessageType.SHARED_SECRET_REQUEST), CPE))
    assert message.type == s.MessageType.SHARED_SECRET_ERROR_RESPONSE
    assert error_code(message) == 433


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\x00\x01\x00\x00",
        struct.pack("!HH", 1, 4) + CLASSIC_ID,  # length says 4, nothing follows
        struct.pack("!HH", 1, 0) + CLASSIC_ID + b"xx",  # trailing bytes
        struct.pack("!HH", 0x0101, 0) + CLASSIC_ID,  # a response: never answered
        struct.pack("!HH", 0x0111, 0) + CLASSIC_ID,
        struct.pack("!HH", 0xC001, 0) + CLASSIC_ID,  # top bits set: not STUN
        struct.pack("!HH", 1, 4) + CLASSIC_ID + struct.pack("!HH", 6, 400),  # overrun
        struct.pack("!HH", 1, 2100) + CLASSIC_ID + b"\0" * 2100,  # too large
        b"GET / HTTP/1.1\r\n\r\n",
    ],
)
def test_hostile_datagrams_get_no_answer(datagram):
    assert server().handle(datagram, CPE) is None


def test_bad_attribute_values_get_400():
    short_change = request([(s.Attr.CHANGE_REQUEST, b"\x00\x06")])
    assert error_code(answer(server().handle(short_change, CPE))) == 400
    long_name = request([(s.Attr.USERNAME, b"u" * 600)])
    assert error_code(answer(server().handle(long_name, CPE))) == 400


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda attrs, tid: request(attrs, tid),
            st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=6),
            st.sampled_from([CLASSIC_ID, COOKIE_ID]),
        ),
    )
)
def test_arbitrary_datagrams_never_raise(datagram):
    reply = server().handle(datagram, CPE)
    if reply is not None:
        assert reply.destination == CPE
        assert s.parse_message(reply.datagram).transaction_id == datagram[4:20]
        assert len(reply.datagram) <= 20 + 80 + 40  # no amplification beyond a few fields


def test_answer_budget_per_source():
    budget = s.AnswerBudget(rate=1.0, burst=3.0, max_sources=2)
    assert [budget.allow("203.0.113.1", 0.0) for _ in range(4)] == [True, True, True, False]
    assert budget.allow("203.0.113.2", 0.0)  # another source has its own bucket
    assert budget.allow("203.0.113.1", 1.0)  # one token back after a second
    assert not budget.allow("203.0.113.1", 1.0)
    budget.allow("203.0.113.3", 1.0)  # a third source: the least recent one is forgotten
    assert len(budget._buckets) == 2


# --------------------------------------------------------------------------------------
# The asyncio server, with a real client
# --------------------------------------------------------------------------------------


def test_the_vovida_stun_client_finds_an_open_internet_through_all_rfc3489_tests():
    assert shutil.which("stun"), "Debian's stun-client (scripts/test installs it)"

    async def run():
        learned = []
        listener = await StunListener.start(
            "127.0.0.1", 0, alternate=("127.0.0.2", 0), on_binding=learned.append
        )
        try:
            process = await asyncio.create_subprocess_exec(
                "stun",
                f"127.0.0.1:{listener.address[1]}",
                "-v",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            out, _ = await asyncio.wait_for(process.communicate(), 30)
        finally:
            listener.close()
        return process.returncode, out.decode(), learned

    returncode, out, learned = asyncio.run(run())
    # tests I (plain), II (change IP and port), III (change port) all answered
    assert "test I = 1" in out
    assert "test II = 1" in out
    assert "test III = 1" in out
    assert "Primary: Open" in out
    assert returncode == 1  # the client's code for "open"
    assert f"MappedAddress = 127.0.0.1:{learned[0].address[1]}" in out
    assert all(binding.address[0] == "127.0.0.1" for binding in learned)


def test_listener_reports_tr111_bindings_and_sends_from_its_own_port():
    async def run():
        learned = []
        listener = await StunListener.start(
            "127.0.0.1", 0, on_binding=learned.append, password_for={"cpe-9": "pw"}.get
        )
        cpe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cpe.bind(("127.0.0.1", 0))
        cpe.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            cpe.sendto(b"junk", listener.address)
            listener.budget = s.AnswerBudget(rate=0.001, burst=3)
            cpe.sendto(request(tr111(username=b"cpe-9", change=True), key=b"pw"), listener.address)
            answer_bytes = await asyncio.wait_for(loop.sock_recv(cpe, 2048), 5)
            listener.sendto(b"GET http://x?ts=1 HTTP/1.1\r\n\r\n", cpe.getsockname())
            data, source = await asyncio.wait_for(loop.sock_recvfrom(cpe, 2048), 5)
            for _ in range(3):  # a flood from one source: the budget (3) is spent
                cpe.sendto(request(tr111(username=b"cpe-9")), listener.address)
            await asyncio.sleep(0.2)
        finally:
            cpe.close()
            listener.close()
        return learned, answer_bytes, data, source, listener

    learned, answer_bytes, data, source, listener = asyncio.run(run())
    message = s.parse_message(answer_bytes)
    assert message.type == s.MessageType.BINDING_RESPONSE
    # the signed binding change, then the one flood request the budget still allowed
    assert learned[0] == s.BindingLearned(learned[0].address, "cpe-9", True, True, True)
    assert len(learned) == 2
    assert data.startswith(b"GET http://x")
    assert source == listener.address
    assert (listener.requests, listener.dropped, listener.limited) == (5, 1, 2)
