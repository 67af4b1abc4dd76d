"""Tests for the sans-IO TFTP core: every scenario is a list of packets and fake times."""

from __future__ import annotations

import gc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugtone.protocols.tftp import (
    DEFAULT_LIMITS,
    MAX_BLKSIZE,
    MAX_DATAGRAM,
    Ack,
    Action,
    Data,
    Error,
    ErrorCode,
    Finished,
    Limits,
    NegotiatedOptions,
    OptionAck,
    Outcome,
    Packet,
    PacketError,
    ReadRequest,
    ReadTransfer,
    Received,
    Refused,
    Send,
    WriteRequest,
    WriteTransfer,
    bytes_source,
    decode,
    encode,
    error_packet,
    is_request,
    negotiate,
    netascii_decode,
    netascii_encode,
    netascii_size,
    reject_request,
)

# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def sent(actions: list[Action]) -> list[Packet]:
    """Decoded datagrams the actions ask to send."""
    return [decode(action.datagram) for action in actions if isinstance(action, Send)]


def finish_of(actions: list[Action]) -> Finished | None:
    found = [action for action in actions if isinstance(action, Finished)]
    assert len(found) <= 1
    return found[0] if found else None


def finished_of(actions: list[Action]) -> Finished:
    finished = finish_of(actions)
    assert finished is not None, "the transfer did not finish"
    return finished


def error_of(actions: list[Action]) -> Error:
    """The single datagram sent, which must be an ERROR."""
    [packet] = sent(actions)
    assert isinstance(packet, Error)
    return packet


def data_of(actions: list[Action]) -> list[Data]:
    packets = sent(actions)
    assert all(isinstance(packet, Data) for packet in packets)
    return [packet for packet in packets if isinstance(packet, Data)]


def data_blocks(actions: list[Action]) -> list[int]:
    return [packet.block for packet in sent(actions) if isinstance(packet, Data)]


