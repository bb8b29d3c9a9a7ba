"""Export a PlatformIO project: the same firmware as `build_firmware`, for a team that builds
and uploads with PlatformIO. The project targets the board's official platform (ststm32,
nordicnrf51, native...), with no framework: our own start-up code, linker script and
runtime sit in src/, the model library in lib/<name>/. Nothing here runs PlatformIO.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mcugen.errors import McugenError
from mcugen.target.board import Board
from mcugen.target.firmware_sources import (
    LAYER_HOOK_FUNCTION,
    board_support_dirs,
    check_model_library,
    firmware_sources,
    model_library_sources,
    runtime_dir,
    write_generated_files,
)


def _platformio_ini(board: Board, model_name: str, layer_hook: bool) -> str:
    flags = [f"-D{model_name.upper()}_LAYER_HOOK={LAYER_HOOK_FUNCTION}"] if layer_hook else []
    lines = [
        f"; PlatformIO project for model {model_name} on {board.name}, exported by mcugen.",
        "; Build and upload: pio run -t upload   (then: mcugen verify --port <serial port>)",
        "",
        "[platformio]",
        f"default_envs = {board.name}",
        "",
        f"[env:{board.name}]",
        f"platform = {board.pio_platform}",
    ]
    if board.pio_board:
        lines.append(f"board = {board.pio_board}")
    if board.pio_framework:
        lines.append(f"framework = {board.pio_framework}")
    if not board.is_host:
        # Our start-up code and linker script replace the platform's; no C library is linked.
        lines.append("board_build.ldscript = link.ld")
        flags += ["-std=c99", "-O2", "-nostartfiles", "-nostdlib", "-Wl,--gc-sections"]
        lines.append(f"build_flags = {' '.join(flags)}")
        lines.append("lib_ldf_mode = deep+")
    else:
        lines.append(f"build_flags = {' '.join(['-std=c99', '-O2', *flags])}")
    return "\n".join(lines) + "\n"


def export_platformio(
    library_dir: str | Path, model_name: str, board: Board, out_dir: str | Path, *, layer_hook: bool = True
) -> Path:
    """Write a PlatformIO project for the model on this board into out_dir; return its platformio.ini."""
    library_dir, out_dir = Path(library_dir), Path(out_dir)
    check_model_library(library_dir, model_name)
    if not board.pio_platform:
        raise McugenError(
            f"PlatformIO has no platform for {board.name}; use `mcugen build` for it, or pick a board "
            "whose file names a [platformio] platform"
        )
    src, lib = out_dir / "src", out_dir / "lib" / model_name
    src.mkdir(parents=True, exist_ok=True)
    lib.mkdir(parents=True, exist_ok=True)
    for source in model_library_sources(library_dir, model_name) + sorted(library_dir.rglob("*.h")):
        target = lib / source.relative_to(library_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    for source in firmware_sources(board):
        shutil.copy2(source, src / source.name)
    for folder in [runtime_dir(), *board_support_dirs(board)]:
        for header in folder.glob("*.h"):
            shutil.copy2(header, src / header.name)
    write_generated_files(board, model_name, src, layer_hook=layer_hook)
    if not board.is_host:
        shutil.move(str(src / "link.ld"), str(out_dir / "link.ld"))
    ini = out_dir / "platformio.ini"
    ini.write_text(_platformio_ini(board, model_name, layer_hook))
    return ini
