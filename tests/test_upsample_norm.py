"""ConvTranspose, Resize and LayerNormalization (issue #13, part 5) beyond bit-exactness
(test_ops_bit_exact.py runs their op_cases through gcc and clang): the float reference against ONNX
Runtime, the int8 golden reference against float (cosine >= 0.99 on random data), and the
layer-norm kernel's edge rows (constant rows, where the variance is epsilon alone; extreme codes)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from helpers import check_bit_exact, make_model, save_samples
from mcugen.cli import main
from mcugen.compiler import compile_model, load_float_graph
from mcugen.data import load_samples, to_physical
from mcugen.errors import McugenError
from mcugen.graph.reference import run_float
from mcugen.ops import op_for
from mcugen.quant.evaluate import float_outputs, quantized_outputs
from op_cases import UPSAMPLE_NORM, case_model, layer_norm_case


def _inputs(case: str, count: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(sum(map(ord, case)))
    return {k: rng.standard_normal([count, *v[1:]]).astype(np.float32) for k, v in UPSAMPLE_NORM[case][1].items()}


@pytest.mark.parametrize("case", sorted(UPSAMPLE_NORM))
def test_float_reference_matches_onnx_runtime(case, tmp_path):
    path = case_model(tmp_path / f"{case}.onnx", UPSAMPLE_NORM[case])
    x = _inputs(case, 1)["x"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": x})[0]
    graph = load_float_graph(path)
    got = run_float(graph, {"x": to_physical(graph, "x", x)})[graph.outputs[0]]
    perm = graph.io[graph.outputs[0]].to_physical
    got = got if perm is None else got.transpose(np.argsort(perm))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", sorted(UPSAMPLE_NORM))
def test_int8_is_close_to_float(case, tmp_path):
    """The golden reference (what the C computes, bit for bit) dequantized, against the float graph
    on held-out random inputs after calibrating on others."""
    path = case_model(tmp_path / f"{case}.onnx", UPSAMPLE_NORM[case])
    data = _inputs(case, 96)
    calib = save_samples(tmp_path / "calib.npz", {k: v[:64] for k, v in data.items()})
    compiled = compile_model(path, calib, "net")
    test = load_samples(save_samples(tmp_path / "test.npz", {k: v[64:] for k, v in data.items()}), compiled.float_graph)
    ref, got = float_outputs(compiled.float_graph, test), quantized_outputs(compiled.graph, test)
    cosine = float(np.sum(ref * got) / (np.linalg.norm(ref) * np.linalg.norm(got)))
    assert cosine >= 0.99, f"{case}: cosine {cosine:.5f}"


def test_layer_norm_edge_rows_bit_exact(tmp_path):
    """Constant rows (V = 0: only epsilon's term is left, and d = 0 everywhere), rows at the ends of
    the int8 range, one large value among small ones (the largest |x - mean| / sigma = sqrt(N - 1)),
    and a tiny epsilon beside a wide input scale."""
    nodes, inputs, inits, _, opset = layer_norm_case([1, 4, 16], [16], [16], seed=7, epsilon=1e-12)
    path = make_model(tmp_path / "ln.onnx", nodes, inputs, {"y": None}, inits, opset=opset)
    rng = np.random.default_rng(5)
    calib = save_samples(tmp_path / "c.npz", {"x": rng.standard_normal([32, 4, 16]).astype(np.float32) * 3})
    x = rng.standard_normal([6, 4, 16]).astype(np.float32) * 3
    x[0] = 0.0
    x[1, 0], x[1, 1], x[1, 2] = 100.0, -100.0, 0.7
    x[2, :, :8], x[2, :, 8:] = 100.0, -100.0
    x[3] = 0.001
    x[3, :, 5] = 50.0
    x[4, 1, ::2] = 0.0
    check_bit_exact(path, calib, tmp_path, {"x": x})


def test_layer_norm_refuses_rows_too_long_for_int64_statistics(tmp_path):
    nodes, inputs, inits, _, opset = layer_norm_case([1, 16385], [16385], seed=8)
    path = make_model(tmp_path / "ln.onnx", nodes, inputs, {"y": None}, inits, opset=opset)
    calib = save_samples(tmp_path / "c.npz", {"x": np.ones([2, 16385], np.float32)})
    with pytest.raises(McugenError, match="16385 values per row"):
        compile_model(path, calib, "net")


def test_upsample_opset9_becomes_resize(tmp_path):
    """Upsample (opset 9, nearest, asymmetric coordinates, floor) through the version converter:
    equal to ONNX Runtime, and bit-exact in C."""
    node = helper.make_node("Upsample", ["x", "S"], ["y"], mode="nearest")
    path = make_model(tmp_path / "up.onnx", [node], {"x": [1, 2, 3, 4]}, {"y": None},
                      {"S": np.array([1, 1, 2, 1.5], np.float32)}, opset=9)
    x = np.random.default_rng(2).standard_normal([1, 2, 3, 4]).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    graph = load_float_graph(path)
    got = run_float(graph, {"x": to_physical(graph, "x", x)})[graph.outputs[0]].transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(got, expected)
    check_bit_exact(path, None, tmp_path, {"x": np.concatenate([x, x * 2])})
    assert onnx.load(str(path)).opset_import[0].version == 9


@pytest.mark.parametrize("case", sorted(c for c in UPSAMPLE_NORM if c.startswith(("layer_norm", "resize_linear"))))
def test_integer_arithmetic_within_one_step_of_float_on_the_same_codes(case, tmp_path):
    """Every int8 input code, through the integer statistics of layer_norm (isqrt, reciprocal, Q16)
    or the 1/2048 weights of bilinear resize: within one output step of the float operator applied
    to the same dequantized input, rounded to the output's grid (when written: 0 steps everywhere
    for 5 of the 6 layer-norm cases, at most 1 for the rest; mean below 0.13)."""
    path = case_model(tmp_path / f"{case}.onnx", UPSAMPLE_NORM[case])
    data = _inputs(case, 64)
    compiled = compile_model(path, save_samples(tmp_path / "calib.npz", data), "net")
    g, fg = compiled.graph, compiled.float_graph
    node = next(n for n in g.nodes if n.op in ("layer_norm", "resize"))
    float_node = next(n for n in fg.nodes if n.name == node.name)
    x, y = g.tensors[node.inputs[0]], g.tensors[node.outputs[0]]
    codes = np.random.default_rng(0).integers(-128, 128, size=(64, *x.shape[1:])).astype(np.int8)
    real = (codes.astype(np.float64) - x.zero_point) * x.scale
    want = op_for(float_node).run_float(float_node, fg, [real] + [fg.const(i) for i in float_node.inputs[1:]])
    want = np.clip(np.round(want.astype(np.float64) / y.scale) + y.zero_point, -128, 127)
    got = op_for(node).run_int(node, g, [codes]).astype(np.float64)
    assert np.abs(got - want).max() <= 1


def test_decomposed_layer_norm_becomes_one_node(tmp_path):
    path = case_model(tmp_path / "ln.onnx", UPSAMPLE_NORM["layer_norm_decomposed_opset13"])
    graph = load_float_graph(path)
    assert [n.op for n in graph.nodes] == ["layer_norm"]
    assert graph.nodes[0].attrs["axis"] == 2 and abs(graph.nodes[0].attrs["epsilon"] - 1e-5) < 1e-12


def test_partial_layer_norm_pattern_is_not_fused(tmp_path):
    """The mean is also a graph output: fusing would drop it, so the nodes stay as they are (mapped one
    by one, or refused by name while ReduceMean is not an operator)."""
    nodes, inputs, inits, _, opset = UPSAMPLE_NORM["layer_norm_decomposed_opset13"]
    path = make_model(tmp_path / "ln.onnx", nodes, inputs, {"y": None, "m": None}, inits, opset=opset)
    try:
        graph = load_float_graph(path)
    except McugenError as exc:
        assert "ReduceMean" in str(exc)
    else:
        assert "layer_norm" not in [n.op for n in graph.nodes]


def upsample_norm_model(path):
    """ConvTranspose (stride 2, output_padding) → bilinear Resize → LayerNormalization over C, H, W →
    nearest Resize: every kernel of this file in one model; input x [1, 2, 4, 4]."""
    rng = np.random.default_rng(21)
    nodes = [helper.make_node("ConvTranspose", ["x", "W", "B"], ["t"], strides=[2, 2], pads=[1, 1, 1, 1],
                              output_padding=[1, 1]),
             helper.make_node("Relu", ["t"], ["r"]),
             helper.make_node("Resize", ["r", "", "S1"], ["u"], mode="linear"),
             helper.make_node("LayerNormalization", ["u", "G", "Bn"], ["n"], axis=1),
             helper.make_node("Resize", ["n", "", "S2"], ["y"], coordinate_transformation_mode="asymmetric")]
    inits = {"W": rng.standard_normal((2, 4, 3, 3)).astype(np.float32) * 0.5,
             "B": rng.standard_normal(4).astype(np.float32) * 0.2, "S1": np.array([1, 1, 1.5, 1.5], np.float32),
             "G": rng.standard_normal((4, 12, 12)).astype(np.float32), "Bn": rng.standard_normal((4, 1, 1)).astype(
                 np.float32), "S2": np.array([1, 1, 0.5, 0.5], np.float32)}
    return make_model(path, nodes, {"x": [1, 2, 4, 4]}, {"y": None}, inits, opset=17)


def test_sanitizers_on_the_upsample_norm_model(tmp_path):
    rng = np.random.default_rng(4)
    calib = save_samples(tmp_path / "c.npz", {"x": rng.standard_normal([32, 2, 4, 4]).astype(np.float32)})
    check_bit_exact(upsample_norm_model(tmp_path / "m.onnx"), calib, tmp_path,
                    {"x": rng.standard_normal([6, 2, 4, 4]).astype(np.float32) * 2}, compilers=("gcc",), sanitize=True)


@pytest.mark.parametrize("board", ["microbit", "mps2-an386"])
def test_upsample_norm_model_bit_exact_in_qemu(board, tmp_path, capsys):
    """Cortex-M0 (no 64-bit multiply instruction: libgcc's) and Cortex-M4 with DSP: the int64
    statistics, the digit-by-digit square root and reciprocal, and the gather of ConvTranspose."""
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    rng = np.random.default_rng(6)
    model = upsample_norm_model(tmp_path / "m.onnx")
    calib = save_samples(tmp_path / "c.npz", {"x": rng.standard_normal([32, 2, 4, 4]).astype(np.float32)})
    data = save_samples(tmp_path / "d.npz", {"x": rng.standard_normal([8, 2, 4, 4]).astype(np.float32)})
    code = main(["verify", str(model), "--board", board, "--calib", str(calib), "--data", str(data), "--samples", "8",
                 "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 8 and report["mismatches"] == []
    assert report["cosine_min"] > 0.98
