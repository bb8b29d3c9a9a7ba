"""The precision variants of the weighted kernels (int4 weights: _s4; int16 activations: _s16) and
the requantize seams between 8- and 16-bit layers: generated C (gcc and clang, -Werror -pedantic)
run on the host must equal the numpy golden reference bit for bit."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import op_cases
from helpers import WARNINGS, check_bit_exact, compile_c, make_model, quantized_inputs, save_samples
from mcugen.compiler import compile_model
from mcugen.emit.library import generate_library
from mcugen.errors import McugenError
from mcugen.graph.reference import run_int
from mcugen.quant.quantize import LayerPrecision, Precision

W4A8, W8A16, W8A8 = LayerPrecision(4, 8), LayerPrecision(8, 16), LayerPrecision(8, 8)
R = np.random.default_rng(11)  # this file's weights
w = partial(op_cases.w, rng=R)
conv_case = partial(op_cases.conv_case, rng=R)


def fc_case(n_in, n_out, act=None):
    inits = {"W": w(n_out, n_in), "B": w(n_out)}
    nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["h" if act else "y"], transB=1)]
    if act:
        nodes += op_cases.activation(act, "h", "y", inits)
    return nodes, {"x": [1, n_in]}, inits


CASES = {
    "conv_odd_channels_pad_relu": conv_case(3, 5, 3, (7, 9), act="relu", pads=[1, 1, 1, 1]),
    "conv_stride2_asym_pad_clip": conv_case(5, 7, 3, (9, 8), act="clip", strides=[2, 2], pads=[0, 1, 1, 0]),
    "conv_grouped_no_bias": conv_case(6, 9, 3, (6, 5), group=3, bias=False, pads=[1, 0, 2, 1]),
    "conv_dilated": conv_case(3, 3, 3, (9, 8), dilations=[2, 2], pads=[2, 2, 2, 2]),
    "conv_1x1_odd": conv_case(7, 3, 1, (3, 5)),
    "depthwise_relu": conv_case(5, 5, 3, (7, 7), group=5, act="relu", pads=[1, 1, 1, 1]),
    "depthwise_multiplier2_stride2_clip": conv_case(3, 6, 3, (9, 9), group=3, act="clip", strides=[2, 2],
                                                    pads=[1, 1, 1, 1]),
    "depthwise_dilated": conv_case(5, 5, 3, (9, 9), group=5, dilations=[2, 1], pads=[2, 1, 2, 1]),
    "fc_odd_relu": fc_case(33, 11, act="relu"),
    "fc_odd_clip": fc_case(17, 7, act="clip"),
    "fc_single_output": fc_case(9, 1),
}


def samples(inputs, seed, n_test=10):
    rng = np.random.default_rng(seed)
    calib = {k: rng.standard_normal([64, *v[1:]]).astype(np.float32) for k, v in inputs.items()}
    test = {k: rng.standard_normal([n_test, *v[1:]]).astype(np.float32) * 1.3 for k, v in inputs.items()}
    return calib, test


def kernels_of(compiled) -> set[str]:
    from mcugen.ops import op_for

    g = compiled.graph
    return {c.kernel for n in g.nodes for c in op_for(n).kernel_calls(n, g)}


@pytest.mark.parametrize("precision", [W4A8, W8A16], ids=str)
@pytest.mark.parametrize("case", sorted(CASES))
def test_weighted_layer_bit_exact(case, precision, tmp_path):
    nodes, inputs, inits = CASES[case]
    model = make_model(tmp_path / f"{case}.onnx", nodes, inputs, {"y": None}, inits)
    calib, test = samples(inputs, sum(map(ord, case)))
    compiled = check_bit_exact(model, save_samples(tmp_path / "calib.npz", calib), tmp_path, test,
                               precision=Precision(precision))
    used = kernels_of(compiled)
    base = "fully_connected" if case.startswith("fc") else "depthwise_conv" if case.startswith("depthwise") else "conv"
    if precision == W4A8:  # a conv may get a fast int4 kernel (tests/test_conv_variants.py)
        assert used == {f"{base}_s4"} or base == "conv" and len(used) == 1 and used <= {"conv_1x1_s4", "conv_im2col_s4"}
    else:  # the graph input and output stay int8: a seam on each side; compare the int16 values too
        assert used == {f"{base}_s16", "requantize_s8_s16", "requantize_s16_s8"}
        assert check_every_layer(compiled, tmp_path, test) == {"int8", "int16"}


def test_int4_weights_with_int16_activations_are_refused(tmp_path):
    """w4a16 has no kernel: the golden reference could run it, so the C generation says so."""
    nodes, inputs, inits = CASES["conv_odd_channels_pad_relu"]
    model = make_model(tmp_path / "m.onnx", nodes, inputs, {"y": None}, inits)
    calib, _ = samples(inputs, 1)
    compiled = compile_model(model, save_samples(tmp_path / "c.npz", calib), "net",
                             precision=Precision(LayerPrecision(4, 16)))
    with pytest.raises(McugenError, match="int4 weights with int16 activations"):
        generate_library(compiled.graph, tmp_path / "lib")


def mixed_model(tmp_path):
    """conv1 (16-bit, reads the graph input) → depthwise (8-bit, int4) → conv3 (16-bit) → maxpool (16-bit)
    → flatten → fc1 (int4) → fc2 (16-bit, feeds the graph output). Seams both ways."""
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "W2", "B2"], ["c2"], group=5, pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Conv", ["c2", "W3"], ["c3"], pads=[0, 0, 1, 1]),
        helper.make_node("Relu", ["c3"], ["r3"]),
        helper.make_node("MaxPool", ["r3"], ["p3"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p3"], ["f"]),
        helper.make_node("Gemm", ["f", "W4", "B4"], ["g4"], transB=1),
        helper.make_node("Relu", ["g4"], ["r4"]),
        helper.make_node("Gemm", ["r4", "W5", "B5"], ["y"], transB=1),
    ]
    inits = {"W1": w(5, 3, 3, 3), "B1": w(5), "W2": w(5, 1, 3, 3), "B2": w(5), "W3": w(7, 5, 2, 2),
             "W4": w(13, 7 * 3 * 3), "B4": w(13), "W5": w(6, 13), "B5": w(6)}
    model = make_model(tmp_path / "mixed.onnx", nodes, {"x": [1, 3, 12, 12]}, {"y": None}, inits)
    rng = np.random.default_rng(5)
    calib = save_samples(tmp_path / "calib.npz", {"x": rng.standard_normal([48, 3, 12, 12]).astype(np.float32)})
    test = {"x": rng.standard_normal([8, 3, 12, 12]).astype(np.float32)}
    return model, calib, test


def mixed_plan(compiled_names: list[str]) -> Precision:
    """Layer names come from the frontend; give them by their order."""
    conv1, dw, conv3, fc1, fc2 = compiled_names
    return Precision(W8A8, {conv1: W8A16, dw: W4A8, conv3: W8A16, fc1: W4A8, fc2: W8A16})


def weighted_names(model, calib) -> list[str]:
    from mcugen.quant.quantize import WEIGHTED_OPS

    g = compile_model(model, calib, "net").graph
    return [n.name for n in g.nodes if n.op in WEIGHTED_OPS]


def test_mixed_model_with_seams_both_ways(tmp_path):
    model, calib, test = mixed_model(tmp_path)
    plan = mixed_plan(weighted_names(model, calib))
    compiled = check_bit_exact(model, calib, tmp_path, test, precision=plan)
    g = compiled.graph
    assert kernels_of(compiled) >= {"conv_s16", "depthwise_conv_s4", "fully_connected_s4", "fully_connected_s16",
                                    "requantize_s8_s16", "requantize_s16_s8", "max_pool_s16"}
    first = g.nodes[0]
    assert first.op == "requantize" and first.inputs == g.inputs  # the 16-bit first layer reads a seam
    last = g.producer(g.outputs[0])
    assert last.op == "requantize" and g.producer(last.inputs[0]).op == "fully_connected"
    assert g.tensors[last.inputs[0]].dtype == "int16"


def test_sanitizers_on_an_int4_int16_model(tmp_path):
    """AddressSanitizer + UndefinedBehaviorSanitizer over every new kernel kind at once."""
    model, calib, test = mixed_model(tmp_path)
    check_bit_exact(model, calib, tmp_path, test, compilers=("gcc",), sanitize=True,
                    precision=mixed_plan(weighted_names(model, calib)))


HOOK = ("#include <stdint.h>\n#include <stdio.h>\n"
        "void layer_hook(int layer, const int8_t *data, uint32_t bytes);\n"
        "void layer_hook(int layer, const int8_t *data, uint32_t bytes)\n"
        "{ (void)layer; fwrite(data, 1, bytes, stderr); }\n")


def check_every_layer(compiled, tmp_path, test, compilers=("gcc",)) -> set[str]:
    """The int8 graph output can hide a one-code error in an int16 layer; the debugging hook sees
    every layer's bytes (int16 ones included, and it must compile without a warning for them).
    Returns the dtypes of the layers compared."""
    g = compiled.graph
    lib = generate_library(g, tmp_path / "hooked")
    (tmp_path / "hook.c").write_text(HOOK)
    qin = quantized_inputs(compiled, test)
    values = run_int(g, qin, keep_all=True)
    n = len(next(iter(qin.values())))
    expected = b"".join(np.ascontiguousarray(values[t][i]).astype(g.tensors[t].dtype).tobytes()
                        for i in range(n) for _, t in lib.layers)
    flat = np.concatenate([qin[k].reshape(n, -1) for k in g.inputs], axis=1).astype(np.int8)
    for cc in compilers:
        exe = compile_c(lib.folder, "net", cc, ["-DNET_LAYER_HOOK=layer_hook", str(tmp_path / "hook.c")])
        result = subprocess.run([str(exe)], input=flat.tobytes(), capture_output=True, timeout=60)
        assert result.returncode == 0
        assert result.stderr == expected, f"{cc}: a layer's bytes differ from the reference"
    return {g.tensors[t].dtype for _, t in lib.layers}


def test_every_layer_bit_exact_through_the_layer_hook(tmp_path):
    model, calib, test = mixed_model(tmp_path)
    compiled = compile_model(model, calib, "net", precision=mixed_plan(weighted_names(model, calib)))
    assert check_every_layer(compiled, tmp_path, test, ("gcc", "clang")) == {"int8", "int16"}


def pool_between_convs(tmp_path, pool_feeds_output: bool, dilations: tuple[int, int] = (1, 1)):
    """conv (relu) → MaxPool (pads, ceil mode, dilations, fused Clip) → conv, or → the graph output."""
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("MaxPool", ["r1"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                              ceil_mode=1, dilations=list(dilations)),
             helper.make_node("Clip", ["p", "lo", "hi"], ["y" if pool_feeds_output else "q"])]
    inits = {"W1": w(5, 3, 3, 3), "B1": w(5), "lo": np.array(0.0, np.float32), "hi": np.array(1.0, np.float32)}
    if not pool_feeds_output:
        nodes.append(helper.make_node("Conv", ["q", "W2", "B2"], ["y"], pads=[0, 1, 0, 1]))
        inits.update(W2=w(3, 5, 2, 2), B2=w(3))
    return make_model(tmp_path / "pool.onnx", nodes, {"x": [1, 3, 11, 10]}, {"y": None}, inits)


@pytest.mark.parametrize("pool_feeds_output,dilations", [(False, (1, 1)), (True, (1, 1)), (False, (2, 1))],
                         ids=["between_convs", "feeds_output", "dilated_between_convs"])
def test_int16_max_pool_needs_no_seam(pool_feeds_output, dilations, tmp_path):
    """A 16-bit conv's output is pooled as int16 (max_pool_s16, or max_pool_dilated_s16), with its
    scale: no requantize around the pool, only at the graph's int8 input and output."""
    model = pool_between_convs(tmp_path, pool_feeds_output, dilations)
    calib, test = samples({"x": [1, 3, 11, 10]}, 4)
    compiled = check_bit_exact(model, save_samples(tmp_path / "calib.npz", calib), tmp_path, test,
                               precision=Precision(W8A16))
    g = compiled.graph
    assert [n.op for n in g.nodes].count("requantize") == 2
    pool = next(n for n in g.nodes if n.op == "max_pool")
    x, y = g.tensors[pool.inputs[0]], g.tensors[pool.outputs[0]]
    assert x.dtype == y.dtype == "int16" and (x.scale, x.zero_point) == (y.scale, y.zero_point)
    assert (pool.q["act_min"], pool.q["act_max"]) == (0, min(32767, round(1.0 / y.scale)))  # the fused Clip
    assert ("max_pool_s16" if dilations == (1, 1) else "max_pool_dilated_s16") in kernels_of(compiled)
    assert check_every_layer(compiled, tmp_path, test) == {"int8", "int16"}


