"""End to end on real emulators: build the echo fixture, boot it (QEMU, or a local process
for host), and check over the wire that it computes exactly what the reference says, that
tick counts repeat exactly under QEMU, and that no emulator outlives its session."""

from __future__ import annotations

import pytest
from board_support import ECHO_HASH, echo_firmware, echo_reference, pid_is_running  # noqa: F401

from mcugen.errors import McugenError
from mcugen.target.board import load_board
from mcugen.target.flash import flash_real, open_board, run_qemu
from mcugen.target.protocol import BoardLink

INPUTS = [bytes(range(16)), bytes(range(200, 216)), bytes([0x80, 0x7F] * 8)]


@pytest.mark.parametrize("name", ["host", "stm32", "mps2-an386", "microbit", "mps2-an505", "mps2-an500"])
def test_echo_is_bit_exact_on_the_board(name, echo_firmware):  # noqa: F811
    firmware = echo_firmware(name)
    with open_board(firmware.board, firmware.elf) as session:
        pid = session.pid
        link = BoardLink(session.port, name=session.name, timeout=10, expected_hash=ECHO_HASH)
        info = link.hello()
        assert (info.board_name, info.model_name, info.input_size, info.output_size) == (
            firmware.board.name, "echo", 16, 24)
        assert info.tick_unit == firmware.board.tick_unit
        for data in INPUTS:
            output, ticks = link.infer(data)
            assert output == echo_reference(data)[0]
            assert ticks > 0
        run = link.infer_layers(INPUTS[1])
        assert run.layers == echo_reference(INPUTS[1])[1]
        assert run.output == echo_reference(INPUTS[1])[0]
    assert pid is not None and not pid_is_running(pid)


@pytest.mark.parametrize("name", ["stm32", "mps2-an386"])
def test_ticks_repeat_exactly_across_boots(name, echo_firmware):  # noqa: F811
    firmware = echo_firmware(name)
    counts = []
    for _ in range(2):
        with run_qemu(firmware.board, firmware.elf) as session:
            link = BoardLink(session.port, name=session.name, timeout=10)
            counts.append([link.infer(data)[1] for data in INPUTS])
    assert counts[0] == counts[1]
    assert len(set(counts[0])) == 1  # the echo takes the same path whatever the data


def test_qemu_is_ended_even_when_the_session_fails(echo_firmware):  # noqa: F811
    firmware = echo_firmware("mps2-an385")
    pid = None
    with pytest.raises(RuntimeError), run_qemu(firmware.board, firmware.elf) as session:
        pid = session.pid
        assert pid_is_running(pid)
        raise RuntimeError("a test failing mid-session")
    assert pid is not None and not pid_is_running(pid)


def test_missing_qemu_names_the_package(echo_firmware, monkeypatch):  # noqa: F811
    firmware = echo_firmware("stm32")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(McugenError, match="apt-get install qemu-system-arm"), \
            run_qemu(firmware.board, firmware.elf):
        pass


def test_real_only_board_needs_a_port():
    with pytest.raises(McugenError, match="real hardware only"), open_board(load_board("nucleo-f446re"), "x.elf"):
        pass


def test_flashing_without_tool_or_probe_is_a_clear_error(echo_firmware):  # noqa: F811
    firmware = echo_firmware("stm32")
    # st-flash either is missing (named with its package) or finds no ST-Link here (no hardware).
    with pytest.raises(McugenError, match="stlink-tools|no ST-Link probe"):
        flash_real(firmware.board, firmware.elf, method="st-flash", binary=firmware.binary, timeout=60)
    with pytest.raises(McugenError, match="openocd|OpenOCD"):
        flash_real(firmware.board, firmware.elf, method="openocd", timeout=60)
