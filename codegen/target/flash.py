"""Put firmware on a board and hand back a serial connection to it.

Three kinds of board, one shape of answer (a BoardSession holding a pyserial port):
  * emulated: QEMU boots the ELF with its serial port on a local TCP socket and -icount for
    deterministic tick counts; QEMU is always ended by PID when the session closes;
  * host: the native firmware runs as a child process behind a pseudo-terminal;
  * real: flash with st-flash, OpenOCD or PlatformIO, then open the board's serial port.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import serial

from mcugen.errors import McugenError
from mcugen.target.board import Board, load_board

QEMU = "qemu-system-arm"
QEMU_PORT_LINE = re.compile(r"disconnected:tcp:[\d.]+:(\d+)")
# -icount shift=0: one instruction is one ns of virtual time, so timers count instructions
# and every run of the same code gives the same count. nodelay=on on the serial socket: without
# it Nagle's algorithm meets delayed ACKs and every answer waits ~40 ms.
QEMU_ICOUNT = "shift=0,align=off,sleep=off"


@dataclass
class BoardSession:
    """A running board and the serial port that talks to it."""

    board: Board
    port: Any  # a pyserial Serial (or socket/pty flavour of it)
    name: str  # for messages: "QEMU netduinoplus2", "/dev/ttyACM0", ...
    pid: int | None = None  # the QEMU or host-firmware process, when mcugen started one
    log: Path | None = None  # that process's stderr


def _require_tool(tool: str, package: str, purpose: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise McugenError(f"{tool} is not on PATH, needed {purpose}; install it with `{package}`")
    return path


def _end_process(process: subprocess.Popen[bytes]) -> None:
    """Kill the process we started, by its PID, and reap it so no zombie stays."""
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL is not ignored; be safe anyway
        process.wait(timeout=10)


def qemu_command(board: Board, elf: Path) -> list[str]:
    """The QEMU command line for this board's emulator, serial port on a free local TCP port."""
    qemu = _require_tool(QEMU, "apt-get install qemu-system-arm", f"to emulate {board.name}")
    return [qemu, "-M", str(board.qemu_machine), "-display", "none", "-monitor", "none",
            "-serial", "tcp:127.0.0.1:0,server=on,wait=on,nodelay=on", "-icount", QEMU_ICOUNT,
            "-no-reboot", "-kernel", str(elf)]


def _remove_temp(folder: Path, keep: bool) -> None:
    """The session's temp folder (the process's log) goes when the session ends, unless --keep-temp."""
    if keep:
        print(f"mcugen: kept the temporary folder {folder} (--keep-temp)", file=sys.stderr)
    else:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def run_qemu(board: Board, elf: str | Path, *, startup_timeout: float = 15.0,
             keep_temp: bool = False) -> Iterator[BoardSession]:
    """Boot the firmware in QEMU; yield a session whose port is QEMU's serial socket. QEMU is
    killed by PID and its temp folder removed however the session ends (error, Ctrl-C, SIGTERM
    turned into KeyboardInterrupt by the CLI)."""
    if board.qemu_machine is None:
        raise McugenError(f"{board.name} has no emulator; flash a real board and pass its serial port")
    elf = Path(elf)
    if not elf.is_file():
        raise McugenError(f"the firmware {elf} does not exist; build it first with `mcugen build`")
    command = qemu_command(board, elf)
    log_dir = Path(tempfile.mkdtemp(prefix="mcugen-qemu-"))
    log = log_dir / "qemu.log"
    process = port = None
    try:
        with log.open("wb") as log_file:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=log_file)
        tcp_port = _wait_for_qemu_port(process, log, startup_timeout, board)
        port = serial.serial_for_url(f"socket://127.0.0.1:{tcp_port}", timeout=1.0)
        yield BoardSession(board, port, f"QEMU {board.qemu_machine}", process.pid, log)
    finally:  # the process first: a second signal during the rest must not leave it running
        if process is not None:
            _end_process(process)
        if port is not None:
            port.close()
        _remove_temp(log_dir, keep_temp)


def _wait_for_qemu_port(process: subprocess.Popen[bytes], log: Path, timeout: float, board: Board) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        found = QEMU_PORT_LINE.search(text)
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            raise McugenError(
                f"QEMU ({board.qemu_machine}) stopped before it opened its serial port: "
                f"{text.strip() or 'no message'}; check the firmware file and the QEMU installation"
            )
        time.sleep(0.02)
    raise McugenError(f"QEMU ({board.qemu_machine}) did not open its serial port within {timeout:g} s")


