#!/usr/bin/env python3
"""Serial fuzz run: throw random, mutated and truncated frames at mcugen firmware and count
what goes wrong (issue #8, item 4). Not a CI test (tests/test_protocol_fuzz.py runs a hundred
frames against the host board); run it by hand:

    .venv/bin/python scripts/fuzz_serial.py --board host --frames 3000
    .venv/bin/python scripts/fuzz_serial.py --board stm32 --frames 2000

It builds the digits MLP for the board, boots it (the native host firmware or one QEMU), and for
each fuzz case writes the bytes, then enough zero bytes to complete any frame the board may still
be collecting (so a case never waits for the board's mid-frame timeout), drains the answers,
and asks HELLO. Counted:
  * hangs: the board did not answer HELLO after a case (it is restarted);
  * crashes: the board process (QEMU or the host firmware) ended;
  * wrong outputs: every `--check-every` cases an inference on a random input must equal the
    golden reference bit for bit.
After the fuzz, a normal verify of 20 samples must be bit-exact.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcugen.data import random_samples
from mcugen.errors import McugenError
from mcugen.project import Options, build, compile_project
from mcugen.target.board import load_board
from mcugen.target.flash import open_board
from mcugen.target.protocol import BoardLink, Command, FrameDecoder, encode_frame
from mcugen.target.verify import golden_outputs, quantize_inputs, verify_on_board

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits"
FLUSH = bytes(256 + 7)  # completes any frame the board may be in the middle of; holds no sync byte


@dataclass
class FuzzResult:
    board: str
    frames: int = 0
    bytes_sent: int = 0
    error_frames: int = 0
    hangs: int = 0
    crashes: int = 0
    checks: int = 0
    wrong_outputs: int = 0
    final_bit_exact: int = 0
    final_samples: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.board}: {self.frames} fuzz frames ({self.bytes_sent:,} bytes) -> {self.error_frames} error "
                f"frames back, {self.hangs} hangs, {self.crashes} crashes, {self.wrong_outputs}/{self.checks} "
                f"wrong outputs; verify afterwards {self.final_bit_exact}/{self.final_samples} bit-exact; "
                f"{self.seconds:.1f} s")


def fuzz_case(rng: random.Random, input_size: int) -> bytes:
    """One case: a random frame, a damaged one, a truncated one, or plain noise."""
    kind = rng.randrange(7)
    command = rng.choice([Command.HELLO, Command.INPUT, Command.INFER, rng.randrange(256)])
    payload = rng.randbytes(rng.choice([0, 1, 3, 4, 5, rng.randrange(300)]))
    if command == Command.INPUT and len(payload) >= 4 and rng.random() < 0.5:
        offset = rng.choice([0, input_size - 1, input_size, 0xFFFFFFFF, rng.randrange(input_size + 8)])
        payload = struct.pack("<I", offset) + payload[4:]
    frame = encode_frame(command, payload[:0xFFFF])
    if kind == 0:  # a well-formed frame with random content
        return frame
    if kind == 1:  # flipped bits
        damaged = bytearray(frame)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        return bytes(damaged)
    if kind == 2:  # truncated anywhere
        return frame[: rng.randrange(1, len(frame))]
    if kind == 3:  # a length the board does not accept
        return b"\xa5\x5a" + bytes([command]) + struct.pack("<H", rng.randrange(257, 0x10000)) + payload[:8]
    if kind == 4:  # noise with sync patterns sprinkled in
        noise = bytearray(rng.randbytes(rng.randrange(1, 200)))
        for _ in range(rng.randrange(4)):
            at = rng.randrange(len(noise))
            noise[at : at + 2] = b"\xa5\x5a"
        return bytes(noise)
    if kind == 5:  # several frames back to back, one of them damaged
        return frame + encode_frame(Command.HELLO) + frame[:-1]
    return rng.randbytes(rng.randrange(1, 40))  # plain noise


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _drain_answers(port, quiet: float = 0.02, limit: float = 2.0) -> list:
    """Read until the line is quiet for `quiet` s (at most `limit` s); the frames that came."""
    decoder, found = FrameDecoder(), []
    deadline = time.monotonic() + limit
    port.timeout = quiet
    while time.monotonic() < deadline:
        data = port.read(4096)
        if not data:
            break
        found += decoder.feed(data)
    return found


def fuzz(board_name: str, frames: int, seed: int = 0, check_every: int = 50, work: Path | None = None,
         final_samples: int = 20) -> FuzzResult:
    """Build the digits MLP for the board and fuzz its serial protocol; see the module docstring."""
    start = time.perf_counter()
    board = load_board(board_name)
    result = FuzzResult(board.name)
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mcugen-fuzz-")))
        opts = Options(model=str(DIGITS / "mlp.onnx"), calib=str(DIGITS / "calib_mlp.npz"), board=board.name,
                       output=str(work / "build"))
        record, _ = build(opts)
        compiled = compile_project(opts)
        checks = random_samples(compiled.float_graph, 8, seed)
        check_inputs = quantize_inputs(compiled, checks)
        _, check_outputs = golden_outputs(compiled, checks)
        rng = random.Random(seed)
        sessions = [contextlib.ExitStack()]  # the current board session; a hang or crash starts another
        stack.callback(lambda: sessions[-1].close())
        session = sessions[-1].enter_context(open_board(board, record.elf))
        link = BoardLink(session.port, name=session.name, timeout=5, expected_hash=record.model_hash)
        info = link.hello()
        for case in range(frames):
            data = fuzz_case(rng, info.input_size)
            try:
                session.port.write(data + FLUSH)
                result.frames += 1
                result.bytes_sent += len(data)
                result.error_frames += sum(getattr(f, "command", None) == 0xEE for f in _drain_answers(session.port))
                link.hello()
                if (case + 1) % check_every == 0:
                    i = rng.randrange(checks.count)
                    output, _ = link.infer(check_inputs[i].tobytes())
                    result.checks += 1
                    got = np.frombuffer(output, dtype=check_outputs.dtype)
                    result.wrong_outputs += int(not np.array_equal(got, check_outputs[i]))
            except (McugenError, OSError) as exc:
                if _alive(session.pid):
                    result.hangs += 1
                else:
                    result.crashes += 1
                print(f"  case {case}: {exc} (input {data[:32].hex()}...); restarting the board", file=sys.stderr)
                sessions[-1].close()  # kills the board process by PID, removes its temp folder
                sessions.append(contextlib.ExitStack())
                session = sessions[-1].enter_context(open_board(board, record.elf))
                link = BoardLink(session.port, name=session.name, timeout=5, expected_hash=record.model_hash)
                link.hello()
        samples = random_samples(compiled.float_graph, final_samples, seed + 1)
        report = verify_on_board(compiled, str(DIGITS / "mlp.onnx"), samples, link, record, board)
        result.final_bit_exact, result.final_samples = report.bit_exact, report.samples
    result.seconds = time.perf_counter() - start
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="host", help="host, or an emulated board (one QEMU at a time)")
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check-every", type=int, default=50, help="an inference checked every N cases")
    args = parser.parse_args()
    result = fuzz(args.board, args.frames, args.seed, args.check_every)
    print(result.summary())
    bad = result.hangs or result.crashes or result.wrong_outputs or result.final_bit_exact != result.final_samples
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