def pattern(size: int) -> bytes:
    """Deterministic content where a misplaced block would be noticed."""
    unit = bytes(range(251))  # a prime length, so blocks never line up with the pattern
    return (unit * (size // len(unit) + 1))[:size]


def options(requested: dict[str, str], size: int | None = None, **limits: int) -> NegotiatedOptions:
    result = negotiate(requested, size, Limits(**limits) if limits else DEFAULT_LIMITS)
    assert isinstance(result, NegotiatedOptions)
    return result


def download(transfer: ReadTransfer, now: float = 0.0) -> tuple[bytes, Finished, list[int]]:
    """A lossless client: answers the OACK, acknowledges the last block of each burst."""
    actions = transfer.start(now)
    content = bytearray()
    wire_blocks: list[int] = []
    while (finished := finish_of(actions)) is None:
        packets = sent(actions)
        assert packets, "the server stalled without a timeout"
        if isinstance(packets[0], OptionAck):
            actions = transfer.receive(Ack(0), now)
            continue
        for packet in packets:
            assert isinstance(packet, Data)
            content += packet.payload
            wire_blocks.append(packet.block)
        actions = transfer.receive(Ack(wire_blocks[-1]), now)
    return bytes(content), finished, wire_blocks


def upload(transfer: WriteTransfer, wire: bytes, blksize: int, now: float = 0.0) -> list[Action]:
    """A lossless client sending ``wire`` in blocks; returns every action the server took."""
    log = transfer.start(now)
    chunks = [wire[offset : offset + blksize] for offset in range(0, len(wire), blksize)]
    if not chunks or len(chunks[-1]) == blksize:
        chunks.append(b"")
    for index, chunk in enumerate(chunks, start=1):
        log += transfer.receive(Data(index % 65536, chunk), now)
    return log


# --------------------------------------------------------------------------------------
# Codec
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("packet", "wire"),
    [
        (ReadRequest("a.cfg", "octet"), b"\x00\x01a.cfg\x00octet\x00"),
        (
            ReadRequest("a.cfg", "netascii", {"blksize": "1428", "tsize": "0"}),
            b"\x00\x01a.cfg\x00netascii\x00blksize\x001428\x00tsize\x000\x00",
        ),
        (
            WriteRequest("log.txt", "octet", {"tsize": "12"}),
            b"\x00\x02log.txt\x00octet\x00tsize\x0012\x00",
        ),
        (Data(1, b"abc"), b"\x00\x03\x00\x01abc"),
        (Data(65535, b""), b"\x00\x03\xff\xff"),
        (Ack(0), b"\x00\x04\x00\x00"),
        (Ack(258), b"\x00\x04\x01\x02"),
        (Error(ErrorCode.FILE_NOT_FOUND, "nope"), b"\x00\x05\x00\x01nope\x00"),
        (Error(0, ""), b"\x00\x05\x00\x00\x00"),
        (OptionAck({"blksize": "512"}), b"\x00\x06blksize\x00512\x00"),
    ],
)
def test_encode_decode_round_trip(packet: Packet, wire: bytes) -> None:
    assert encode(packet) == wire
    assert decode(wire) == packet


def test_decode_lowercases_mode_and_option_names_but_not_values() -> None:
    packet = decode(b"\x00\x01Dir/File.CFG\x00NetAscii\x00BLKSIZE\x001024\x00X-Opt\x00MiXeD\x00")
    assert packet == ReadRequest("Dir/File.CFG", "netascii", {"blksize": "1024", "x-opt": "MiXeD"})


def test_decode_accepts_mail_mode_and_keeps_option_order() -> None:
    packet = decode(b"\x00\x02f\x00MAIL\x00b\x001\x00a\x002\x00")
    assert isinstance(packet, WriteRequest)
    assert packet.mode == "mail"
    assert list(packet.options) == ["b", "a"]


def test_decode_accepts_bytearray_and_memoryview() -> None:
    assert decode(bytearray(b"\x00\x04\x00\x07")) == Ack(7)
    assert decode(memoryview(b"\x00\x04\x00\x07")) == Ack(7)


def test_decode_error_with_unknown_code_and_non_ascii_text() -> None:
    packet = decode(b"\x00\x05\x01\x00caf\xe9\x00trailing")
    assert isinstance(packet, Error)
    assert packet.code == 256
    assert packet.message.startswith("caf")


def test_decode_error_code_becomes_enum_member() -> None:
    packet = decode(b"\x00\x05\x00\x08no\x00")
    assert isinstance(packet, Error)
    assert packet.code is ErrorCode.OPTION_REFUSED


def test_data_block_zero_is_legal_after_rollover() -> None:
    assert decode(b"\x00\x03\x00\x00xyz") == Data(0, b"xyz")


def test_largest_data_packet_is_accepted() -> None:
    wire = b"\x00\x03\x00\x01" + b"x" * MAX_BLKSIZE
    assert len(wire) == MAX_DATAGRAM
    assert decode(wire) == Data(1, b"x" * MAX_BLKSIZE)


MALFORMED = {
    "empty": b"",
    "one byte": b"\x00",
    "opcode zero": b"\x00\x00abc\x00octet\x00",
    "opcode seven": b"\x00\x07",
    "opcode 0xffff": b"\xff\xff\x00\x00",
    "rrq without any NUL": b"\x00\x01file",
    "rrq mode not terminated": b"\x00\x01file\x00octet",
    "rrq without mode": b"\x00\x01file\x00",
    "rrq empty body": b"\x00\x01",
    "rrq empty filename": b"\x00\x01\x00octet\x00",
    "rrq non-ascii filename": b"\x00\x01fi\xc3\xa9\x00octet\x00",
    "rrq NUL inside filename": b"\x00\x01fi\x00le\x00octet\x00",
    "rrq unknown mode": b"\x00\x01file\x00binary\x00",
    "rrq empty mode": b"\x00\x01file\x00\x00",
    "rrq non-ascii mode": b"\x00\x01file\x00oct\xffet\x00",
    "rrq odd option strings": b"\x00\x01file\x00octet\x00blksize\x00",
    "rrq option value not terminated": b"\x00\x01file\x00octet\x00blksize\x00512",
    "rrq duplicate option": b"\x00\x01file\x00octet\x00tsize\x000\x00tsize\x000\x00",
    "rrq duplicate option any case": b"\x00\x01f\x00octet\x00BlkSize\x008\x00blksize\x009\x00",
    "rrq empty option name": b"\x00\x01file\x00octet\x00\x00512\x00",
    "rrq non-ascii option name": b"\x00\x01file\x00octet\x00bl\xe9\x001\x00",
    "rrq non-ascii option value": b"\x00\x01file\x00octet\x00blksize\x00\xb5\x00",
    "rrq trailing NUL padding": b"\x00\x01file\x00octet\x00\x00",
    "wrq without NUL": b"\x00\x02file",
    "wrq empty filename": b"\x00\x02\x00octet\x00",
    "data without block": b"\x00\x03\x00",
    "data too long": b"\x00\x03\x00\x01" + b"x" * (MAX_BLKSIZE + 1),
    "ack too short": b"\x00\x04\x00",
    "ack too long": b"\x00\x04\x00\x01\x00",
    "ack without block": b"\x00\x04",
    "error too short": b"\x00\x05\x00\x01",
    "error without NUL": b"\x00\x05\x00\x01oops",
    "oack empty": b"\x00\x06",
    "oack only NUL": b"\x00\x06\x00",
    "oack not terminated": b"\x00\x06blksize\x00512",
    "oack odd": b"\x00\x06blksize\x00",
    "oack duplicate": b"\x00\x06tsize\x001\x00TSIZE\x002\x00",
    "huge request": b"\x00\x01" + b"a" * MAX_DATAGRAM + b"\x00octet\x00",
}


@pytest.mark.parametrize("datagram", list(MALFORMED.values()), ids=list(MALFORMED))
def test_decode_rejects_malformed(datagram: bytes) -> None:
    with pytest.raises(PacketError) as info:
        decode(datagram)
    assert info.value.code is ErrorCode.ILLEGAL_OPERATION
    assert isinstance(info.value, ValueError)
    assert info.value.message


@pytest.mark.parametrize(
    ("packet", "match"),
    [
        (ReadRequest("", "octet"), "filename must not be empty"),
        (ReadRequest("a\0b", "octet"), "filename must not contain NUL"),
        (ReadRequest("caf\u00e9", "octet"), "filename must be ASCII"),
        (ReadRequest("file", "binary"), "unknown transfer mode"),
        (ReadRequest("file", "octet", {"bad\0name": "1"}), "option name must not contain NUL"),
        (ReadRequest("file", "octet", {"": "1"}), "option name must not be empty"),
        (ReadRequest("file", "octet", {"blksize": "1", "BLKSIZE": "2"}), "duplicate option"),
        (ReadRequest("a" * MAX_DATAGRAM, "octet"), "exceeds"),
        (Data(65536, b""), "16 bits"),
        (Data(-1, b""), "16 bits"),
        (Data(1, b"x" * (MAX_BLKSIZE + 1)), "exceeds"),
        (Ack(70000), "16 bits"),
        (Error(70000, "x"), "16 bits"),
        (OptionAck({}), "at least one option"),
    ],
)
def test_encode_rejects_unencodable_packets(packet: Packet, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        encode(packet)


def test_encode_rejects_non_packets() -> None:
    with pytest.raises(TypeError):
        encode("not a packet")  # type: ignore[arg-type]


def test_error_packet_sanitises_and_bounds_the_message() -> None:
    wire = error_packet(ErrorCode.ACCESS_VIOLATION, "caf\u00e9\0" + "x" * 2000)
    assert len(wire) < 512
    packet = decode(wire)
    assert isinstance(packet, Error)
    assert packet.code is ErrorCode.ACCESS_VIOLATION
    assert packet.message.startswith("caf? x")


def test_is_request_peeks_at_the_opcode_only() -> None:
    assert is_request(b"\x00\x01garbage")
    assert is_request(b"\x00\x02")
    assert not is_request(b"\x00\x03\x00\x01")
    assert not is_request(b"\x00\x04\x00\x00")
    assert not is_request(b"\x00")
    assert not is_request(b"")
    assert not is_request(b"\x01\x01")


# --------------------------------------------------------------------------------------
# Option negotiation
# --------------------------------------------------------------------------------------


def test_no_options_means_rfc1350_defaults_and_no_oack() -> None:
    result = negotiate({}, 1000)
    assert result == NegotiatedOptions()
    assert isinstance(result, NegotiatedOptions)
    assert result.blksize == 512
    assert result.windowsize == 1
    assert result.oack is None


def test_unknown_options_are_ignored_and_not_echoed() -> None:
    result = options({"multicast": "", "rollover": "0", "utimeout": "5000"}, 10)
    assert result.oack is None
    result = options({"multicast": "", "blksize": "1024"}, 10)
    assert result.oack == OptionAck({"blksize": "1024"})


def test_oack_contains_only_requested_options_in_request_order() -> None:
    result = options({"tsize": "0", "blksize": "1428"}, 4242)
    assert result.oack == OptionAck({"tsize": "4242", "blksize": "1428"})
    assert list(result.acknowledged) == ["tsize", "blksize"]
    assert (result.blksize, result.tsize, result.timeout, result.windowsize) == (
        1428,
        4242,
        None,
        1,
    )


def test_option_names_are_case_insensitive() -> None:
    request = decode(b"\x00\x01f\x00octet\x00BlkSize\x001024\x00TSIZE\x000\x00")
    assert isinstance(request, ReadRequest)
    result = options(request.options, 7)
    assert result.oack == OptionAck({"blksize": "1024", "tsize": "7"})
    # Callers that build the dict themselves get the same treatment.
    assert options({"WindowSize": "4"}).acknowledged == {"windowsize": "4"}


@pytest.mark.parametrize(
    ("requested", "limit", "granted"),
    [
        ("8", MAX_BLKSIZE, 8),
        ("512", MAX_BLKSIZE, 512),
        ("1428", MAX_BLKSIZE, 1428),
        ("65464", MAX_BLKSIZE, 65464),
        ("65465", MAX_BLKSIZE, 65464),
        ("9999999", MAX_BLKSIZE, 65464),
        ("8192", 1468, 1468),
        ("1024", 1468, 1024),
        ("0008", MAX_BLKSIZE, 8),
    ],
)
def test_blksize_is_clamped(requested: str, limit: int, granted: int) -> None:
    result = options({"blksize": requested}, max_blksize=limit)
    assert result.blksize == granted
    assert result.acknowledged == {"blksize": str(granted)}


@pytest.mark.parametrize(
    "value", ["7", "0", "-512", "", "abc", "5 12", "1e3", " 512", "\u0661\u0662"]
)
def test_bad_blksize_is_refused_with_code_8(value: str) -> None:
    result = negotiate({"blksize": value}, 10)
    assert isinstance(result, Refused)
    assert result.code is ErrorCode.OPTION_REFUSED


def test_absurdly_long_number_is_refused_without_parsing() -> None:
    result = negotiate({"blksize": "9" * 5000}, 10)
    assert isinstance(result, Refused)


@pytest.mark.parametrize(("value", "granted"), [("1", 1), ("5", 5), ("255", 255)])
def test_timeout_in_range_is_echoed(value: str, granted: int) -> None:
    result = options({"timeout": value})
    assert result.timeout == granted
    assert result.acknowledged == {"timeout": value}


@pytest.mark.parametrize("value", ["0", "256", "1000", "", "x", "-1"])
def test_timeout_out_of_range_is_refused(value: str) -> None:
    result = negotiate({"timeout": value}, 10)
    assert isinstance(result, Refused)
    assert result.code is ErrorCode.OPTION_REFUSED


def test_tsize_on_read_answers_the_real_size() -> None:
    assert options({"tsize": "0"}, 123456).acknowledged == {"tsize": "123456"}
    assert options({"tsize": "999"}, 0).acknowledged == {"tsize": "0"}


def test_tsize_on_read_with_unknown_size_is_not_echoed() -> None:
    result = options({"tsize": "0"}, None)
    assert result.oack is None
    assert result.tsize is None


def test_tsize_on_read_in_netascii_is_the_translated_size() -> None:
    content = b"line one\nline two\r\n"
    result = options({"tsize": "0"}, netascii_size(content))
    assert result.tsize == len(netascii_encode(content)) == len(content) + 3


def test_non_numeric_tsize_is_refused() -> None:
    result = negotiate({"tsize": "big"}, 10)
    assert isinstance(result, Refused)
    assert result.code is ErrorCode.OPTION_REFUSED


def test_tsize_on_write_is_echoed_when_under_the_cap() -> None:
    result = negotiate({"tsize": "1000"}, None, Limits(max_upload_size=1000), upload=True)
    assert isinstance(result, NegotiatedOptions)
    assert result.acknowledged == {"tsize": "1000"}


def test_tsize_on_write_over_the_cap_is_refused_disk_full() -> None:
    result = negotiate({"tsize": "1001"}, None, Limits(max_upload_size=1000), upload=True)
    assert isinstance(result, Refused)
    assert result.code is ErrorCode.DISK_FULL


@pytest.mark.parametrize(
    ("requested", "limit", "granted"),
    [
        ("1", 64, 1),
        ("8", 64, 8),
        ("64", 64, 64),
        ("65", 64, 64),
        ("65535", 64, 64),
        ("512", 1024, 512),
    ],
)
def test_windowsize_is_clamped(requested: str, limit: int, granted: int) -> None:
    result = options({"windowsize": requested}, max_windowsize=limit)
    assert result.windowsize == granted
    assert result.acknowledged == {"windowsize": str(granted)}


@pytest.mark.parametrize("value", ["0", "", "many", "-4"])
def test_bad_windowsize_is_refused(value: str) -> None:
    result = negotiate({"windowsize": value}, 10)
    assert isinstance(result, Refused)
    assert result.code is ErrorCode.OPTION_REFUSED


def test_first_refusal_wins_even_with_accepted_options() -> None:
    result = negotiate({"blksize": "1024", "timeout": "0"}, 10)
    assert isinstance(result, Refused)


@pytest.mark.parametrize(
    "limits",
    [
        {"max_blksize": 7},
        {"max_blksize": 65465},
        {"max_windowsize": 0},
        {"max_windowsize": 65536},
        {"max_upload_size": -1},
        {"default_timeout": 0},
        {"max_backoff": -1},
        {"max_retries": -1},
    ],
)
def test_limits_reject_nonsense(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        Limits(**limits)  # type: ignore[arg-type]


def test_reject_request_maps_file_not_found_and_refusals() -> None:
    actions = reject_request(ErrorCode.FILE_NOT_FOUND, "no such file")
    assert sent(actions) == [Error(ErrorCode.FILE_NOT_FOUND, "no such file")]
    assert finish_of(actions) == Finished(Outcome.NOT_FOUND, 0, "no such file")
    actions = reject_request(ErrorCode.OPTION_REFUSED, "bad blksize")
    assert finish_of(actions) == Finished(Outcome.REFUSED, 0, "bad blksize")


# --------------------------------------------------------------------------------------
# netascii
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "wire"),
    [
        (b"", b""),
        (b"plain", b"plain"),
        (b"a\nb", b"a\r\nb"),
        (b"a\rb", b"a\r\x00b"),
        (b"a\r\nb", b"a\r\x00\r\nb"),
        (b"end\r", b"end\r\x00"),
        (b"end\n", b"end\r\n"),
        (b"\n\n", b"\r\n\r\n"),
        (b"\r\r", b"\r\x00\r\x00"),
        (b"a\x00b", b"a\x00b"),
    ],
)
def test_netascii_translation_both_ways(local: bytes, wire: bytes) -> None:
    assert netascii_encode(local) == wire
    assert netascii_decode(wire) == local
    assert netascii_size(local) == len(wire)


@pytest.mark.parametrize(
    ("wire", "local"),
    [(b"a\rb", b"a\rb"), (b"end\r", b"end\r"), (b"\r\r\n", b"\r\n"), (b"x\n", b"x\n")],
)
def test_netascii_decode_keeps_stray_characters(wire: bytes, local: bytes) -> None:
    assert netascii_decode(wire) == local


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_netascii_round_trip_property(local: bytes) -> None:
    wire = netascii_encode(local)
    assert netascii_decode(wire) == local
    assert netascii_size(local) == len(wire)


# --------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------


def test_small_file_without_options() -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", b"hello phone")
    actions = transfer.start(10.0)
    assert sent(actions) == [Data(1, b"hello phone")]
    assert transfer.next_deadline() == 11.0
    actions = transfer.receive(encode(Ack(1)), 10.2)
    assert actions == [Finished(Outcome.COMPLETE, 11, "transfer complete")]
    assert transfer.is_finished
    assert transfer.outcome is Outcome.COMPLETE
    assert transfer.next_deadline() is None


def test_empty_file_is_one_empty_block() -> None:
    content, finished, blocks = download(ReadTransfer(NegotiatedOptions(), "octet", b""))
    assert (content, blocks) == (b"", [1])
    assert finished == Finished(Outcome.COMPLETE, 0, "transfer complete")


@pytest.mark.parametrize("size", [511, 512, 513, 1024, 1025])
def test_block_count_and_final_empty_block(size: int) -> None:
    body = pattern(size)
    content, finished, blocks = download(ReadTransfer(NegotiatedOptions(), "octet", body))
    assert content == body
    assert blocks == list(range(1, size // 512 + 2))
    assert finished.outcome is Outcome.COMPLETE
    assert finished.bytes_sent == size


def test_multiple_of_blksize_ends_with_an_empty_block() -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", pattern(1024))
    assert sent(transfer.start(0)) == [Data(1, pattern(1024)[:512])]
    assert sent(transfer.receive(Ack(1), 0)) == [Data(2, pattern(1024)[512:])]
    assert sent(transfer.receive(Ack(2), 0)) == [Data(3, b"")]
    assert finish_of(transfer.receive(Ack(3), 0)) is not None


def test_oack_then_ack_zero_starts_data() -> None:
    negotiated = options({"blksize": "1024", "tsize": "0"}, 3000)
    transfer = ReadTransfer(negotiated, "octet", pattern(3000))
    assert sent(transfer.start(0)) == [OptionAck({"blksize": "1024", "tsize": "3000"})]
    assert transfer.receive(Ack(1), 0) == []  # not an answer to the OACK
    assert sent(transfer.receive(Ack(0), 0)) == [Data(1, pattern(3000)[:1024])]
    assert transfer.receive(Ack(0), 0) == []  # a repeated ACK 0 is now a duplicate


def test_three_megabyte_file_with_blksize_512() -> None:
    body = pattern(3 * 1024 * 1024)
    transfer = ReadTransfer(options({"blksize": "512"}, len(body)), "octet", body)
    content, finished, blocks = download(transfer)
    assert content == body
    assert len(blocks) == 6145  # 6144 full blocks and the final empty one
    assert finished == Finished(Outcome.COMPLETE, len(body), "transfer complete")


def test_block_numbers_roll_over_after_65535() -> None:
    size = 65537 * 512 + 100  # 65538 blocks: ..., 65535, 0, 1, 2
    body = pattern(size)
    transfer = ReadTransfer(NegotiatedOptions(), "octet", bytes_source(body))
    content, finished, blocks = download(transfer)
    assert len(blocks) == 65538
    assert blocks[65533:] == [65534, 65535, 0, 1, 2]
    assert content == body
    assert finished == Finished(Outcome.COMPLETE, size, "transfer complete")


def test_rollover_inside_a_window_with_mid_window_ack() -> None:
    blksize, window = 8, 10
    body = pattern(blksize * 65550 + 3)
    negotiated = options({"blksize": str(blksize), "windowsize": str(window)})
    transfer = ReadTransfer(negotiated, "octet", bytes_source(body))
    transfer.start(0)
    actions = transfer.receive(Ack(0), 0)
    last = window  # absolute index of the last block in flight
    while last < 65535:
        assert data_blocks(actions) == list(range(last - window + 1, last + 1))
        actions = transfer.receive(Ack(last), 0)
        last += window
    # The window in flight now straddles the rollover: absolute 65531..65540.
    assert data_blocks(actions) == [65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3, 4]
    actions = transfer.receive(Ack(1), 0)  # absolute 65537, in the middle of the window
    assert data_blocks(actions) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    first = sent(actions)[0]
    assert isinstance(first, Data)
    assert first.payload == body[65537 * blksize : 65538 * blksize]
    assert transfer.receive(Ack(65535), 0) == []  # stale, from before the rollover


def test_windowsize_sends_a_window_per_ack_and_resumes_mid_window() -> None:
    body = pattern(512 * 40 + 7)
    transfer = ReadTransfer(options({"windowsize": "8"}), "octet", body)
    assert sent(transfer.start(0)) == [OptionAck({"windowsize": "8"})]
    assert data_blocks(transfer.receive(Ack(0), 0)) == list(range(1, 9))
    assert data_blocks(transfer.receive(Ack(8), 0)) == list(range(9, 17))
    # The client lost block 13: it acknowledges 12, the server resends from 13.
    actions = transfer.receive(Ack(12), 0)
    assert data_blocks(actions) == list(range(13, 21))
    assert sent(actions)[0] == Data(13, body[12 * 512 : 13 * 512])
    assert transfer.receive(Ack(12), 0) == []  # duplicate
    assert transfer.receive(Ack(9), 0) == []  # stale
    assert transfer.receive(Ack(21), 0) == []  # never sent
    assert data_blocks(transfer.receive(Ack(20), 0)) == list(range(21, 29))
    assert data_blocks(transfer.receive(Ack(28), 0)) == list(range(29, 37))
    assert data_blocks(transfer.receive(Ack(36), 0)) == [37, 38, 39, 40, 41]
    actions = transfer.receive(Ack(41), 0)
    assert finish_of(actions) == Finished(Outcome.COMPLETE, len(body), "transfer complete")


def test_windowed_download_completes_and_is_clamped() -> None:
    body = pattern(512 * 300)
    transfer = ReadTransfer(options({"windowsize": "1000"}), "octet", body)
    transfer.start(0)
    assert len(data_blocks(transfer.receive(Ack(0), 0))) == 64
    transfer = ReadTransfer(options({"windowsize": "1000"}), "octet", body)
    content, finished, _ = download(transfer)
    assert content == body
    assert finished.outcome is Outcome.COMPLETE


def test_duplicate_ack_does_not_retransmit() -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", pattern(2000))
    transfer.start(0)
    assert data_blocks(transfer.receive(Ack(1), 0)) == [2]
    assert transfer.receive(Ack(1), 0) == []
    assert transfer.receive(Ack(1), 0.5) == []
    assert data_blocks(transfer.receive(Ack(2), 0.6)) == [3]


def test_duplicate_ack_does_not_reset_the_timer() -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", pattern(2000))
    transfer.start(0)
    transfer.receive(Ack(1), 1.0)
    deadline = transfer.next_deadline()
    transfer.receive(Ack(1), 1.5)
    assert transfer.next_deadline() == deadline


def test_timeout_backs_off_doubling_and_gives_up_after_retries() -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", b"config")
    transfer.start(100.0)
    assert transfer.next_deadline() == 101.0
    assert transfer.timeout(100.9) == []
    now, waits = 101.0, []
    for _ in range(5):
        actions = transfer.timeout(now)
        assert sent(actions) == [Data(1, b"config")]
        deadline = transfer.next_deadline()
        assert deadline is not None
        waits.append(deadline - now)
        assert transfer.timeout(deadline - 0.01) == []
        now = deadline
    assert waits == [2.0, 4.0, 8.0, 8.0, 8.0]
    actions = transfer.timeout(now)
    assert sent(actions) == [Error(ErrorCode.UNDEFINED, "timed out")]
    assert finish_of(actions) == Finished(Outcome.TIMED_OUT, 0, "timed out")
    assert transfer.next_deadline() is None
    assert transfer.timeout(now + 100) == []


def test_progress_resets_the_back_off() -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", pattern(2000))
    transfer.start(0)
    transfer.timeout(1.0)
    transfer.timeout(3.0)
    assert transfer.next_deadline() == 7.0
    transfer.receive(Ack(1), 4.0)
    assert transfer.next_deadline() == 5.0


def test_negotiated_timeout_is_the_initial_interval() -> None:
    transfer = ReadTransfer(options({"timeout": "3"}), "octet", b"x")
    transfer.start(0)
    assert transfer.next_deadline() == 3.0
    assert sent(transfer.timeout(3.0)) == [OptionAck({"timeout": "3"})]  # OACK resent
    assert transfer.next_deadline() == 9.0
    transfer.timeout(9.0)
    assert transfer.next_deadline() == 17.0  # capped at 8 s


def test_custom_retry_limits() -> None:
    limits = Limits(default_timeout=0.5, max_backoff=1.0, max_retries=2)
    transfer = ReadTransfer(NegotiatedOptions(), "octet", b"x", limits)
    transfer.start(0)
    assert transfer.next_deadline() == 0.5
    assert sent(transfer.timeout(0.5)) == [Data(1, b"x")]
    assert transfer.next_deadline() == 1.5
    assert sent(transfer.timeout(1.5)) == [Data(1, b"x")]
    assert transfer.next_deadline() == 2.5
    assert finished_of(transfer.timeout(2.5)).outcome is Outcome.TIMED_OUT


def test_timeout_resends_the_whole_unacknowledged_window() -> None:
    transfer = ReadTransfer(options({"windowsize": "4"}), "octet", pattern(512 * 10))
    transfer.start(0)
    transfer.receive(Ack(0), 0)
    assert data_blocks(transfer.receive(Ack(4), 0)) == [5, 6, 7, 8]
    assert data_blocks(transfer.timeout(1.0)) == [5, 6, 7, 8]


def test_client_error_aborts_without_reply() -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", pattern(2000))
    transfer.start(0)
    transfer.receive(Ack(1), 0)
    actions = transfer.receive(encode(Error(ErrorCode.DISK_FULL, "no room")), 0)
    assert actions == [Finished(Outcome.ABORTED, 512, "peer sent error 3: no room")]
    assert transfer.receive(Ack(2), 0) == []


def test_client_refusing_the_oack_aborts() -> None:
    transfer = ReadTransfer(options({"blksize": "1024"}), "octet", b"x")
    transfer.start(0)
    actions = transfer.receive(Error(ErrorCode.OPTION_REFUSED, "no"), 0)
    assert finished_of(actions).outcome is Outcome.ABORTED
    assert sent(actions) == []


@pytest.mark.parametrize(
    "packet",
    [Data(1, b"x"), ReadRequest("f", "octet"), WriteRequest("f", "octet"), OptionAck({"a": "b"})],
)
def test_unexpected_packet_during_read_is_illegal(packet: Packet) -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", b"x")
    transfer.start(0)
    actions = transfer.receive(packet, 0)
    assert error_of(actions).code is ErrorCode.ILLEGAL_OPERATION
    assert finished_of(actions).outcome is Outcome.ERROR


def test_malformed_datagram_during_read_is_illegal() -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", b"x")
    transfer.start(0)
    actions = transfer.receive(b"\x00\x04\x00", 0)
    assert error_of(actions).code is ErrorCode.ILLEGAL_OPERATION
    finished = finish_of(actions)
    assert finished is not None
    assert finished.outcome is Outcome.ERROR
    assert "malformed" in finished.detail
    assert transfer.receive(Ack(1), 0) == []
    assert transfer.timeout(100) == []


def test_netascii_download_translates_and_reports_translated_tsize() -> None:
    body = b"a\nb\rc\r\n" * 100
    negotiated = options({"tsize": "0"}, netascii_size(body))
    transfer = ReadTransfer(negotiated, "NETASCII", body)
    content, finished, _ = download(transfer)
    assert content == netascii_encode(body)
    assert negotiated.tsize == len(content)
    assert finished.bytes_sent == len(content)


def test_mismatched_tsize_is_a_caller_bug() -> None:
    body = b"a\nb"
    with pytest.raises(ValueError, match="tsize"):
        ReadTransfer(options({"tsize": "0"}, len(body)), "netascii", body)


def test_netascii_needs_bytes_and_mail_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="netascii downloads need the content as bytes"):
        ReadTransfer(NegotiatedOptions(), "netascii", bytes_source(b"x"))
    with pytest.raises(ValueError, match="unsupported transfer mode"):
        ReadTransfer(NegotiatedOptions(), "mail", b"x")
    with pytest.raises(ValueError, match="unsupported transfer mode"):
        WriteTransfer(NegotiatedOptions(), "mail")


def test_block_source_is_read_lazily_and_reread_on_resend() -> None:
    calls: list[tuple[int, int]] = []
    body = pattern(3000)

    def source(offset: int, length: int) -> bytes:
        calls.append((offset, length))
        return body[offset : offset + length]

    transfer = ReadTransfer(options({"blksize": "1000"}), "octet", source)
    transfer.start(0)
    assert calls == []
    transfer.receive(Ack(0), 0)
    transfer.timeout(5)
    assert calls == [(0, 1000), (0, 1000)]


def test_block_source_returning_too_much_is_truncated() -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", lambda _offset, _length: b"z" * 9999)
    assert sent(transfer.start(0)) == [Data(1, b"z" * 512)]


def test_source_error_ends_the_transfer() -> None:
    def broken(_offset: int, _length: int) -> bytes:
        raise OSError(5, "Input/output error")

    transfer = ReadTransfer(NegotiatedOptions(), "octet", broken)
    actions = transfer.start(0)
    assert error_of(actions).code is ErrorCode.UNDEFINED
    assert finished_of(actions).outcome is Outcome.ERROR


def test_file_growing_during_transfer_does_not_move_the_end() -> None:
    body = bytearray(b"x" * 700)
    transfer = ReadTransfer(
        NegotiatedOptions(), "octet", lambda offset, length: bytes(body[offset : offset + length])
    )
    transfer.start(0)
    assert [len(p.payload) for p in data_of(transfer.receive(Ack(1), 0))] == [188]
    body.extend(b"y" * 1000)
    assert [len(p.payload) for p in data_of(transfer.timeout(10))] == [512]
    assert finish_of(transfer.receive(Ack(2), 10)) is not None


def test_start_twice_and_receive_before_start_are_bugs() -> None:
    transfer = ReadTransfer(NegotiatedOptions(), "octet", b"x")
    with pytest.raises(RuntimeError):
        transfer.receive(Ack(1), 0)
    transfer.start(0)
    with pytest.raises(RuntimeError):
        transfer.start(0)


# --------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------


def test_upload_happy_path_without_options() -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet")
    assert sent(transfer.start(0)) == [Ack(0)]
    assert transfer.next_deadline() == 1.0
    body = pattern(612)
    assert sent(transfer.receive(encode(Data(1, body[:512])), 0.1)) == [Ack(1)]
    actions = transfer.receive(encode(Data(2, body[512:])), 0.2)
    assert actions == [
        Send(encode(Ack(2))),
        Received(body),
        Finished(Outcome.COMPLETE, 612, "upload complete"),
    ]
    assert transfer.next_deadline() is None


def test_empty_upload() -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet")
    transfer.start(0)
    actions = transfer.receive(Data(1, b""), 0)
    assert Received(b"") in actions
    assert finish_of(actions) == Finished(Outcome.COMPLETE, 0, "upload complete")


def test_upload_with_oack() -> None:
    negotiated = negotiate({"blksize": "1024", "tsize": "2500"}, None, upload=True)
    assert isinstance(negotiated, NegotiatedOptions)
    transfer = WriteTransfer(negotiated, "octet")
    assert sent(transfer.start(0)) == [OptionAck({"blksize": "1024", "tsize": "2500"})]
    body = pattern(2500)
    log = upload_after_start(transfer, body, 1024)
    assert sent(log) == [Ack(1), Ack(2), Ack(3)]
    assert Received(body) in log
    assert finished_of(log).outcome is Outcome.COMPLETE


def upload_after_start(transfer: WriteTransfer, wire: bytes, blksize: int) -> list[Action]:
    log: list[Action] = []
    chunks = [wire[offset : offset + blksize] for offset in range(0, len(wire), blksize)]
    if not chunks or len(chunks[-1]) == blksize:
        chunks.append(b"")
    for index, chunk in enumerate(chunks, start=1):
        log += transfer.receive(Data(index % 65536, chunk), 0)
    return log


def test_upload_oack_is_resent_on_timeout_and_on_wrong_block() -> None:
    transfer = WriteTransfer(options({"blksize": "16"}), "octet")
    oack = OptionAck({"blksize": "16"})
    assert sent(transfer.start(0)) == [oack]
    assert sent(transfer.timeout(1.0)) == [oack]
    assert sent(transfer.receive(Data(2, b"x" * 16), 1.5)) == [oack]
    assert transfer.receive(Data(2, b"x" * 16), 1.6) == []
    assert sent(transfer.receive(Data(1, b"x" * 16), 1.7)) == [Ack(1)]


def test_upload_with_window_acks_every_window_and_the_last_block() -> None:
    transfer = WriteTransfer(options({"windowsize": "4", "blksize": "8"}), "octet")
    transfer.start(0)
    body = pattern(8 * 10 + 5)
    acks: list[int] = []
    for index in range(1, 12):
        chunk = body[(index - 1) * 8 : index * 8]
        for packet in sent(transfer.receive(Data(index, chunk), 0)):
            assert isinstance(packet, Ack)
            acks.append(packet.block)
    assert acks == [4, 8, 11]
    assert transfer.outcome is Outcome.COMPLETE


def test_upload_gap_in_window_is_reacked_once() -> None:
    transfer = WriteTransfer(options({"windowsize": "4", "blksize": "8"}), "octet")
    transfer.start(0)
    block = b"b" * 8
    assert transfer.receive(Data(1, block), 0) == []
    assert transfer.receive(Data(2, block), 0) == []
    assert sent(transfer.receive(Data(4, block), 0)) == [Ack(2)]  # block 3 was lost
    assert transfer.receive(Data(5, block), 0) == []  # only one re-ACK per stall
    # The sender resumes from 3; a full window after the re-ACK is acknowledged.
    assert transfer.receive(Data(3, block), 0) == []
    assert transfer.receive(Data(4, block), 0) == []
    assert transfer.receive(Data(5, block), 0) == []
    assert sent(transfer.receive(Data(6, block), 0)) == [Ack(6)]


def test_upload_duplicate_data_is_reacked_once_only() -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet")
    transfer.start(0)
    assert sent(transfer.receive(Data(1, b"d" * 512), 0)) == [Ack(1)]
    assert sent(transfer.receive(Data(1, b"d" * 512), 0)) == [Ack(1)]
    assert transfer.receive(Data(1, b"d" * 512), 0) == []
    assert transfer.receive(Data(1, b"d" * 512), 0) == []
    assert sent(transfer.receive(Data(2, b"d" * 512), 0)) == [Ack(2)]
    assert sent(transfer.receive(Data(2, b"d" * 512), 0)) == [Ack(2)]


def test_upload_too_large_is_refused_disk_full() -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet", Limits(max_upload_size=1000))
    transfer.start(0)
    assert sent(transfer.receive(Data(1, b"x" * 512), 0)) == [Ack(1)]
    actions = transfer.receive(Data(2, b"x" * 512), 0)
    assert error_of(actions).code is ErrorCode.DISK_FULL
    assert finish_of(actions) == Finished(Outcome.REFUSED, 512, "upload too large")
    assert not any(isinstance(action, Received) for action in actions)
    assert transfer.receive(Data(2, b"x"), 0) == []


def test_upload_exactly_at_the_cap_is_accepted() -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet", Limits(max_upload_size=1024))
    log = upload(transfer, pattern(1024), 512)
    assert Received(pattern(1024)) in log


def test_upload_block_larger_than_blksize_is_illegal() -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet")
    transfer.start(0)
    actions = transfer.receive(Data(1, b"x" * 513), 0)
    assert error_of(actions).code is ErrorCode.ILLEGAL_OPERATION
    assert finished_of(actions).outcome is Outcome.ERROR


def test_upload_dally_reacks_the_final_block() -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet")
    upload(transfer, b"short log", 512)
    assert transfer.outcome is Outcome.COMPLETE
    assert sent(transfer.receive(Data(1, b"short log"), 1)) == [Ack(1)]
    assert sent(transfer.receive(encode(Data(1, b"short log")), 2)) == [Ack(1)]
    assert transfer.receive(Data(2, b""), 2) == []
    assert transfer.receive(Ack(1), 2) == []
    assert transfer.receive(b"junk", 2) == []
    assert transfer.timeout(100) == []


def test_upload_netascii_is_translated_back_across_block_boundaries() -> None:
    local = b"1234567\nabc\rdef\r\n"
    wire = netascii_encode(local)
    assert wire[7:9] == b"\r\n"  # the CR LF pair straddles the first block boundary
    transfer = WriteTransfer(options({"blksize": "8"}), "netascii")
    transfer.start(0)
    log = upload_after_start(transfer, wire, 8)
    assert Received(local) in log
    assert finished_of(log).bytes_sent == len(wire)


def test_upload_rolls_block_numbers_over() -> None:
    body = pattern(8 * 65540 + 1)
    transfer = WriteTransfer(options({"blksize": "8", "windowsize": "64"}), "octet")
    log = upload(transfer, body, 8)
    assert Received(body) in log
    assert finished_of(log).outcome is Outcome.COMPLETE


def test_upload_timeout_resends_ack_then_gives_up() -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet", Limits(max_retries=2))
    transfer.start(0)
    transfer.receive(Data(1, b"x" * 512), 0)
    assert sent(transfer.timeout(1.0)) == [Ack(1)]
    assert sent(transfer.timeout(3.0)) == [Ack(1)]
    actions = transfer.timeout(7.0)
    assert sent(actions) == [Error(ErrorCode.UNDEFINED, "timed out")]
    assert finish_of(actions) == Finished(Outcome.TIMED_OUT, 512, "timed out")


def test_upload_timeout_mid_window_acks_what_arrived() -> None:
    transfer = WriteTransfer(options({"windowsize": "8", "blksize": "8"}), "octet")
    transfer.start(0)
    for index in range(1, 4):
        transfer.receive(Data(index, b"w" * 8), 0)
    assert sent(transfer.timeout(1.0)) == [Ack(3)]


def test_upload_error_from_client_aborts() -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet")
    transfer.start(0)
    actions = transfer.receive(Error(0, "cancelled"), 0)
    assert actions == [Finished(Outcome.ABORTED, 0, "peer sent error 0: cancelled")]


@pytest.mark.parametrize(
    "packet",
    [Ack(0), ReadRequest("f", "octet"), WriteRequest("f", "octet"), OptionAck({"a": "b"})],
)
def test_unexpected_packet_during_write_is_illegal(packet: Packet) -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet")
    transfer.start(0)
    actions = transfer.receive(packet, 0)
    assert error_of(actions).code is ErrorCode.ILLEGAL_OPERATION
    assert finished_of(actions).outcome is Outcome.ERROR


def test_malformed_datagram_during_write_is_illegal() -> None:
    transfer = WriteTransfer(NegotiatedOptions(), "octet")
    transfer.start(0)
    actions = transfer.receive(b"\x00\x03\x00", 0)
    assert error_of(actions).code is ErrorCode.ILLEGAL_OPERATION
    assert finished_of(actions).outcome is Outcome.ERROR


# --------------------------------------------------------------------------------------
# Properties: nothing a peer sends can crash the core or make it send oversized datagrams
# --------------------------------------------------------------------------------------

_names = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=127), min_size=1, max_size=12
)
_values = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=12)
_option_dicts = st.dictionaries(_names.map(str.lower), _values, max_size=4)
_modes = st.sampled_from(["octet", "netascii", "mail"])

