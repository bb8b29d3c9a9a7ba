"""The wire under stress, against real firmware: damaged, truncated, oversized and unknown
frames get error frames and the board keeps serving; a silent board times out cleanly; a
board holding another model is refused; a damaged answer is retried."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
import serial
from board_support import ECHO_LIB, echo_firmware, echo_reference, exchange_raw  # noqa: F401

from mcugen.errors import McugenError
from mcugen.target.board import load_board
from mcugen.target.build import build_firmware
from mcugen.target.flash import open_board
from mcugen.target.protocol import BoardErrorCode, BoardLink, Reply, encode_frame


def _error_code(frames) -> int | None:
    errors = [f for f in frames if getattr(f, "command", None) == Reply.ERROR]
    return errors[0].payload[0] if errors else None


@pytest.mark.parametrize("name", ["host", "stm32"])
def test_bad_frames_get_error_frames_and_the_board_keeps_serving(name, echo_firmware):  # noqa: F811
    firmware = echo_firmware(name)
    with open_board(firmware.board, firmware.elf) as session:
        link = BoardLink(session.port, name=session.name, timeout=10)
        link.hello()
        good = encode_frame(0x01)
        bad_crc = good[:-1] + bytes([good[-1] ^ 0xFF])
        assert _error_code(exchange_raw(session.port, bad_crc)) == BoardErrorCode.BAD_CRC
        assert _error_code(exchange_raw(session.port, encode_frame(0x42))) == BoardErrorCode.UNKNOWN_COMMAND
        too_long = b"\xa5\x5a\x02" + struct.pack("<H", 1000)
        assert _error_code(exchange_raw(session.port, too_long)) == BoardErrorCode.BAD_LENGTH
        truncated = encode_frame(0x02, bytes(40))[:12]
        assert _error_code(exchange_raw(session.port, truncated, wait=10)) == BoardErrorCode.FRAME_TIMEOUT
        assert _error_code(exchange_raw(session.port, encode_frame(0x03, b"\x00"))) == \
            BoardErrorCode.INPUT_INCOMPLETE
        outside = encode_frame(0x02, struct.pack("<I", 10) + bytes(8))
        assert _error_code(exchange_raw(session.port, outside)) == BoardErrorCode.BAD_PAYLOAD
        garbage = bytes(range(256)) * 2
        exchange_raw(session.port, garbage, wait=0.5, frames=99)
        output, _ = link.infer(bytes(16))
        assert output == echo_reference(bytes(16))[0]


def test_a_silent_board_times_out_cleanly():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    port = serial.serial_for_url(f"socket://127.0.0.1:{server.getsockname()[1]}", timeout=0.1)
    try:
        started = time.monotonic()
        with pytest.raises(McugenError, match=r"did not answer within 1 s"):
            BoardLink(port, name="the test socket", timeout=1.0).hello()
        assert time.monotonic() - started < 3
    finally:
        port.close()
        server.close()


def test_a_board_with_another_model_is_refused(echo_firmware):  # noqa: F811
    firmware = echo_firmware("host")
    with open_board(firmware.board, firmware.elf) as session:
        link = BoardLink(session.port, name=session.name, expected_hash="ffffffffffffffff")
        with pytest.raises(McugenError, match="0123456789abcdef.*ffffffffffffffff"):
            link.hello()


def test_wrong_input_size_is_refused(echo_firmware):  # noqa: F811
    firmware = echo_firmware("host")
    with open_board(firmware.board, firmware.elf) as session, \
            pytest.raises(McugenError, match="input has 5 bytes .* takes 16"):
        BoardLink(session.port, name=session.name).infer(bytes(5))


class CorruptingPort:
    """A real port that damages one byte of the first `damaged` answers it reads: a noisy cable."""

    def __init__(self, port, damaged: int) -> None:
        self.port, self.damaged = port, damaged

    def __getattr__(self, attr):
        return getattr(self.port, attr)

    def __setattr__(self, attr, value):
        if attr == "timeout":
            self.port.timeout = value
        else:
            super().__setattr__(attr, value)

    def read(self, size: int = 1) -> bytes:
        data = bytearray(self.port.read(size))
        if self.damaged and len(data) > 6:
            data[6] ^= 0x10
            self.damaged -= 1
        return bytes(data)


def test_a_damaged_answer_is_asked_again(echo_firmware):  # noqa: F811
    firmware = echo_firmware("host")
    with open_board(firmware.board, firmware.elf) as session:
        link = BoardLink(session.port, name=session.name)
        link.hello()
        link.port = CorruptingPort(session.port, damaged=2)
        time.sleep(0.05)
        output, _ = link.infer(bytes(range(16)))
        assert output == echo_reference(bytes(range(16)))[0]
        assert link.port.damaged == 0
        link.port = CorruptingPort(session.port, damaged=1000)
        with pytest.raises(McugenError, match="failed its checksum 4 times"):
            link.infer(bytes(range(16)))


def test_layer_dump_needs_the_hook(tmp_path):
    firmware = build_firmware(ECHO_LIB, "echo", load_board("host"), tmp_path, layer_hook=False)
    with open_board(firmware.board, firmware.elf) as session:
        link = BoardLink(session.port, name=session.name)
        assert not link.hello().layer_hook
        with pytest.raises(McugenError, match="without the layer hook"):
            link.infer_layers(bytes(16))
        assert link.infer(bytes(16))[0] == echo_reference(bytes(16))[0]


def test_short_and_oversized_host_frames_get_error_frames(echo_firmware):  # noqa: F811
    """The board length-checks what the host sends: an INPUT too short for its offset, a length
    one past max_payload, the largest length the header can say; then it still serves."""
    firmware = echo_firmware("host")
    with open_board(firmware.board, firmware.elf) as session:
        link = BoardLink(session.port, name=session.name, timeout=10)
        max_payload = link.hello().max_payload
        for short in (b"", b"\x00", b"\x00\x00\x00"):
            assert _error_code(exchange_raw(session.port, encode_frame(0x02, short))) == BoardErrorCode.BAD_PAYLOAD
        for length in (max_payload + 1, 0xFFFF):
            header = b"\xa5\x5a\x02" + struct.pack("<H", length)
            assert _error_code(exchange_raw(session.port, header + bytes(40))) == BoardErrorCode.BAD_LENGTH
        exchange_raw(session.port, b"", wait=0.3, frames=99)
        output, _ = link.infer(bytes(range(16)))
        assert output == echo_reference(bytes(range(16)))[0]
