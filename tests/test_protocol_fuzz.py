"""A small serial fuzz run against the host firmware (scripts/fuzz_serial.py does thousands, on
QEMU boards too): random, damaged, truncated and oversized frames and noise never hang or crash
the board, never change an answer, and a verify afterwards is bit-exact."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fuzz_serial.py"


def load_fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_serial", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_hundred_fuzz_frames_against_the_host_board(tmp_path):
    result = load_fuzzer().fuzz("host", frames=100, seed=7, check_every=20, work=tmp_path, final_samples=5)
    assert result.frames == 100 and result.error_frames > 0  # the board saw damage and said so
    assert (result.hangs, result.crashes, result.wrong_outputs) == (0, 0, 0)
    assert result.checks == 5
    assert result.final_bit_exact == result.final_samples == 5