well_formed_packets = st.one_of(
    st.builds(ReadRequest, _names, _modes, _option_dicts),
    st.builds(WriteRequest, _names, _modes, _option_dicts),
    st.builds(Data, st.integers(0, 65535), st.binary(max_size=1500)),
    st.builds(Data, st.integers(0, 12), st.binary(max_size=40)),
    st.builds(Ack, st.integers(0, 65535)),
    st.builds(Ack, st.integers(0, 12)),
    st.builds(Error, st.integers(0, 65535), _values),
    st.builds(OptionAck, _option_dicts.filter(bool)),
)

events = st.one_of(
    st.binary(max_size=64),
    well_formed_packets,
    well_formed_packets.map(encode),
    st.floats(min_value=0, max_value=20),  # advance the clock and call timeout()
)

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(st.binary(max_size=200))
def test_decode_only_ever_raises_packet_error(datagram: bytes) -> None:
    try:
        packet = decode(datagram)
    except PacketError:
        return
    assert decode(encode(packet)) == packet


@PROPERTY_SETTINGS
@given(well_formed_packets)
def test_well_formed_packets_round_trip(packet: Packet) -> None:
    assert decode(encode(packet)) == packet


def check_actions(actions: list[Action], blksize: int, already_finished: bool) -> bool:
    """Shared invariants; returns whether the transfer is finished after ``actions``."""
    finished = already_finished
    for action in actions:
        assert not (finished and isinstance(action, Finished)), "finished twice"
        if isinstance(action, Send):
            assert len(action.datagram) <= max(4 + blksize, 516)
            packet = decode(action.datagram)
            if isinstance(packet, Data):
                assert len(packet.payload) <= blksize
        if isinstance(action, Finished):
            finished = True
    return finished


