"""The board files: every required board is there, aliases resolve, unknown names fail clearly."""

from __future__ import annotations

import pytest

from mcugen.errors import McugenError
from mcugen.target.board import list_boards, load_board
from mcugen.target.firmware_sources import board_support_dirs, write_generated_files

REQUIRED = {"stm32f405", "nucleo-f446re", "mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "microbit", "host"}


def test_required_boards_exist():
    assert {b.name for b in list_boards()} >= REQUIRED


@pytest.mark.parametrize("alias, name", [("stm32", "stm32f405"), ("STM32", "stm32f405"), ("native", "host"),
                                         ("nucleo", "nucleo-f446re"), ("an505", "mps2-an505")])
def test_aliases(alias, name):
    assert load_board(alias).name == name


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(McugenError) as err:
        load_board("arduino-mega")
    assert "arduino-mega" in str(err.value) and "stm32f405" in str(err.value) and "microbit" in str(err.value)


@pytest.mark.parametrize("board", list_boards(), ids=lambda b: b.name)
def test_every_board_is_consistent(board, tmp_path):
    assert board_support_dirs(board)  # its firmware family folder exists
    assert board.tick_unit in ("instructions", "cycles", "ns")
    if not board.is_host:
        assert board.flash_size > 0 and board.ram_size > board.stack_size > 0
        assert any(flag.startswith("-mcpu=") for flag in board.cflags)
        write_generated_files(board, "echo", tmp_path, layer_hook=True)
        script = (tmp_path / "link.ld").read_text()
        assert f"LENGTH = {board.flash_size}" in script and f"LENGTH = {board.ram_size}" in script


def test_microbit_is_a_small_m0():
    board = load_board("microbit")
    assert board.core == "cortex-m0" and board.ram_size == 16 * 1024 and board.flash_size == 256 * 1024
    assert "-mfloat-abi=soft" in board.cflags
