"""Build firmware for a board: compile the model library, the runtime and the board support
with the board's toolchain, link, and report where the bytes went.

ARM boards use arm-none-eabi-gcc without a C library (the runtime brings memcpy and friends)
and a linker script generated from the board file; the host board uses the local `cc` and
makes a native program. A model that does not fit stops with both numbers and what would help.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mcugen.errors import McugenError
from mcugen.target.board import Board, list_boards
from mcugen.target.firmware_sources import (
    LAYER_HOOK_FUNCTION,
    board_support_dirs,
    check_model_library,
    firmware_sources,
    header_define,
    model_library_sources,
    runtime_dir,
    write_generated_files,
)
from mcugen.target.platformio import export_platformio  # noqa: F401  (part of this module's API)

ARM_PREFIX = "arm-none-eabi-"
ARM_APT_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi"
COMMON_CFLAGS = ("-std=c99", "-O2", "-g", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections")


@dataclass(frozen=True)
class SizeReport:
    """Bytes of the image, split the way an embedded engineer budgets them."""

    weights: int  # const arrays of NAME_weights.c (flash)
    code: int  # everything else in flash except .data's initial values
    data: int  # initialised variables: in RAM, with a copy in flash
    bss: int  # zeroed variables, including arena and I/O buffers (RAM)
    arena: int  # NAME_ARENA_SIZE, part of bss
    stack: int  # reserved by the linker script (RAM)
    flash_total: int  # the board's, 0 for host
    ram_total: int

    @property
    def flash_used(self) -> int:
        return self.weights + self.code + self.data

    @property
    def ram_used(self) -> int:
        return self.data + self.bss + self.stack

    def summary(self) -> str:
        """A few lines for the terminal."""
        def of(total: int) -> str:
            return f" of {total:,}" if total else ""
        return (
            f"flash {self.flash_used:,}{of(self.flash_total)} B (weights {self.weights:,}, code {self.code:,}, "
            f"data {self.data:,})\n"
            f"RAM   {self.ram_used:,}{of(self.ram_total)} B (arena {self.arena:,}, other bss "
            f"{self.bss - self.arena:,}, data {self.data:,}, stack {self.stack:,})"
        )


@dataclass(frozen=True)
class BuildResult:
    board: Board
    model_name: str
    elf: Path  # firmware.elf for a microcontroller, a native executable for host
    binary: Path | None  # raw image for st-flash (None for host)
    sizes: SizeReport
    build_dir: Path
    layer_hook: bool
    objects: tuple[tuple[Path, Path], ...] = ()  # (source, object) of every compiled file, model's first


@dataclass(frozen=True)
class Toolchain:
    cc: str
    size: str
    nm: str
    objcopy: str | None


def find_toolchain(board: Board) -> Toolchain:
    """The compiler and binutils for this board, or a clear error naming the apt packages."""
    if board.is_host:
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        size, nm = shutil.which("size"), shutil.which("nm")
        if not (cc and size and nm):
            raise McugenError(
                "no C compiler and binutils (cc, size, nm) on PATH for the host board; "
                "install them with `apt-get install gcc binutils`"
            )
        return Toolchain(cc, size, nm, None)
    tools = {tool: shutil.which(ARM_PREFIX + tool) for tool in ("gcc", "size", "nm", "objcopy")}
    missing = [ARM_PREFIX + tool for tool, path in tools.items() if path is None]
    if missing:
        raise McugenError(
            f"the ARM toolchain ({', '.join(missing)}) is not on PATH, needed for {board.name}; "
            f"install it with `apt-get install {ARM_APT_PACKAGES}`"
        )
    return Toolchain(tools["gcc"], tools["size"], tools["nm"], tools["objcopy"])  # type: ignore[arg-type]


def _run(command: list[str], what: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise _CompileFailed(what, done.stdout + done.stderr)
    return done


class _CompileFailed(Exception):
    def __init__(self, what: str, output: str) -> None:
        super().__init__(what)
        self.what, self.output = what, output


def _object_name(source: Path, index: int) -> str:
    return f"{index:03d}_{source.stem}.o"


def _defined_symbol_sizes(nm: str, path: Path) -> dict[str, int]:
    """name -> size of every sized symbol defined in an object or image."""
    out = _run([nm, "-S", "--defined-only", str(path)], f"nm {path.name}").stdout
    sizes: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


def _section_sizes(size_tool: str, elf: Path) -> dict[str, int]:
    out = _run([size_tool, "-A", str(elf)], "size").stdout
    sections: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    return sections


def _too_big_message(board: Board, model_name: str, overflow: dict[str, int], weights: int, arena: int) -> str:
    """One sentence for a linker 'region overflowed' failure: both numbers and what would help."""
    parts, fixes = [], []
    others = [b for b in list_boards() if not b.is_host and b.name != board.name]
    if "FLASH" in overflow:
        need = board.flash_size + overflow["FLASH"]
        parts.append(f"{need:,} bytes of flash (weights {weights:,}) but {board.name} has {board.flash_size:,}")
        bigger = sorted((b for b in others if b.flash_size >= need), key=lambda b: b.flash_size)
        if bigger:
            fixes.append(f"a board with more flash such as {bigger[0].name} ({bigger[0].flash_size:,} bytes)")
        fixes.append("a smaller model (fewer or narrower layers, int4 weights)")
    if "RAM" in overflow:
        need = board.ram_size + overflow["RAM"]
        parts.append(
            f"{need:,} bytes of RAM (arena {arena:,}, stack {board.stack_size:,}) "
            f"but {board.name} has {board.ram_size:,}"
        )
        bigger = sorted((b for b in others if b.ram_size >= need), key=lambda b: b.ram_size)
        if bigger:
            fixes.append(f"a board with more RAM such as {bigger[0].name} ({bigger[0].ram_size:,} bytes)")
        fixes.append("smaller activations (a smaller input, fewer channels)")
    return f"the {model_name} firmware needs {' and '.join(parts)}; try {' or '.join(dict.fromkeys(fixes))}"


def build_firmware(
    library_dir: str | Path,
    model_name: str,
    board: Board,
    out_dir: str | Path,
    *,
    layer_hook: bool = True,
    extra_cflags: tuple[str, ...] = (),
) -> BuildResult:
    """Compile and link the firmware for `board` into out_dir; report sizes; check it fits.

    With layer_hook the model calls back after every layer so `infer_layers` can stream
    per-layer outputs; that costs a call and a test per layer, which plain inferences count
    in their ticks, so turn it off for the last word on timing.
    """
    library_dir, out_dir = Path(library_dir), Path(out_dir)
    check_model_library(library_dir, model_name)
    tools = find_toolchain(board)
    out_dir.mkdir(parents=True, exist_ok=True)
    generated = write_generated_files(board, model_name, out_dir / "generated", layer_hook=layer_hook)
    objects_dir = out_dir / "objects"
    objects_dir.mkdir(exist_ok=True)

    includes = [generated, runtime_dir(), *board_support_dirs(board), library_dir]
    cflags = [*board.cflags, *COMMON_CFLAGS, *extra_cflags, *(f"-I{d}" for d in includes)]
    if layer_hook:
        cflags.append(f"-D{model_name.upper()}_LAYER_HOOK={LAYER_HOOK_FUNCTION}")
    if header_define(library_dir, model_name, "INPUT_COUNT") is not None:
        cflags.append("-ffp-contract=off")  # a weight-only (float32) model: no fused multiply-adds

    model_sources = model_library_sources(library_dir, model_name)
    sources = model_sources + firmware_sources(board)
    objects = [objects_dir / _object_name(src, i) for i, src in enumerate(sources)]
    try:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(lambda so: _run([tools.cc, *cflags, "-c", str(so[0]), "-o", str(so[1])],
                                          f"compiling {so[0].name}"), zip(sources, objects, strict=True)))
    except _CompileFailed as failed:
        raise McugenError(
            f"{failed.what} for {board.name} failed; the compiler said:\n{failed.output.strip()}"
        ) from None

    weights_names: set[str] = set()
    for src, obj in zip(sources, objects, strict=True):
        if src.name == f"{model_name}_weights.c":
            weights_names |= set(_defined_symbol_sizes(tools.nm, obj))
    arena = header_define(library_dir, model_name, "ARENA_SIZE") or 0

    elf = out_dir / ("firmware" if board.is_host else "firmware.elf")
    if board.is_host:
        link = [tools.cc, *cflags, *map(str, objects), "-o", str(elf)]
    else:
        link = [tools.cc, *board.cflags, "-nostdlib", "-nostartfiles", f"-T{generated / 'link.ld'}",
                "-Wl,--gc-sections", f"-Wl,-Map={out_dir / 'firmware.map'}", *map(str, objects), "-lgcc",
                "-o", str(elf)]
    try:
        _run(link, "linking")
    except _CompileFailed as failed:
        overflow = {m[0]: int(m[1]) for m in re.findall(r"region `(\w+)' overflowed by (\d+) bytes", failed.output)}
        if overflow:
            weights_object = sum(_defined_symbol_sizes(tools.nm, o)[n] for o, s in zip(objects, sources, strict=True)
                                 if s.name == f"{model_name}_weights.c" for n in weights_names)
            raise McugenError(_too_big_message(board, model_name, overflow, weights_object, arena)) from None
        raise McugenError(f"linking the firmware for {board.name} failed; the linker said:\n"
                          f"{failed.output.strip()}") from None

    sections = _section_sizes(tools.size, elf)
    symbols = _defined_symbol_sizes(tools.nm, elf)
    weights = sum(size for name, size in symbols.items() if name in weights_names)
    if board.is_host:
        flash_bytes = sections.get(".text", 0) + sections.get(".rodata", 0)
        data, bss, stack = sections.get(".data", 0), sections.get(".bss", 0), 0
    else:
        flash_bytes = sections.get(".text", 0) + sections.get(".ARM.exidx", 0)
        data, bss, stack = sections.get(".data", 0), sections.get(".bss", 0), sections.get(".stack", 0)
    sizes = SizeReport(weights=weights, code=flash_bytes - weights, data=data, bss=bss, arena=arena,
                       stack=stack, flash_total=board.flash_size, ram_total=board.ram_size)

    binary = None
    if tools.objcopy:
        binary = out_dir / "firmware.bin"
        _run([tools.objcopy, "-O", "binary", str(elf), str(binary)], "objcopy")
    return BuildResult(board=board, model_name=model_name, elf=elf, binary=binary, sizes=sizes,
                       build_dir=out_dir, layer_hook=layer_hook, objects=tuple(zip(sources, objects)))