def drive(transfer: ReadTransfer | WriteTransfer, script: list[object], blksize: int) -> None:
    now = 0.0
    finished = check_actions(transfer.start(now), blksize, False)
    for event in script:
        if isinstance(event, float):
            now += event
            actions = transfer.timeout(now)
        else:
            actions = transfer.receive(event, now)  # type: ignore[arg-type]
        was_finished = finished
        finished = check_actions(actions, blksize, finished)
        if was_finished:
            assert all(isinstance(action, Send) for action in actions)
        assert finished == transfer.is_finished
        if finished:
            assert transfer.next_deadline() is None


@PROPERTY_SETTINGS
@given(
    blksize=st.sampled_from([8, 16, 512]),
    windowsize=st.integers(1, 4),
    content=st.binary(max_size=300),
    script=st.lists(events, max_size=25),
)
def test_read_transfer_survives_anything(
    blksize: int, windowsize: int, content: bytes, script: list[object]
) -> None:
    negotiated = options({"blksize": str(blksize), "windowsize": str(windowsize)})
    transfer = ReadTransfer(negotiated, "octet", content)
    drive(transfer, script, blksize)
    assert transfer.bytes_transferred <= len(content)


@PROPERTY_SETTINGS
@given(
    blksize=st.sampled_from([8, 16, 512]),
    windowsize=st.integers(1, 4),
    mode=st.sampled_from(["octet", "netascii"]),
    script=st.lists(events, max_size=25),
)
def test_write_transfer_survives_anything(
    blksize: int, windowsize: int, mode: str, script: list[object]
) -> None:
    requested = {"blksize": str(blksize), "windowsize": str(windowsize)}
    transfer = WriteTransfer(options(requested), mode, Limits(max_upload_size=100))
    drive(transfer, script, blksize)
    assert transfer.bytes_transferred <= 100


