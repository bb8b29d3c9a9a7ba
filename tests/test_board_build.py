"""Firmware builds with the real toolchains: every board links, sizes add up, the float
helpers stay out, a model too big for the micro:bit stops with the numbers, and a missing
toolchain is named with its apt package."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from board_support import BULKY_LIB, ECHO_LIB, echo_firmware  # noqa: F401  (fixture)

from mcugen.errors import McugenError
from mcugen.target.board import list_boards, load_board
from mcugen.target.build import build_firmware
from mcugen.target.platformio import export_platformio


@pytest.mark.parametrize("name", [b.name for b in list_boards()])
def test_echo_builds_for_every_board(name, echo_firmware):  # noqa: F811
    result = echo_firmware(name)
    assert result.elf.is_file()
    sizes = result.sizes
    assert sizes.weights == 24  # echo_bias, the const array of echo_weights.c
    assert sizes.arena == 40
    assert 0 < sizes.code < 16 * 1024
    if not result.board.is_host:
        assert result.binary is not None and result.binary.stat().st_size > 0
        assert sizes.flash_used <= sizes.flash_total and sizes.ram_used <= sizes.ram_total
        assert sizes.stack == result.board.stack_size or sizes.stack == result.board.stack_size + 4
        assert "weights 24" in sizes.summary()
    symbols = subprocess.run(["arm-none-eabi-nm" if not result.board.is_host else "nm", str(result.elf)],
                             capture_output=True, text=True, check=True).stdout
    assert "echo_dequantize_first" not in symbols  # echo_float.c left out
    assert "echo_invoke" in symbols


def test_bare_metal_images_link_no_c_library(echo_firmware):  # noqa: F811
    mapfile = (echo_firmware("microbit").build_dir / "firmware.map").read_text()
    assert "libc.a" not in mapfile and "libc_nano.a" not in mapfile


def test_too_big_for_the_microbit_names_both_sizes(tmp_path):
    with pytest.raises(McugenError) as err:
        build_firmware(BULKY_LIB, "bulky", load_board("microbit"), tmp_path)
    message = str(err.value)
    assert "flash" in message and "262,144" in message and "300,000" in message
    assert "int4" in message and "such as nucleo-f446re (524,288 bytes)" in message  # what would help


def test_the_same_model_fits_a_bigger_board(tmp_path):
    result = build_firmware(BULKY_LIB, "bulky", load_board("stm32f405"), tmp_path)
    assert result.sizes.weights == 300_000


def test_missing_arm_toolchain_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(McugenError, match="apt-get install gcc-arm-none-eabi"):
        build_firmware(ECHO_LIB, "echo", load_board("stm32"), tmp_path)


def test_missing_library_and_bad_name(tmp_path):
    with pytest.raises(McugenError, match="does not exist"):
        build_firmware(tmp_path / "nowhere", "echo", load_board("host"), tmp_path / "out")
    with pytest.raises(McugenError, match="no digits.h"):
        build_firmware(ECHO_LIB, "digits", load_board("host"), tmp_path / "out")
    with pytest.raises(McugenError, match="C identifier"):
        build_firmware(ECHO_LIB, "9lives", load_board("host"), tmp_path / "out")


def test_compile_error_is_reported_not_raised_as_traceback(tmp_path):
    broken = tmp_path / "lib"
    shutil.copytree(ECHO_LIB, broken)
    (broken / "echo.c").write_text("int echo_invoke(void) { return syntax error; }\n")
    with pytest.raises(McugenError, match="compiling echo.c for host failed"):
        build_firmware(broken, "echo", load_board("host"), tmp_path / "out")


def test_platformio_export(tmp_path):
    ini = export_platformio(ECHO_LIB, "echo", load_board("nucleo-f446re"), tmp_path / "project")
    text = ini.read_text()
    assert "platform = ststm32" in text and "board = nucleo_f446re" in text
    assert "-DECHO_LAYER_HOOK=mcugen_layer_hook" in text
    project = ini.parent
    assert (project / "lib" / "echo" / "echo.c").is_file()
    assert not (project / "lib" / "echo" / "echo_float.c").exists()
    assert (project / "src" / "mcugen_runtime.c").is_file() and (project / "src" / "board_stm32f4.c").is_file()
    assert (project / "link.ld").is_file()
    pio = shutil.which("pio")
    if pio:  # `pio project config` reads the file offline; nothing here may touch the registry
        shown = subprocess.run([pio, "project", "config", "-d", str(project)], capture_output=True, text=True,
                               timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert "nucleo_f446re" in shown.stdout


def test_platformio_export_refuses_a_board_without_platform(tmp_path):
    with pytest.raises(McugenError, match="PlatformIO has no platform for mps2-an386"):
        export_platformio(ECHO_LIB, "echo", load_board("mps2-an386"), tmp_path)
