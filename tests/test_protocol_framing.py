"""Unit tests of the frame format: checksum, encoding, and a decoder that survives garbage."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from mcugen.target.protocol import BoardInfo, CorruptFrame, Frame, FrameDecoder, crc16, encode_frame


def test_crc_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF


def test_frame_layout():
    frame = encode_frame(0x02, b"\x01\x02")
    assert frame[:2] == b"\xa5\x5a"
    assert frame[2] == 0x02
    assert struct.unpack_from("<H", frame, 3)[0] == 2
    assert frame[5:7] == b"\x01\x02"
    assert struct.unpack_from("<H", frame, 7)[0] == crc16(frame[2:7])


@given(st.integers(0, 255), st.binary(max_size=600), st.binary(max_size=40), st.integers(1, 50))
def test_frames_survive_garbage_and_any_split(command, payload, garbage, step):
    garbage = garbage.replace(b"\xa5", b"")  # garbage that cannot start a frame
    stream = garbage + encode_frame(command, payload) + encode_frame(0x81, b"tail")
    decoder = FrameDecoder()
    found = []
    for i in range(0, len(stream), step):
        found += decoder.feed(stream[i : i + step])
    assert found == [Frame(command, payload), Frame(0x81, b"tail")]


@given(st.binary(min_size=1, max_size=100), st.integers(0, 10_000), st.integers(0, 7))
def test_a_flipped_bit_is_reported_and_the_next_frame_still_found(payload, where, bit):
    damaged = bytearray(encode_frame(0x85, payload))
    index = 2 + where % (len(damaged) - 2)  # anywhere after the sync: all of it is checksummed
    damaged[index] ^= 1 << bit
    # If the flip made the length longer, the damaged frame swallows what follows until its
    # (bad) checksum; the padding lets that happen, then the decoder finds the good frame inside.
    stream = bytes(damaged) + encode_frame(0x83, b"ok") + bytes(300)
    found = FrameDecoder(max_payload=256).feed(stream)
    assert Frame(0x83, b"ok") in found
    assert Frame(0x85, payload) not in found
    assert any(isinstance(f, CorruptFrame) for f in found)


def test_a_truncated_frame_waits_for_more_bytes():
    frame = encode_frame(0x81, b"hello")
    decoder = FrameDecoder()
    assert decoder.feed(frame[:-3]) == []
    assert decoder.feed(frame[-3:]) == [Frame(0x81, b"hello")]


def test_board_info_parses_the_hello_answer():
    payload = struct.pack("<BBHIIH", 1, 1, 256, 16, 24, 3) + b"0123456789abcdef"
    for text in (b"instructions", b"stm32f405", b"echo"):
        payload += bytes([len(text)]) + text
    info = BoardInfo.parse(payload)
    assert (info.input_size, info.output_size, info.num_layers, info.max_payload) == (16, 24, 3, 256)
    assert (info.model_hash, info.tick_unit, info.board_name, info.model_name) == (
        "0123456789abcdef", "instructions", "stm32f405", "echo")
    assert info.layer_hook