def test_cross_compiles_for_cortex_m4(tmp_path):
    model, calib, _ = mixed_model(tmp_path)
    compiled = compile_model(model, calib, "net", precision=mixed_plan(weighted_names(model, calib)))
    lib = generate_library(compiled.graph, tmp_path / "lib")
    for src in sorted(lib.folder.rglob("*.c")):
        if src.name.endswith("_float.c"):
            continue
        cmd = ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O2", *WARNINGS, f"-I{lib.folder}",
               "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))]
        result = subprocess.run(cmd, capture_output=True, text=True)
        assert result.returncode == 0, f"{src.name}:\n{result.stderr[:4000]}"


@pytest.mark.parametrize("case", ["conv_odd_channels_pad_relu", "fc_odd_relu"])
def test_int4_weights_take_half_the_flash(case, tmp_path):
    nodes, inputs, inits = CASES[case]
    model = make_model(tmp_path / f"{case}.onnx", nodes, inputs, {"y": None}, inits)
    calib = save_samples(tmp_path / "c.npz", samples(inputs, 2)[0])
    sizes = {}
    for p in (W8A8, W4A8):
        g = compile_model(model, calib, "net", precision=Precision(p)).graph
        lib = generate_library(g, tmp_path / str(p))
        weights = next(t for t in g.tensors.values() if t.is_constant and t.name.endswith("_weights"))
        node = next(n for n in g.nodes if n.q.get("weights") == weights.name)
        others = sum(g.tensors[node.q[k]].nbytes for k in ("bias", "multiplier", "shift"))
        stream = next((t for t in g.tensors.values() if t.name.startswith(f"{weights.name}_stream")), None)
        # the int8 im2col conv kernel reads its own layout (rows zero-padded to a multiple of 4,
        # channel pairs interleaved)
        emitted = g.tensors.get(f"{weights.name}_paired4", weights)
        sizes[p] = (lib.weight_bytes, weights.nbytes, weights.size, others, stream, emitted.nbytes)
    (total8, w8, count, _, stream8, emitted8), (total4, w4, _, others4, stream4, _) = sizes[W8A8], sizes[W4A8]
    assert w8 == count and w4 == (count + 1) // 2
    if stream8 is None:  # conv: the same bias, multipliers and shifts beside the weights
        assert total4 == w4 + others4 and total8 - total4 == emitted8 - w4
    else:  # the fully connected kernels read one stream each (rows padded to whole words, a
        # multiplier per row, the shifts as one word per block of rows) and nothing else;
        # int4 weights take half the bytes in blocks of four rows, a leftover row a word per 4 inputs
        out, n = weights.shape
        words, blocks = -(-n // 4), out // 4 + out % 4
        assert total8 == stream8.nbytes == out * 4 * words + out * 8 + blocks * 4
        assert total4 == stream4.nbytes == total8 - 4 * words * out + (out // 4 * 8 + out % 4 * 4) * words


def test_mixed_precision_digits_cnn_bit_exact_on_qemu(tmp_path, monkeypatch, capsys):
    """On a Cortex-M4 in QEMU (int64 arithmetic of the 16-bit kernels included), through the project
    file's [quantize] precision plan: every sample bit-exact."""
    from mcugen.cli import main

    digits = Path(__file__).resolve().parent.parent / "examples" / "digits"
    for f in ("cnn.onnx", "calib_cnn.npz", "test_cnn.npz"):
        shutil.copy(digits / f, tmp_path / f)
    (tmp_path / "plan.json").write_text(json.dumps(
        {"default": "w8a8", "layers": {"conv1": "w8a16", "conv2": "w4a8", "fc": "w8a16"}}))
    (tmp_path / "mcugen.toml").write_text('[model]\npath = "cnn.onnx"\ncalib = "calib_cnn.npz"\n'
                                          '[build]\nboard = "stm32"\n[verify]\ndata = "test_cnn.npz"\n'
                                          '[quantize]\nprecision = "plan.json"\n')
    monkeypatch.chdir(tmp_path)
    code = main(["verify", "--samples", "20", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["bit_exact"] == report["samples"] == 20 and report["mismatches"] == []
    lib = json.loads((tmp_path / "build" / "stm32f405" / "build.json").read_text())
    kernels = {p.name for p in Path(lib["library"]).glob("kernels/*.c")}
    assert {"cnn_conv_s16.c", "cnn_conv_s4.c", "cnn_fully_connected_s16.c", "cnn_max_pool_s16.c",
            "cnn_requantize_s8_s16.c", "cnn_requantize_s16_s8.c"} <= kernels
