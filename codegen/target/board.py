"""Boards as data: read the boards/*.toml files into Board records.

Every fact about a board (its core and compiler flags, memory map, serial port, tick source,
emulator, how to flash it, its PlatformIO ids) lives in one TOML file under boards/. This
module only reads and checks them, so adding a board never needs a Python change: a new file,
plus a firmware/boards/<family>/ folder if the silicon is new.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from mcugen.errors import McugenError
from mcugen.resources import data_dir

HOST_CORE = "host"


@dataclass(frozen=True)
class Board:
    """One board: what the build, flash and verify steps need to know about it."""

    name: str
    aliases: tuple[str, ...]
    description: str
    core: str  # cortex-m0 / m3 / m4 / m7 / m33, or "host" for a native build
    cflags: tuple[str, ...]  # -mcpu, -mthumb, float ABI
    clock_hz: int
    flash_origin: int
    flash_size: int
    ram_origin: int
    ram_size: int
    stack_size: int
    family: str  # the firmware/boards/<family>/ folder with its startup, UART and ticks
    defines: dict[str, int | str] = field(default_factory=dict)  # become BOARD_<KEY> macros
    uart_kind: str = ""
    uart_base: int = 0
    baud: int = 115200
    tick_source: str = ""
    tick_unit: str = ""
    qemu_machine: str | None = None
    flash_methods: tuple[str, ...] = ()
    openocd_config: str | None = None
    pio_platform: str | None = None
    pio_board: str | None = None
    pio_framework: str | None = None
    path: Path | None = None

    @property
    def is_host(self) -> bool:
        """True for the native build that runs as a local process."""
        return self.core == HOST_CORE

    @property
    def is_emulated(self) -> bool:
        """True when QEMU can run this board's firmware."""
        return self.qemu_machine is not None


def _board_from_toml(path: Path) -> Board:
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise McugenError(f"the board file {path} is not valid TOML ({exc}); fix or remove it") from None
    try:
        memory, firmware, uart = raw["memory"], raw["firmware"], raw["uart"]
        tick, emulator, flash, pio = raw["tick"], raw["emulator"], raw["flash"], raw["platformio"]
        return Board(
            name=raw["name"],
            aliases=tuple(raw.get("aliases", ())),
            description=raw.get("description", ""),
            core=raw["core"],
            cflags=tuple(raw.get("cflags", ())),
            clock_hz=int(raw.get("clock_hz", 0)),
            flash_origin=int(memory["flash_origin"]),
            flash_size=int(memory["flash_size"]),
            ram_origin=int(memory["ram_origin"]),
            ram_size=int(memory["ram_size"]),
            stack_size=int(memory["stack_size"]),
            family=firmware["family"],
            defines=dict(firmware.get("defines", {})),
            uart_kind=uart["kind"],
            uart_base=int(uart["base"]),
            baud=int(uart["baud"]),
            tick_source=tick["source"],
            tick_unit=tick["unit"],
            # TOML has no null: an empty string means "this board has none".
            qemu_machine=emulator.get("qemu_machine") or None,
            flash_methods=tuple(flash.get("methods", ())),
            openocd_config=flash.get("openocd_config") or None,
            pio_platform=pio.get("platform") or None,
            pio_board=pio.get("board") or None,
            pio_framework=pio.get("framework") or None,
            path=path,
        )
    except KeyError as exc:
        raise McugenError(f"the board file {path} lacks the key {exc}; add it (see boards/stm32f405.toml)") from None


def list_boards() -> list[Board]:
    """Every board mcugen knows, sorted by name."""
    return sorted((_board_from_toml(p) for p in data_dir("boards").glob("*.toml")), key=lambda b: b.name)


def load_board(name_or_alias: str) -> Board:
    """The board with this name or alias (case-insensitive); a clear error lists the known ones."""
    wanted = name_or_alias.strip().lower()
    boards = list_boards()
    for board in boards:
        if wanted == board.name.lower() or wanted in (a.lower() for a in board.aliases):
            return board
    known = ", ".join(b.name for b in boards)
    raise McugenError(f"unknown board {name_or_alias!r}; choose one of: {known}")
