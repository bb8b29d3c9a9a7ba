"""The ticks in DONE, in instructions on the emulated mps2 boards, match an exact count.

QEMU runs the digits MLP (examples/digits) with one instruction per translation block and logs every block it
executes (-d exec,nochain), so counting the log lines from board_ticks_start to
board_ticks_elapsed gives the exact instruction count of what the board timed. The reported
ticks must agree within the board's tick resolution (TICK_SCALE) plus a few instructions of
the two functions' own bodies. This caught mps2-an505, whose SysTick runs at 20 MHz, not the
25 MHz of AN385/386/500: its ticks were 0.8x the exact count."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import serial

from mcugen.data import random_samples
from mcugen.project import Options, build, compile_project
from mcugen.target.board import load_board
from mcugen.target.flash import QEMU_PORT_LINE, _end_process, qemu_command
from mcugen.target.protocol import BoardLink
from mcugen.target.verify import golden_outputs, quantize_inputs

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"

TRACE_PC = re.compile(r"Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")
FUNCTION_BODIES = 100  # instructions of board_ticks_start/elapsed around the counter reads (~45 measured)


def one_instruction_per_block(qemu: str) -> list[str]:
    """QEMU 8.1 renamed -singlestep to -accel tcg,one-insn-per-tb=on."""
    accel_help = subprocess.run([qemu, "-accel", "tcg,help"], capture_output=True, text=True).stdout
    return ["-accel", "tcg,one-insn-per-tb=on"] if "one-insn-per-tb" in accel_help else ["-singlestep"]


def symbol_address(elf: Path, name: str) -> int:
    table = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    (address,) = [int(fields[0], 16) for fields in map(str.split, table.splitlines())
                  if len(fields) == 3 and fields[2] == name]
    return address & ~1  # the Thumb bit


def timed_instructions(trace: Path, start: int, stop: int) -> list[int]:
    """Instructions executed from each entry of `start` to the next entry of `stop`."""
    counts, count = [], None
    with trace.open() as lines:
        for line in lines:
            found = TRACE_PC.search(line)
            if not found:
                continue
            pc = int(found.group(1), 16)
            if pc == start:
                count = 0
            elif pc == stop and count is not None:
                counts.append(count)
                count = None
            elif count is not None:
                count += 1
    return counts


@pytest.mark.parametrize("name", ["mps2-an505", "mps2-an386"])
def test_ticks_match_an_exact_instruction_count(name, tmp_path):
    board = load_board(name)
    opts = Options(model=str(DIGITS / "mlp.onnx"), calib=str(DIGITS / "calib_mlp.npz"), board=name,
                   output=str(tmp_path / "build"))
    record, _ = build(opts)
    compiled = compile_project(opts)
    samples = random_samples(compiled.float_graph, 1, 0)
    sample, (expected,) = quantize_inputs(compiled, samples)[0].tobytes(), golden_outputs(compiled, samples)[1]
    elf = Path(record.elf)
    scale = int(board.defines["TICK_SCALE"])
    command = qemu_command(board, elf)
    trace, log = tmp_path / "exec.log", tmp_path / "qemu.log"
    command += [*one_instruction_per_block(command[0]), "-d", "exec,nochain", "-D", str(trace)]
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        for _ in range(1000):
            found = QEMU_PORT_LINE.search(log.read_text())
            if found or process.poll() is not None:
                break
            time.sleep(0.01)
        assert found, log.read_text()
        port = serial.serial_for_url(f"socket://127.0.0.1:{found.group(1)}", timeout=1.0)
        try:
            link = BoardLink(port, name=f"QEMU {board.qemu_machine}", timeout=30)
            link.hello()
            output, ticks = link.infer(sample)
        finally:
            port.close()
    finally:
        _end_process(process)
    assert output == expected.tobytes()
    exact = timed_instructions(trace, symbol_address(elf, "board_ticks_start"),
                               symbol_address(elf, "board_ticks_elapsed"))
    assert exact, "the trace never went from board_ticks_start to board_ticks_elapsed"
    assert abs(ticks - exact[-1]) <= scale + FUNCTION_BODIES, (ticks, exact[-1])
