"""Which C files make a firmware image, and the small files generated for each build.

Shared by the direct build (build.py) and the PlatformIO export (platformio.py), so both put
together exactly the same program: the model library, the runtime, and the board support of
the board's family, glued by three generated files (mcugen_board.h, mcugen_model.h, link.ld).
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from mcugen.errors import McugenError
from mcugen.resources import data_dir
from mcugen.target.board import Board

LAYER_HOOK_FUNCTION = "mcugen_layer_hook"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_model_library(library_dir: Path, model_name: str) -> None:
    """Stop with a clear message unless library_dir holds the generated library of model_name."""
    if not _IDENTIFIER.match(model_name):
        raise McugenError(f"the model name {model_name!r} is not a C identifier; use letters, digits and _")
    if not library_dir.is_dir():
        raise McugenError(f"the model library folder {library_dir} does not exist; run `mcugen generate` first")
    if not (library_dir / f"{model_name}.h").is_file():
        raise McugenError(
            f"{library_dir} has no {model_name}.h; pass the folder `mcugen generate` wrote for model {model_name!r}"
        )


def model_library_sources(library_dir: Path, model_name: str) -> list[Path]:
    """Every .c of the library except NAME_float.c (float helpers: they would pull in libm)."""
    skip = f"{model_name}_float.c"
    return sorted(p for p in library_dir.rglob("*.c") if p.name != skip)


def header_define(library_dir: Path, model_name: str, suffix: str) -> int | None:
    """The integer value of `#define NAME_<suffix>` in the library header, if it has one."""
    text = (library_dir / f"{model_name}.h").read_text(errors="replace")
    macro = f"{model_name.upper()}_{suffix}"
    found = re.search(rf"^\s*#\s*define\s+{macro}\s+\(?\s*(0x[0-9a-fA-F]+|\d+)[uUlL]*\s*\)?", text, re.M)
    return int(found.group(1), 0) if found else None


def runtime_dir() -> Path:
    return data_dir("firmware") / "runtime"


def board_support_dirs(board: Board) -> list[Path]:
    """Folders whose .c files and headers support this board: shared Cortex-M code, then the family."""
    boards = data_dir("firmware") / "boards"
    family = boards / board.family
    if not family.is_dir():
        raise McugenError(
            f"the board {board.name} names the firmware family {board.family!r}, but {family} does not "
            "exist; add that folder or fix `family` in its board file"
        )
    return [family] if board.is_host else [boards / "cortexm", family]


def firmware_sources(board: Board) -> list[Path]:
    """The runtime and board-support .c files (not the model's)."""
    runtime = sorted(runtime_dir().glob("*.c"))
    if board.is_host:  # a native program has a real C library
        runtime = [p for p in runtime if p.name != "mcugen_minilibc.c"]
    support = [p for folder in board_support_dirs(board) for p in sorted(folder.glob("*.c"))]
    return runtime + support


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates") / "firmware")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
    )


def _c_literal(value: int | str | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return f"0x{value:X}u" if value >= 0x10000 else f"{value}u"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_generated_files(board: Board, model_name: str, out_dir: Path, *, layer_hook: bool) -> Path:
    """Write mcugen_board.h, mcugen_model.h and (for microcontrollers) link.ld into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = _templates()
    defines = [(key.upper(), _c_literal(value)) for key, value in board.defines.items()]
    (out_dir / "mcugen_board.h").write_text(env.get_template("mcugen_board.h.j2").render(board=board, defines=defines))
    (out_dir / "mcugen_model.h").write_text(
        env.get_template("mcugen_model.h.j2").render(name=model_name, NAME=model_name.upper(), layer_hook=layer_hook)
    )
    if not board.is_host:
        (out_dir / "link.ld").write_text(env.get_template("link.ld.j2").render(board=board))
    return out_dir
