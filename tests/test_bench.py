"""`mcugen bench`: the counting plugin counts a known loop exactly, and bench runs a tiny model in
QEMU and prints a table with sane fields. No timing is asserted (counts are exact, not timed)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from onnx import helper

from helpers import make_model, save_samples
from mcugen.bench import build_plugin, parse_marks
from mcugen.cli import main
from mcugen.target.board import load_board
from mcugen.target.flash import QEMU_ICOUNT

# A vector table and a loop of ITERATIONS x BODY instructions between two marker labels, then a
# system reset (QEMU with -no-reboot exits). Instructions from `begin` to `end`: the nop at
# begin, the movw, and the loop body ITERATIONS times.
ITERATIONS = 1000
LOOP_ASM = """
    .syntax unified
    .thumb
    .section .vectors, "a"
    .word 0x20001000
    .word reset + 1
    .text
    .thumb_func
reset:
    ldr r4, =0x40004004
    .global begin
begin:
    nop
    movw r0, #{iterations}
again:
{body}
    subs r0, r0, #1
    bne again
    .global end
end:
    nop
    ldr r1, =0xE000ED0C
    ldr r2, =0x05FA0004
    str r2, [r1]
hang:
    b hang
"""


def _symbol(elf, name: str) -> int:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return next(int(line.split()[0], 16) for line in out.splitlines() if line.split()[-1] == name) & ~1


# The second body reads the UART's STATE register: under -icount QEMU re-executes an I/O access
# that is not the last instruction of its block, which must not be counted twice.
@pytest.mark.parametrize("body", [["nop"], ["nop", "ldr r3, [r4]"]], ids=["registers", "with-mmio-load"])
def test_plugin_counts_a_known_loop_exactly(tmp_path, body):
    source = tmp_path / "loop.S"
    source.write_text(LOOP_ASM.format(iterations=ITERATIONS, body="\n".join(f"    {i}" for i in body)))
    (tmp_path / "link.ld").write_text("SECTIONS { . = 0; .text : { KEEP(*(.vectors)) *(.text*) } }\n")
    elf = tmp_path / "loop.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-nostartfiles",
                    f"-T{tmp_path / 'link.ld'}", str(source), "-o", str(elf)], check=True, capture_output=True)
    marks = [_symbol(elf, "begin"), _symbol(elf, "end")]
    log = tmp_path / "plugin.log"
    plugin = build_plugin(tmp_path / "cache")
    subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-display", "none", "-monitor", "none", "-serial", "null",
                    "-icount", QEMU_ICOUNT, "-no-reboot", "-kernel", str(elf),
                    "-plugin", f"{plugin},marks={':'.join(hex(m) for m in marks)}", "-d", "plugin", "-D", str(log)],
                   check=True, timeout=60, capture_output=True)
    seen = parse_marks(log.read_text())
    assert [index for index, _ in seen] == [0, 1]
    assert seen[1][1] - seen[0][1] == 2 + (len(body) + 2) * ITERATIONS


def _tiny_model(tmp_path):
    """A conv + relu + FC model: three weighted layers are enough to check the per-layer split."""
    rng = np.random.default_rng(7)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1)]
    model = make_model(tmp_path / "tiny.onnx", nodes, {"x": [1, 2, 6, 6]}, {"y": [1, 5]},
                       {"w1": rng.standard_normal((4, 2, 3, 3)), "b1": rng.standard_normal(4) * 0.1,
                        "w2": rng.standard_normal((5, 144)) * 0.1, "b2": rng.standard_normal(5) * 0.1})
    calib = save_samples(tmp_path / "calib.npz", {"x": rng.standard_normal((8, 2, 6, 6)).astype(np.float32)})
    return model, calib


def test_bench_prints_exact_counts_for_a_tiny_model(tmp_path, capsys):
    model, calib = _tiny_model(tmp_path)
    cache = tmp_path / "cache"
    assert main(["bench", str(model), "--calib", str(calib), "--board", "mps2-an386", "--cache", str(cache),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["models"][0]
    conv_macs, fc_macs = 6 * 6 * 4 * 2 * 9, 144 * 5
    assert result["model"] == "tiny" and result["board"] == "mps2-an386" and result["core"] == "cortex-m4"
    assert result["macs"] == conv_macs + fc_macs and result["bit_exact"] is True
    assert [layer["macs"] for layer in result["layers"]] == [conv_macs, fc_macs]
    assert [layer["kernels"] for layer in result["layers"]] == [["conv_im2col_s8"], ["fully_connected_s8"]]
    # the layers and invoke's tail add up to the exact total; the board's SysTick (one tick per 40
    # instructions on mps2) agrees with it to within a tick and the markers' few instructions
    assert sum(layer["instructions"] for layer in result["layers"]) + result["invoke_tail"] == result["instructions"]
    assert result["instructions"] > result["macs"] and abs(result["ticks"] - result["instructions"]) <= 40 + 16
    assert 0 < result["stack_invoke_bytes"] < result["stack_peak_bytes"] < result["stack_reserved_bytes"]
    assert result["flash_weights"] >= 4 * 2 * 9 + 5 * 144 and result["flash_model_code"] > 0
    assert result["flash_runtime"] > 0 and result["arena_bytes"] > 0 and result["compile_seconds"] > 0

    # the text tables: one row per model, one per layer, the total; the build is reused from the cache
    assert main(["bench", str(model), "--calib", str(calib), "--board", "mps2-an386", "--cache", str(cache),
                 "--layers"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("tiny "))
    assert f"{result['instructions']:,}" in row and "yes" in row and f"{conv_macs + fc_macs:,}" in row
    assert "conv_im2col_s8" in out and "fully_connected_s8" in out and "100.0 %" in out


def test_bench_refuses_boards_without_an_emulator_and_missing_models(tmp_path, capsys):
    assert load_board("nucleo-f446re").qemu_machine is None
    assert main(["bench", str(tmp_path / "none.onnx"), "--board", "nucleo-f446re", "--cache", str(tmp_path)]) == 1
    assert "no emulator" in capsys.readouterr().err
    assert main(["bench", str(tmp_path / "none.onnx"), "--cache", str(tmp_path)]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_bench_reads_the_stack_on_a_secure_world_board(tmp_path, capsys):
    """mps2-an505 runs in the secure world: its RAM (0x38000000) must be read as the CPU sees it,
    or the stack watermark reads as 0."""
    model, calib = _tiny_model(tmp_path)
    assert main(["bench", str(model), "--calib", str(calib), "--board", "mps2-an505", "--cache",
                 str(tmp_path / "cache"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["models"][0]
    assert result["bit_exact"] is True and result["core"] == "cortex-m33"
    assert 0 < result["stack_invoke_bytes"] < result["stack_peak_bytes"] < result["stack_reserved_bytes"]


def test_bench_skips_a_model_that_fails_and_benches_the_rest(tmp_path, capsys):
    model, _ = _tiny_model(tmp_path)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    code = main(["bench", str(broken), str(model), "--board", "mps2-an385", "--cache", str(tmp_path / "cache")])
    out, err = capsys.readouterr()
    assert code == 1 and "broken.onnx skipped" in err
    assert next(line for line in out.splitlines() if line.startswith("tiny ")).split()[1] == "mps2-an385"


def test_the_default_suite_has_the_official_shapes_and_reference_figures(tmp_path):
    """benchmarks/mlperf_tiny.py's models carry the MACs that reference.toml's TFLM figures were
    measured on, so bench's "x TFLM" column compares like with like; the suite is built once."""
    from mcugen.bench import default_suite, load_reference
    from mcugen.compiler import load_float_graph
    from mcugen.inspect import layer_table

    suite = default_suite(tmp_path)
    reference = load_reference()
    assert [model.stem for model, _ in suite] == list(reference)
    for model, calib in suite:
        graph = load_float_graph(model)
        assert layer_table(graph)["totals"]["macs"] == reference[model.stem]["cortex-m4"]["macs"]
        assert reference[model.stem]["cortex-m4"]["instructions"] > 0 and "issue #9" in \
            reference[model.stem]["cortex-m4"]["source"]
        assert np.load(calib)["input_1"].shape[1:] == tuple(graph.io["input_1"].onnx_shape[1:])
    stamps = [model.stat().st_mtime_ns for model, _ in suite]
    assert [model.stat().st_mtime_ns for model, _ in default_suite(tmp_path)] == stamps
