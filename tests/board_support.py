"""Shared by the board-side tests: the fixtures' reference outputs, cached firmware builds,
and a raw-frame helper for poking the firmware with deliberately bad bytes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mcugen.target.board import load_board
from mcugen.target.build import BuildResult, build_firmware
from mcugen.target.protocol import FrameDecoder, encode_frame

FIXTURES = Path(__file__).parent / "fixtures"
ECHO_LIB = FIXTURES / "echo_lib"
BULKY_LIB = FIXTURES / "bulky_lib"
ECHO_HASH = "0123456789abcdef"
ECHO_BIAS = [-100, -63, -26, 11, 48, 85, 122, -97, -60, -23, 14, 51,
             88, 125, -94, -57, -20, 17, 54, 91, -128, -91, -54, -17]


def _s8(value: int) -> int:
    return (value + 128) % 256 - 128


def echo_reference(data: bytes) -> tuple[bytes, list[bytes]]:
    """What the echo fixture must compute: its output and each of its three layers."""
    signed = [_s8(b) for b in data]
    a = [_s8(v ^ 0x5A) for v in signed]
    b = [_s8(a[j % 16] + ECHO_BIAS[j]) for j in range(24)]
    out = [_s8(v * 3) for v in b]
    layers = [bytes(v & 0xFF for v in layer) for layer in (a, b, out)]
    return layers[2], layers


@pytest.fixture(scope="session")
def echo_firmware(tmp_path_factory: pytest.TempPathFactory):
    """build(board_name) -> BuildResult of the echo fixture, built once per board per session."""
    built: dict[str, BuildResult] = {}
    root = tmp_path_factory.mktemp("echo-firmware")

    def build(name: str) -> BuildResult:
        if name not in built:
            board = load_board(name)
            built[name] = build_firmware(ECHO_LIB, "echo", board, root / board.name)
        return built[name]

    return build


def pid_is_running(pid: int) -> bool:
    """True while the process exists and is not a reaped zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def exchange_raw(port, data: bytes, *, wait: float = 5.0, frames: int = 1) -> list:
    """Write raw bytes and collect the next `frames` decoded frames (or fewer on timeout)."""
    decoder = FrameDecoder()
    found: list = []
    port.write(data)
    deadline = time.monotonic() + wait
    port.timeout = 0.05
    while len(found) < frames and time.monotonic() < deadline:
        found += decoder.feed(port.read(256))
    return found


def hello_frame() -> bytes:
    return encode_frame(0x01)
