"""The fast depthwise-conv and fully-connected kernels (issue #9): their requantize fast paths
against the spec's arithmetic (codegen/ops/fixedpoint.py), and their DSP and portable paths against
the golden reference on the cores they target (QEMU). The host sweeps over shapes live in
op_cases.py (test_ops_bit_exact.py runs them with gcc and clang)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from helpers import check_bit_exact, make_model, save_samples
from mcugen.cli import main
from mcugen.compiler import compile_model
from mcugen.emit.library import render_library
from mcugen.ops.fixedpoint import requantize
from mcugen.ops.fully_connected import FullyConnected, fast_requantize
from mcugen.quant.quantize import LayerPrecision, Precision
from op_cases import activation, w

KERNELS = Path(__file__).resolve().parent.parent / "firmware" / "kernels"

# A host program that includes a kernel's .c and applies its static requantize to int32 triples
# (acc, multiplier, shift) read from stdin, writing the int32 results to stdout.
HARNESS = """
#include <stdio.h>
#include "mcugen_{kernel}.c"
{wrapper}
int main(void)
{{
    int32_t t[3];
    while (fread(t, sizeof t, 1, stdin) == 1) {{
        const int32_t y = {function}(t[0], t[1], t[2]);
        fwrite(&y, sizeof y, 1, stdout);
    }}
    return 0;
}}
"""

# The depthwise kernel's requantize as dw_group4 sets it up and dw_store4 applies it: with the
# output offset folded into the rounding term for shifts in [-23, -2] (taken off again here, so
# the result compares with the spec's requantize); both offsets' extremes.
DW_WRAPPER = """
static int32_t dw_as_used(int32_t acc, int32_t multiplier, int32_t shift)
{
    static const int32_t offsets[2] = {-128, 127};
    const int32_t offset = offsets[acc & 1];
    if (shift > -2 || shift < -23) return dw_requantize_general(acc, multiplier, shift, offset) - offset;
    const int32_t round = (1 << (-shift - 2)) + (int32_t)((uint32_t)offset << (-shift - 1));
    return mcugen_requantize_offset_right(acc, multiplier, round, -shift - 1) - offset;
}
"""


def requantize_cases() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accumulators over the whole int32 range and near zero, Q31 multipliers at both ends of their
    range and 0, every shift from -31 (fast path) to 1 (left shift); plus exact ties (x.5) and
    their neighbours, where the two roundings of the spec differ from one rounding."""
    rng = np.random.default_rng(11)
    n = 60000
    acc = np.concatenate([rng.integers(-2**31, 2**31, n // 3), rng.integers(-70000, 70000, n // 3),
                          rng.integers(-300, 300, n - 2 * (n // 3))])
    acc[:4] = [-2**31, 2**31 - 1, 0, -1]
    mult = rng.integers(2**30, 2**31, n)
    mult[4:200] = 0
    mult[200:400] = 2**31 - 1
    mult[400:600] = 2**30
    shift = rng.integers(-31, 2, n)
    # ties: with multiplier 2^30 the real multiplier is 2^(shift-1), so acc = (2k+1) * 2^-shift is k + 0.5
    t_shift = rng.integers(-20, -1, 20000)
    k = (rng.uniform(-1, 1, 20000) * (2.0**29 / 2.0**-t_shift)).astype(np.int64)  # keeps acc within int32
    t_acc = ((2 * k + 1) << -t_shift) + rng.integers(-1, 2, 20000)
    acc = np.concatenate([acc, t_acc])
    mult = np.concatenate([mult, np.full(20000, 2**30)])
    shift = np.concatenate([shift, t_shift])
    return acc.astype(np.int64), mult.astype(np.int64), shift.astype(np.int64)


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
@pytest.mark.parametrize("kernel,function,wrapper", [("fully_connected_s8", "mcugen_requantize", ""),
                                                     ("depthwise_conv_3x3_s8", "dw_as_used", DW_WRAPPER)])
def test_fast_requantize_equals_the_spec(tmp_path, compiler, kernel, function, wrapper):
    source = tmp_path / "harness.c"
    source.write_text(HARNESS.format(kernel=kernel, function=function, wrapper=wrapper))
    exe = tmp_path / "harness"
    build = subprocess.run([compiler, "-std=c99", "-O2", f"-I{KERNELS}", str(source), "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[:3000]
    acc, mult, shift = requantize_cases()
    triples = np.stack([acc, mult, shift], axis=1).astype("<i4")
    run = subprocess.run([str(exe)], input=triples.tobytes(), capture_output=True, timeout=60)
    assert run.returncode == 0
    got = np.frombuffer(run.stdout, "<i4").astype(np.int64)
    expected = requantize(acc, mult, shift)
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, (f"{bad.size} differ, first: acc {acc[bad[0]]} multiplier {mult[bad[0]]} "
                           f"shift {shift[bad[0]]}: C {got[bad[0]]}, spec {expected[bad[0]]}")


INPUT = [1, 6, 9, 8]


def variants_model(path: Path) -> Path:
    """One model whose layers take every path of the fast kernels: 3x3 depthwise with a channel
    group and leftover channels, interior and border pixels, stride 2 and asymmetric padding;
    fully connected with 4-row blocks and leftover rows, whole input words and 2- and 3-byte tails."""
    rng = np.random.default_rng(5)
    inits: dict[str, np.ndarray] = {}
    nodes = [
        helper.make_node("Conv", ["x", "D1", "E1"], ["d1"], group=6, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["d1"], ["r0"]),
        helper.make_node("Conv", ["r0", "D2", "E2"], ["d2"], group=6, kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 0, 0, 1]),                              # [1, 6, 4, 4]
        *activation("clip", "d2", "a2", inits),                          # both clamp bounds inside int8
        helper.make_node("Flatten", ["a2"], ["f"]),
        helper.make_node("Gemm", ["f", "W1", "B1"], ["g1"], transB=1),   # 96 -> 10: 2 rows left
        helper.make_node("Relu", ["g1"], ["r1"]),
        helper.make_node("Gemm", ["r1", "W2", "B2"], ["g2"], transB=1),  # 10 -> 7: tail 2, 3 rows left
        helper.make_node("Gemm", ["g2", "W3"], ["y"], transB=1),         # 7 -> 4: tail 3, one block
    ]
    inits |= {"D1": w(6, 1, 3, 3, rng=rng), "E1": w(6, rng=rng), "D2": w(6, 1, 3, 3, rng=rng), "E2": w(6, rng=rng),
             "W1": w(10, 96, rng=rng), "B1": w(10, rng=rng), "W2": w(7, 10, rng=rng), "B2": w(7, rng=rng),
             "W3": w(4, 7, rng=rng)}
    return make_model(path, nodes, {"x": INPUT}, {"y": None}, inits)


@pytest.mark.parametrize("board,activations,weights", [
    ("mps2-an386", "int8", "int8"), ("mps2-an505", "int8", "int8"), ("mps2-an385", "int8", "int8"),
    ("microbit", "int8", "int8"), ("mps2-an386", "int16", "int8"), ("mps2-an505", "int16", "int8"),
    ("mps2-an385", "int16", "int8"),
    ("mps2-an386", "int8", "int4"), ("mps2-an505", "int8", "int4"), ("mps2-an385", "int8", "int4"),
    ("microbit", "int8", "int4")])
def test_variants_bit_exact_on_the_cores(capsys, tmp_path, board, activations, weights):
    """DSP path on M4 (an386) and M33 (an505); portable on M3 (an385) and M0 (microbit), where QEMU
    would trap a DSP instruction, so a pass there also proves the selection. int16 activations
    take the _s16 kernels (fully_connected_s16's SMLALD path); int4 weights the _s4 kernels
    (fully_connected_s4's nibble words: every path again, 4-row blocks, leftover rows, tails)."""
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    model = variants_model(tmp_path / "variants.onnx")
    rng = np.random.default_rng(2)
    calib = save_samples(tmp_path / "calib.npz", {"x": rng.standard_normal([32, *INPUT[1:]]).astype(np.float32)})
    data = save_samples(tmp_path / "data.npz", {"x": rng.standard_normal([6, *INPUT[1:]]).astype(np.float32) * 1.3})
    code = main(["verify", str(model), "--board", board, "--calib", str(calib), "--data", str(data),
                 "--activations", activations, "--weights", weights, "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 6 and report["mismatches"] == []


# The fully connected kernels' fast requantize (fc_requantize_fast) with the byte the compiler
# stores (b = -shift - 2) and 2 * offset + 1; the offset is taken off again in Python.
FC_HARNESS = """
#include <stdio.h>
#include "mcugen_fully_connected_s8.c"
int main(void)
{
    int32_t t[4]; /* acc, multiplier, b, 2 * offset + 1 */
    while (fread(t, sizeof t, 1, stdin) == 1) {
        const int32_t y = fc_requantize_fast(t[0], t[1], t[2], t[3]);
        fwrite(&y, sizeof y, 1, stdout);
    }
    return 0;
}
"""


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_fc_fast_requantize_equals_the_spec(tmp_path, compiler):
    """Every fast shift from -23 to -2 and both offsets' extremes: the spec's requantize plus the
    output offset; shifts outside [-23, -2] get no fast path."""
    source = tmp_path / "harness.c"
    source.write_text(FC_HARNESS)
    exe = tmp_path / "harness"
    build = subprocess.run([compiler, "-std=c99", "-O2", f"-I{KERNELS}", str(source), "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[:3000]
    acc, mult, tie_shift = requantize_cases()
    rng = np.random.default_rng(12)
    shift = rng.integers(-23, -1, acc.size)
    shift[-20000:] = tie_shift[-20000:]  # requantize_cases' exact ties keep the shifts they were made for
    offset = rng.choice([-128, -127, -1, 0, 1, 126, 127], acc.size)
    quads = np.stack([acc, mult, -shift - 2, 2 * offset + 1], axis=1).astype("<i4")
    run = subprocess.run([str(exe)], input=quads.tobytes(), capture_output=True, timeout=60)
    assert run.returncode == 0
    got = np.frombuffer(run.stdout, "<i4").astype(np.int64)
    expected = requantize(acc, mult, shift) + offset
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, (f"{bad.size} differ, first: acc {acc[bad[0]]} multiplier {mult[bad[0]]} "
                           f"shift {shift[bad[0]]} offset {offset[bad[0]]}: C {got[bad[0]]}, spec {expected[bad[0]]}")
    assert fast_requantize(np.array([-23, -2])) and not fast_requantize(np.array([-5, -1]))
    assert not fast_requantize(np.array([-24, -3])) and not fast_requantize(np.array([], np.int8))


CANCEL_INPUT = [1, 6]


def cancelling_fc_model(path: Path) -> Path:
    """A fully connected layer whose rows weigh pairs of inputs that the data keeps nearly equal
    (x0 = x1, x2 = x3, x4 = x5 up to noise) with opposite signs: the outputs are tiny, so the real
    multipliers of rows 0, 2, 5 are >= 1/4 (shift >= -1), while the other rows' weights are 1000x
    smaller and their shifts ordinary. The layer then has no fast requantize path: every row takes
    the general one (a 4-row block and leftover rows)."""
    rng = np.random.default_rng(9)
    weights = w(7, 3, rng=rng).repeat(2, axis=1) * np.array([1, -1] * 3, np.float32)
    weights[[1, 3, 4, 6]] *= 1e-3
    nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)]
    return make_model(path, nodes, {"x": CANCEL_INPUT}, {"y": None},
                      {"W": weights, "B": np.zeros(7, np.float32)})


def cancelling_samples(rng: np.random.Generator, n: int) -> np.ndarray:
    base = rng.standard_normal([n, 3]).astype(np.float32)
    x = np.repeat(base, 2, axis=1)
    return (x + rng.standard_normal(x.shape).astype(np.float32) * 0.003).astype(np.float32)


def test_fc_general_requantize_path_is_taken_and_bit_exact(tmp_path):
    """Host gcc and clang: the layer really has shifts outside [-23, -2] (so `fast` is 0) and
    the C equals the golden reference."""
    model = cancelling_fc_model(tmp_path / "cancel.onnx")
    rng = np.random.default_rng(4)
    calib = save_samples(tmp_path / "calib.npz", {"x": cancelling_samples(rng, 64)})
    compiled = check_bit_exact(model, calib, tmp_path, {"x": cancelling_samples(rng, 16)})
    g = compiled.graph
    fc = next(n for n in g.nodes if n.op == "fully_connected")
    shifts = g.const(fc.q["shift"])
    assert shifts.max() > -2 and shifts.min() <= -2
    assert FullyConnected().kernel_calls(fc, g)[0].params["fast"] == 0


@pytest.mark.parametrize("board", ["mps2-an386", "mps2-an505", "mps2-an385"])
def test_fc_general_requantize_path_on_the_cores(capsys, tmp_path, board):
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    model = cancelling_fc_model(tmp_path / "cancel.onnx")
    rng = np.random.default_rng(4)
    calib = save_samples(tmp_path / "calib.npz", {"x": cancelling_samples(rng, 64)})
    data = save_samples(tmp_path / "data.npz", {"x": cancelling_samples(rng, 6)})
    code = main(["verify", str(model), "--board", board, "--calib", str(calib), "--data", str(data),
                 "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 6 and report["mismatches"] == []


def test_fc_input_pairs_scratch_is_counted_in_the_arena(tmp_path):
    """fully_connected_s8's scratch (the input as int16 pairs: 8 bytes per input word, 96 inputs ->
    192, 10 -> 24, 7 -> 16) gets arena bytes alive only at its layer, apart from that layer's
    tensors, and the call passes it; int4 layers (fully_connected_s4) take the same, int16 ones none."""
    rng = np.random.default_rng(2)
    model = variants_model(tmp_path / "variants.onnx")
    calib = save_samples(tmp_path / "calib.npz", {"x": rng.standard_normal([16, *INPUT[1:]]).astype(np.float32)})
    compiled = compile_model(model, calib, "net")
    files, lib = render_library(compiled.graph)
    graph, plan = compiled.graph, lib.plan
    sizes = []
    for step, node in enumerate(graph.nodes):
        if node.op != "fully_connected":
            continue
        scratch = node.q["scratch"]
        size = graph.tensors[scratch].nbytes
        sizes.append(size)
        assert plan.where[scratch].region == "arena" and plan.lifetimes[scratch] == (step, step)
        at = plan.where[scratch]
        for t in (node.inputs[0], node.outputs[0]):
            p = plan.where[t]
            if p.region == "arena":
                assert at.offset + size <= p.offset or p.offset + graph.tensors[t].nbytes <= at.offset
        assert f"arena + {at.offset});" in files["net.c"]
    assert sizes == [192, 24, 16]
    for precision, expected in ((LayerPrecision(4, 8), [192, 24, 16]), (LayerPrecision(8, 16), [None] * 3)):
        g = compile_model(model, calib, "net", precision=Precision(precision)).graph
        got = [FullyConnected().scratch(n, g) for n in g.nodes if n.op == "fully_connected"]
        assert [g.tensors[t].nbytes if t else None for t in got] == expected