@contextlib.contextmanager
def run_host_process(executable: str | Path, *, keep_temp: bool = False) -> Iterator[BoardSession]:
    """Run the native firmware with its stdin/stdout on a pseudo-terminal; pyserial opens the
    other end by its path, exactly as it would open a USB serial adapter. The process is killed
    by PID and its temp folder removed however the session ends."""
    executable = Path(executable)
    if not executable.is_file():
        raise McugenError(f"the host firmware {executable} does not exist; build it with `mcugen build --board host`")
    log_dir = Path(tempfile.mkdtemp(prefix="mcugen-host-"))
    log = log_dir / "firmware.log"
    process = port = None
    controller, terminal = os.openpty()
    try:
        tty.setraw(terminal)
        with log.open("wb") as log_file:
            process = subprocess.Popen([str(executable)], stdin=controller, stdout=controller, stderr=log_file,
                                       close_fds=True)
        os.close(controller)  # the child holds it now
        controller = None
        path = os.ttyname(terminal)
        port = serial.Serial(path, baudrate=115200, timeout=1.0)
        yield BoardSession(load_board("host"), port, f"host process {process.pid}", process.pid, log)
    finally:  # the process first: a second signal during the rest must not leave it running
        if process is not None:
            _end_process(process)
        if port is not None:
            port.close()
        if controller is not None:
            os.close(controller)
        os.close(terminal)
        _remove_temp(log_dir, keep_temp)


@contextlib.contextmanager
def open_serial(board: Board, port_name: str, baud: int | None = None) -> Iterator[BoardSession]:
    """Open a real board's serial port."""
    try:
        port = serial.Serial(port_name, baudrate=baud or board.baud, timeout=1.0)
    except (serial.SerialException, OSError) as exc:
        raise McugenError(
            f"cannot open the serial port {port_name} ({exc}); check that the board is plugged in and pass its "
            "port, e.g. --port /dev/ttyACM0"
        ) from None
    try:
        yield BoardSession(board, port, port_name)
    finally:
        port.close()


@contextlib.contextmanager
def open_board(board: Board, firmware: str | Path | None = None, *, port: str | None = None,
               baud: int | None = None, keep_temp: bool = False) -> Iterator[BoardSession]:
    """The right session for the board: a real port when one is given, else QEMU or the host process."""
    if port is not None:
        with open_serial(board, port, baud) as session:
            yield session
    elif board.is_host:
        if firmware is None:
            raise McugenError("the host board needs its firmware executable; build it with `mcugen build --board host`")
        with run_host_process(firmware, keep_temp=keep_temp) as session:
            yield session
    elif board.is_emulated:
        if firmware is None:
            raise McugenError(f"emulating {board.name} needs its firmware.elf; build it with `mcugen build`")
        with run_qemu(board, firmware, keep_temp=keep_temp) as session:
            yield session
    else:
        raise McugenError(
            f"{board.name} is real hardware only; flash it (mcugen flash --board {board.name}) and pass its serial "
            "port, e.g. --port /dev/ttyACM0"
        )


# ---------------------------------------------------------------------- real hardware

FLASH_TOOLS = {
    "st-flash": ("st-flash", "apt-get install stlink-tools"),
    "openocd": ("openocd", "apt-get install openocd"),
    "pio": ("pio", "pip install platformio"),
}


def flash_real(board: Board, elf: str | Path, *, method: str | None = None, binary: str | Path | None = None,
               project_dir: str | Path | None = None, timeout: float = 180.0) -> str:
    """Write the firmware into a real board's flash with st-flash, OpenOCD or PlatformIO.

    `binary` (firmware.bin) is needed by st-flash, `project_dir` (from export_platformio) by pio.
    Returns the tool's output; a missing tool or probe ends in a clear McugenError.
    """
    methods = [m for m in board.flash_methods if m in FLASH_TOOLS]
    if method is None:
        if not methods:
            raise McugenError(f"{board.name} cannot be flashed by mcugen; its board file lists no flash tool")
        method = next((m for m in methods if shutil.which(FLASH_TOOLS[m][0])), methods[0])
    if method not in FLASH_TOOLS:
        raise McugenError(f"unknown flash tool {method!r}; pass --flash-tool with one of: {', '.join(FLASH_TOOLS)}")
    tool, package = FLASH_TOOLS[method]
    executable = _require_tool(tool, package, f"to flash {board.name}")
    elf = Path(elf)
    if method == "st-flash":
        image = Path(binary) if binary else elf.with_suffix(".bin")
        command = [executable, "--reset", "write", str(image), f"0x{board.flash_origin:08x}"]
        no_probe = "no ST-Link probe answered; connect the board's ST-Link USB port (and close other debuggers)"
    elif method == "openocd":
        if not board.openocd_config:
            raise McugenError(f"{board.name} has no OpenOCD configuration in its board file; pass another --flash-tool")
        command = [executable, "-f", board.openocd_config, "-c", f"program {elf} verify reset exit"]
        no_probe = "OpenOCD found no debug probe or target; connect the board over USB and check the probe"
    else:
        if project_dir is None:
            raise McugenError("flashing with PlatformIO needs the exported project folder (mcugen export)")
        command = [executable, "run", "-t", "upload", "-d", str(project_dir)]
        no_probe = "PlatformIO could not upload; check the board is connected and the project builds"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise McugenError(
            f"{tool} did not finish within {timeout:g} s; unplug and replug the board, then retry"
        ) from None
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        last = output.splitlines()[-1] if output else f"exit code {done.returncode}"
        raise McugenError(f"flashing {board.name} with {tool} failed ({last}): {no_probe}")
    return output
