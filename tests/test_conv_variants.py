"""The fast int8 conv kernels (issue #9): which kernel each conv layer gets, the compile-time weight
layout, the requantize fast path, and bit-exactness of every variant against the golden reference
on the host (gcc, clang) and on the cores they target under QEMU (DSP path on mps2-an386 and
mps2-an505, portable path on mps2-an385 and microbit, where QEMU traps DSP instructions)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from helpers import WARNINGS, check_bit_exact, make_model, save_samples
from mcugen.cli import main
from mcugen.compiler import compile_model
from mcugen.emit.library import render_library
from mcugen.ops.conv import int8_kernel, pair_rows
from mcugen.ops.fixedpoint import requantize
from mcugen.quant.quantize import LayerPrecision, Precision

KERNELS = Path(__file__).resolve().parent.parent / "firmware" / "kernels"

# (name, in_c, out_c, kernel, stride, pads, group, dilation, the kernel mcugen must pick); chained,
# so each layer's output channels are the next one's input channels. The sizes hit every branch of
# the fast kernels: input channels % 4 = 0..3 (the SMLAD tail), an odd last output channel, an odd
# pixel count, strides, and the layers the fast kernels must leave to the general one.
CHAIN = [
    ("first_1ch", 1, 6, (5, 4), 1, (2, 1, 2, 2), 1, 1, "conv_im2col_s8"),
    ("c3x3", 6, 7, (3, 3), 1, 1, 1, 1, "conv_im2col_s8"),
    ("c3x3_s2_asym", 7, 8, (3, 3), 2, (0, 0, 1, 0), 1, 1, "conv_im2col_s8"),
    ("c3x3_dilated", 8, 6, (3, 3), 1, 2, 1, 2, "conv_im2col_s8"),
    ("grouped", 6, 6, (3, 3), 1, 1, 3, 1, "conv_im2col_s8"),
    ("grouped_odd", 6, 9, (3, 3), 1, 1, 3, 1, "conv_im2col_s8"),
    ("pw_odd", 9, 7, (1, 1), 1, 0, 1, 1, "conv_1x1_s8"),
    ("pw_stride2", 7, 6, (1, 1), 2, 0, 1, 1, "conv_1x1_s8"),
    ("pw_tail2", 6, 9, (1, 1), 1, 0, 1, 1, "conv_1x1_s8"),
    ("pw_padded", 9, 4, (1, 1), 1, 1, 1, 1, "conv_im2col_s8"),
    ("pw_grouped", 4, 6, (1, 1), 1, 0, 2, 1, "conv_im2col_s8"),
    ("pw_wide", 6, 16, (1, 1), 1, 0, 1, 1, "conv_1x1_s8"),
    ("pw_blocks", 16, 8, (1, 1), 1, 0, 1, 1, "conv_1x1_s8"),
]
INPUT_HW = (20, 16)


def chain_model(path: Path, chain=CHAIN, hw=INPUT_HW) -> Path:
    rng = np.random.default_rng(91)
    nodes, inits, src = [], {}, "x"
    for i, (name, in_c, out_c, k, stride, pads, group, dilation, _) in enumerate(chain):
        inits[f"W{i}"] = (rng.standard_normal([out_c, in_c // group, *k]) * 0.4).astype(np.float32)
        inits[f"B{i}"] = (rng.standard_normal([out_c]) * 0.2).astype(np.float32)
        pad_list = [pads[0], pads[1], pads[2], pads[3]] if isinstance(pads, tuple) else [pads] * 4
        conv_out = "y" if i == len(chain) - 1 else f"c{i}"
        nodes.append(helper.make_node("Conv", [src, f"W{i}", f"B{i}"], [conv_out], name=name, kernel_shape=list(k),
                                      strides=[stride, stride], pads=pad_list, group=group,
                                      dilations=[dilation, dilation]))
        if i < len(chain) - 1:
            nodes.append(helper.make_node("Relu", [conv_out], [f"r{i}"]))
            src = f"r{i}"
    return make_model(path, nodes, {"x": [1, chain[0][1], *hw]}, {"y": None}, inits)


def samples(tmp_path: Path, n: int, seed: int) -> Path:
    x = np.random.default_rng(seed).standard_normal([n, CHAIN[0][1], *INPUT_HW]).astype(np.float32)
    return save_samples(tmp_path / f"x{seed}.npz", {"x": x})


def kernel_call_of(model_c: str, layer: str) -> str:
    """The schedule line calling the kernel of the layer the step comment names (identifiers are generated)."""
    lines = model_c.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("/*") and f'"{layer}"' in line)
    return next(line for line in lines[start + 1:] if "(&" in line)


def test_each_layer_gets_its_kernel(tmp_path):
    compiled = compile_model(chain_model(tmp_path / "chain.onnx"), samples(tmp_path, 16, 1))
    files, _ = render_library(compiled.graph)
    model_c = files[f"{compiled.graph.name}.c"]
    for name, *_rest, kernel in CHAIN:
        call = kernel_call_of(model_c, name)
        assert f"_{kernel}(&" in call, call


def test_int4_pointwise_layers_get_the_int4_pointwise_kernel(tmp_path):
    compiled = compile_model(chain_model(tmp_path / "chain.onnx"), samples(tmp_path, 16, 1),
                             precision=Precision(LayerPrecision(4, 8)))
    files, _ = render_library(compiled.graph)
    model_c = files[f"{compiled.graph.name}.c"]
    for name, *_rest, kernel in CHAIN:
        call = kernel_call_of(model_c, name)
        assert f"_{'conv_1x1_s4' if kernel == 'conv_1x1_s8' else 'conv_s4'}(&" in call, call


def test_pair_rows_interleaves_channel_pairs_by_words():
    w = np.arange(5 * 6).reshape(5, 6)  # 5 channels of n = 6: two pairs and a last odd channel
    laid = pair_rows(w, groups=1)
    u, v = w[0], w[1]
    assert list(laid[:12]) == [*u[:4], *v[:4], *u[4:], *v[4:]]
    assert list(laid[24:]) == list(w[4])  # the odd channel: a plain row, still at 4 * n
    assert sorted(laid) == sorted(w.reshape(-1))
    grouped = pair_rows(np.arange(6 * 4).reshape(6, 4), groups=2)  # 3 channels per group: pairs stay inside
    assert list(grouped[8:12]) == list(range(8, 12)) and list(grouped[12:20]) == [*range(12, 16), *range(16, 20)]


def test_requantize_fast_path_equals_the_reference(tmp_path):
    """mcugen_requantize takes a fast path for shift <= -2; sweep it against codegen/ops/fixedpoint.py."""
    rng = np.random.default_rng(5)
    edges = np.array([0, 1, -1, 2, -2, 3, -3, 2**30, -(2**30), 2**31 - 1, -(2**31), -(2**31) + 1, 12345, -12345])
    acc = np.concatenate([np.repeat(edges, 40), rng.integers(-(2**31), 2**31, 4000),
                          rng.integers(-(2**20), 2**20, 4000), rng.integers(-300, 300, 2000)])
    mult = np.concatenate([np.tile([0, 1, 2**30, 2**31 - 1, 1518500250, 2**30 + 1, 1073741823, 1999999999],
                                   70)[:len(edges) * 40], rng.integers(2**30, 2**31, 8000),
                           rng.integers(0, 2**31, 2000)])
    shift = rng.integers(-31, 3, len(acc))
    shift[: len(edges) * 40] = np.tile(np.arange(-31, 9), len(edges))[: len(edges) * 40]
    shift = np.clip(shift, -31, 2)
    triples = np.stack([acc, mult, shift], axis=1).astype(np.int32)
    src = tmp_path / "rq.c"
    src.write_text('#include <stdio.h>\n#include "mcugen_fixedpoint.h"\n'
                   "int main(void) {\n    long a, m, s;\n"
                   '    while (scanf("%ld %ld %ld", &a, &m, &s) == 3)\n'
                   '        printf("%ld\\n", (long)mcugen_requantize((int32_t)a, (int32_t)m, (int32_t)s));\n'
                   "    return 0;\n}\n")
    text = "\n".join(" ".join(map(str, t)) for t in triples.tolist())
    expected = requantize(triples[:, 0].astype(np.int64), triples[:, 1], triples[:, 2])
    for cc in ("gcc", "clang"):
        exe = tmp_path / f"rq_{cc}"
        subprocess.run([cc, *WARNINGS, "-O2", f"-I{KERNELS}", str(src), "-o", str(exe)], check=True)
        got = np.array(subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True)
                       .stdout.split(), dtype=np.int64)
        bad = np.flatnonzero(got != expected)
        assert bad.size == 0, f"{cc}: {triples[bad[0]]} gives {got[bad[0]]}, reference {expected[bad[0]]}"


def test_chain_bit_exact_on_the_host(tmp_path):
    model = chain_model(tmp_path / "chain.onnx")
    x = np.random.default_rng(2).standard_normal([10, CHAIN[0][1], *INPUT_HW]).astype(np.float32) * 1.3
    check_bit_exact(model, samples(tmp_path, 32, 1), tmp_path, {"x": x})


def test_int4_chain_bit_exact_on_the_host(tmp_path):
    model = chain_model(tmp_path / "chain.onnx")
    x = np.random.default_rng(3).standard_normal([10, CHAIN[0][1], *INPUT_HW]).astype(np.float32) * 1.3
    check_bit_exact(model, samples(tmp_path, 32, 1), tmp_path, {"x": x}, precision=Precision(LayerPrecision(4, 8)))


@pytest.mark.parametrize("board,weights", [("mps2-an386", "int8"), ("mps2-an505", "int8"), ("mps2-an385", "int8"),
                                           ("microbit", "int8"), ("mps2-an386", "int4"), ("mps2-an385", "int4")])
def test_chain_bit_exact_on_the_board(board, weights, tmp_path, capsys):
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    model = chain_model(tmp_path / "chain.onnx")
    code = main(["verify", str(model), "--board", board, "--emulate", "--calib", str(samples(tmp_path, 32, 1)),
                 "--data", str(samples(tmp_path, 6, 2)), "-o", str(tmp_path / "build"), "--json",
                 "--weights", weights])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 6 and report["mismatches"] == []


def test_im2col_scratch_is_counted_in_the_arena(tmp_path):
    """The im2col kernel's scratch (two windows, each padded to a multiple of 4 bytes: 2 * 5 * 4 * 1
    bytes for first_1ch, 2 * 56 for c3x3's 3 * 3 * 6 = 54, ...) gets arena bytes alive only at its
    layer, apart from that layer's tensors."""
    compiled = compile_model(chain_model(tmp_path / "chain.onnx"), samples(tmp_path, 16, 1))
    files, lib = render_library(compiled.graph)
    graph, plan = compiled.graph, lib.plan
    for step, node in enumerate(graph.nodes):
        if node.q.get("scratch") is None:
            continue
        scratch = node.q["scratch"]
        w = graph.tensors[node.q["weights"]]
        n = int(np.prod(w.shape[1:]))
        assert graph.tensors[scratch].nbytes == 2 * ((n + 3) // 4 * 4)
        assert plan.where[scratch].region == "arena" and plan.lifetimes[scratch] == (step, step)
        at, size = plan.where[scratch], graph.tensors[scratch].nbytes
        for t in (node.inputs[0], node.outputs[0]):
            p = plan.where[t]
            if p.region == "arena":
                assert at.offset + size <= p.offset or p.offset + graph.tensors[t].nbytes <= at.offset
        assert f"arena + {at.offset})" in files[f"{graph.name}.c"]


def requantize_kinds_model(path: Path) -> Path:
    """Conv layers whose channel pairs take every epilogue of the fast kernels: channels with nearly
    vanishing weights (a real multiplier below 2^-23: the offset added after the shift), multipliers
    of 1/4 or more (a narrow Clip: mcugen_requantize's general path), clamps inside int8 (a Clip
    whose bounds exclude 0) and int8's own range, an odd pixel count (7 x 9), im2col windows of 27
    (padded to 28) and 54 (to 56) bytes."""
    rng = np.random.default_rng(17)
    scale = np.ones(8, np.float32)
    scale[[1, 4]] = 1e-7  # tiny weights: shift < -23
    inits = {
        "W0": (rng.standard_normal([8, 3, 3, 3]) * 0.4 * scale[:, None, None, None]).astype(np.float32),
        "B0": (rng.standard_normal([8]) * 0.2).astype(np.float32),
        "W1": (rng.standard_normal([8, 8, 1, 1]) * 0.4 * scale[:, None, None, None]).astype(np.float32),
        "W2": (rng.standard_normal([6, 8, 1, 1]) * 0.4 * scale[:6, None, None, None]).astype(np.float32),
        "lo1": np.array(0.05, np.float32), "hi1": np.array(0.1, np.float32),  # a narrow clamp: multipliers >= 1/4
        "lo3": np.array(0.2, np.float32), "hi3": np.array(3.0, np.float32),   # act_min above the zero point
        "W3": (rng.standard_normal([8, 6, 3, 3]) * 0.3).astype(np.float32),
        "W4": (rng.standard_normal([8, 8, 1, 1]) * 0.3).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "W0", "B0"], ["c0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),  # n = 27
        helper.make_node("Relu", ["c0"], ["r0"]),
        helper.make_node("Conv", ["r0", "W1"], ["c1"], kernel_shape=[1, 1]),
        helper.make_node("Clip", ["c1", "lo1", "hi1"], ["a1"]),
        helper.make_node("Conv", ["a1", "W2"], ["c2"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "W3"], ["c3"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),  # n = 54
        helper.make_node("Clip", ["c3", "lo3", "hi3"], ["r3"]),
        helper.make_node("Conv", ["r3", "W4"], ["y"], kernel_shape=[1, 1]),
    ]
    # every layer's output is a model output: the narrow Clip would hide what the layers before it do
    return make_model(path, nodes, {"x": [1, 3, 7, 9]}, {t: None for t in ("r0", "a1", "r2", "r3", "y")}, inits)


def kinds_samples(tmp_path: Path, n: int, seed: int) -> Path:
    x = np.random.default_rng(seed).standard_normal([n, 3, 7, 9]).astype(np.float32)
    return save_samples(tmp_path / f"k{seed}.npz", {"x": x})


def test_requantize_kinds_are_all_taken(tmp_path):
    """The model above really has shifts below -23 in its fast layers (else the offset-after path
    would go untested)."""
    compiled = compile_model(requantize_kinds_model(tmp_path / "kinds.onnx"), kinds_samples(tmp_path, 32, 1))
    convs = [n for n in compiled.graph.nodes if n.op == "conv"]
    shifts = [compiled.graph.const(n.q["shift"]) for n in convs]
    assert [int8_kernel(n, compiled.graph) for n in convs] == ["conv_im2col_s8", "conv_1x1_s8", "conv_1x1_s8",
                                                                 "conv_im2col_s8", "conv_1x1_s8"]
    assert (shifts[0] < -23).any() and (shifts[2] < -23).any()  # the offset after the shift, on full-range layers
    assert (shifts[1] > -2).any()                               # mcugen_requantize's general path
    assert convs[1].q["act_min"] > -128 and convs[3].q["act_min"] > -128  # clamps inside int8
    assert convs[0].q["act_min"] == convs[2].q["act_min"] == convs[4].q["act_min"] == -128


def test_requantize_kinds_bit_exact_on_the_host(tmp_path):
    x = np.random.default_rng(4).standard_normal([8, 3, 7, 9]).astype(np.float32) * 1.3
    check_bit_exact(requantize_kinds_model(tmp_path / "kinds.onnx"), kinds_samples(tmp_path, 32, 1), tmp_path,
                    {"x": x})


@pytest.mark.parametrize("board", ["mps2-an386", "mps2-an505", "mps2-an385", "microbit"])
def test_requantize_kinds_bit_exact_on_the_board(board, tmp_path, capsys):
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    model = requantize_kinds_model(tmp_path / "kinds.onnx")
    code = main(["verify", str(model), "--board", board, "--emulate", "--calib", str(kinds_samples(tmp_path, 32, 1)),
                 "--data", str(kinds_samples(tmp_path, 6, 2)), "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 6 and report["mismatches"] == []