# --------------------------------------------------------------------------------------
# Fast paths agree with the general ones
# --------------------------------------------------------------------------------------

_FIELD = st.one_of(
    st.sampled_from(["aastra.cfg", "octet", "OCTET", "netascii", "mail", "binary", "blksize",
                     "1024", "tsize", "0", ""]),
    st.text(alphabet=st.characters(max_codepoint=300), max_size=6),
)  # fmt: skip


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(fields=st.lists(_FIELD, max_size=5), terminated=st.booleans())
def test_the_request_fast_path_agrees_with_field_by_field_decoding(
    fields: list[str], terminated: bool
) -> None:
    """The whole-body decode of a plain RRQ returns what field-by-field decoding does,
    and anything it does not take (options, non-ASCII, no mode) gets the same verdict."""
    from plugtone.protocols.tftp import _decode_request, _decode_request_fields

    body = b"\0".join(field.encode("utf-8") for field in fields) + (b"\0" if terminated else b"")

    def verdict(decoder):
        try:
            return decoder(body)
        except PacketError as problem:
            return (problem.code, problem.message)

    assert verdict(_decode_request) == verdict(_decode_request_fields)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(0, 3000),
    requested=st.sampled_from([{}, {"blksize": "700"}, {"windowsize": "3", "tsize": "0"}]),
    acks=st.lists(st.integers(0, 8), max_size=20),
)
def test_ack_gives_what_receiving_the_ack_datagram_gives(
    size: int, requested: dict[str, str], acks: list[int]
) -> None:
    """ReadTransfer.ack(block) (an adapter read the ACK off its buffer) is receive() of
    the 4-byte ACK: same actions for any sequence, duplicates, stale ones and ACKs after
    the end included, then the same ending (every block acknowledged in turn)."""
    negotiated = options(requested, size)
    by_datagram = ReadTransfer(negotiated, "octet", pattern(size))
    by_block = ReadTransfer(negotiated, "octet", pattern(size))
    assert by_datagram.start(0) == by_block.start(0)
    for now, block in enumerate([*acks, *range(0, size // 512 + 3)], start=1):
        datagram = encode(Ack(block))
        assert by_datagram.receive(datagram, now) == by_block.ack(block, now)
        assert by_datagram.next_deadline() == by_block.next_deadline()
    assert by_datagram.outcome is by_block.outcome is Outcome.COMPLETE
    assert by_datagram.bytes_transferred == by_block.bytes_transferred == size


def test_is_request_reads_bytearray_and_memoryview() -> None:
    assert is_request(bytearray(b"\x00\x01x\x00octet\x00"))
    assert is_request(memoryview(b"\x00\x02x\x00octet\x00"))
    assert not is_request(memoryview(b"\x01\x01x\x00octet\x00"))  # opcode 257
    assert not is_request(bytearray(b""))


def test_a_finished_download_is_freed_without_the_garbage_collector():
    """A transfer of content in memory holds no reference cycle: at thousands of
    transfers a second, each would wait for the collector, which then ran often."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for size in (0, 100, 1200):
            content, finished, _ = download(
                ReadTransfer(NegotiatedOptions(), "octet", pattern(size))
            )
            assert content == pattern(size) and finished.outcome is Outcome.COMPLETE
        gc.collect()
        left = [found for found in gc.garbage if isinstance(found, ReadTransfer)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []
