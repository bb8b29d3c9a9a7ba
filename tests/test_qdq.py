"""QDQ ONNX in and out.

Import: models quantized by ONNX Runtime (QDQ and QOperator formats) or exported with fake
quantization keep their scales; mcugen's golden reference and its C agree with ONNX Runtime's
own run of the quantized model. Export: mcugen's quantization written as a QDQ model that ONNX
Runtime runs, and that mcugen reads back to the same scales.

How close "agree" is: on one layer fed identical int8 inputs, mcugen and ONNX Runtime differ by
at most 1 LSB (ORT requantizes in float and rounds half to even; mcugen uses Q31 multipliers,
rounds half away from zero, and folds the average pool's 1/n into the multiplier). Through a
network those 1-LSB differences propagate and can grow — ORT disagrees with itself the same way
between its optimized (fused integer kernels) and unoptimized (float) runs — so whole-model
agreement is measured and bounded separately.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from helpers import compile_c, golden, quantized_inputs, run_c
from mcugen.cli import main
from mcugen.compiler import compile_model
from mcugen.emit.library import generate_library
from mcugen.errors import McugenError
from mcugen.graph.passes import optimize
from mcugen.ops import op_for
from mcugen.quant.qdq_export import build_qdq_model, export_qdq
from mcugen.quant.quantize import Precision
from mcugen.readers.onnx_file import import_onnx
from mcugen.readers.qdq import strip_qdq

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "digits"
IN_SHAPE = [1, 3, 12, 10]  # non-square, channels differ from H and W: layouts cannot be confused


# --- models --------------------------------------------------------------------------------

def save(path: Path, nodes, inits: dict[str, np.ndarray], inputs: dict, outputs: dict, opset: int = 13) -> Path:
    g = helper.make_graph(nodes, "qdq_test",
                          [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in inputs.items()],
                          [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in outputs.items()],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.save(model, str(path))
    return path


def float_cnn(path: Path, seed: int = 0) -> Path:
    """Conv+Relu, Conv, residual Add, depthwise Conv+Relu, MaxPool, AveragePool, Flatten,
    Gemm+Relu, MatMul: every kind of layer the issue names."""
    r = np.random.default_rng(seed)

    def w(*shape):
        return (r.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))).astype(np.float32)

    flat = 6 * 6 * 5
    inits = {"W1": w(6, 3, 3, 3), "B1": w(6) * 0.1, "W2": w(6, 6, 3, 3), "B2": w(6) * 0.1,
             "Wd": w(6, 1, 3, 3), "Bd": w(6) * 0.1, "Wg": w(16, flat), "Bg": w(16) * 0.1,
             "Wm": np.ascontiguousarray(w(10, 16).T)}
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "W2", "B2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "r1"], ["a"]),
             helper.make_node("Conv", ["a", "Wd", "Bd"], ["d"], pads=[1, 1, 1, 1], group=6),
             helper.make_node("Relu", ["d"], ["rd"]),
             helper.make_node("MaxPool", ["rd"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("AveragePool", ["p"], ["ap"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["ap"], ["f"]),
             helper.make_node("Gemm", ["f", "Wg", "Bg"], ["g"], transB=1),
             helper.make_node("Relu", ["g"], ["gr"]),
             helper.make_node("MatMul", ["gr", "Wm"], ["y"])]
    return save(path, nodes, inits, {"x": IN_SHAPE}, {"y": [1, 10]})


class _Reader(CalibrationDataReader):
    def __init__(self, samples: np.ndarray) -> None:
        self.it = iter([{"x": s[None]} for s in samples])

    def get_next(self):
        return next(self.it, None)


def ort_quantize(src: Path, dst: Path, calib: np.ndarray, fmt=QuantFormat.QDQ, act=QuantType.QInt8) -> Path:
    quantize_static(str(src), str(dst), _Reader(calib), quant_format=fmt, per_channel=True,
                    activation_type=act, weight_type=QuantType.QInt8)
    return dst


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    r = np.random.default_rng(11)
    return {"calib": r.standard_normal((32, *IN_SHAPE[1:])).astype(np.float32),
            "test": r.standard_normal((120, *IN_SHAPE[1:])).astype(np.float32)}


@pytest.fixture(scope="module")
def qdq_model(tmp_path_factory, data) -> Path:
    folder = tmp_path_factory.mktemp("qdq")
    return ort_quantize(float_cnn(folder / "cnn.onnx"), folder / "cnn_qdq.onnx", data["calib"])


# --- running ONNX Runtime and comparing ---------------------------------------------------------

def ort_run(model: onnx.ModelProto | Path, x: np.ndarray, extra: list[str] = (), optimize_graph: bool = True,
            ) -> dict[str, np.ndarray]:
    """Outputs (and extra tensors as int8 codes) for every sample, one at a time (batch 1 models)."""
    if isinstance(model, Path):
        model = onnx.load(str(model))
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for name in extra:
        m.graph.output.append(onnx.ValueInfoProto(name=name))  # type and shape inferred
    opts = ort.SessionOptions()
    if not optimize_graph:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    runs = [sess.run(None, {sess.get_inputs()[0].name: x[i:i + 1]}) for i in range(len(x))]
    return {n: np.concatenate([r[k] for r in runs]) for k, n in enumerate(names)}


def output_codes(compiled, y: np.ndarray) -> np.ndarray:
    """ORT's float output (after its last DequantizeLinear) as mcugen's output codes."""
    t = compiled.graph.tensors[compiled.graph.outputs[0]]
    return (np.round(y / np.float32(t.scale)) + t.zero_point).astype(np.int64).reshape(len(y), -1)


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    d = np.abs(a.astype(np.int64) - b.astype(np.int64))
    return {"max": int(d.max()), "identical": float(np.mean(d == 0)), "off_by_1": float(np.mean(d == 1))}


def layerwise(compiled, qin: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, dict]:
    """Each layer run by mcugen's golden reference on ORT's own input codes, compared with ORT's
    output codes: how far one layer differs, without earlier layers' differences propagating.
    `reference` maps mcugen tensor names to ORT codes in mcugen's physical layout."""
    g = compiled.graph
    values = dict(qin)
    report = {}
    for node in g.nodes:
        names = node.q.get("operands", node.inputs)
        xs = [g.tensors[n].data if g.tensors[n].is_constant else reference.get(n, values[n]) for n in names]
        y = op_for(node).run_int(node, g, xs)
        values[node.outputs[0]] = y
        if node.outputs[0] in reference:
            report[node.name] = agreement(y.reshape(len(y), -1), reference[node.outputs[0]].reshape(len(y), -1))
    return report


def imported_codes(model_path: Path, compiled, x: np.ndarray) -> dict[str, np.ndarray]:
    """ORT's int8 code of every quantized activation of a QDQ model, keyed by mcugen's names."""
    model = onnx.load(str(model_path))
    outputs = {o.name for o in model.graph.output}
    users: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    q_of = {}
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear" and n.input[0] not in {i.name for i in model.graph.initializer}:
            dq = [u.output[0] for u in users.get(n.output[0], [])]
            q_of[next((o for o in dq if o in outputs), n.input[0])] = n.output[0]
    codes = ort_run(model, x, list(q_of.values()))
    g = compiled.graph
    result = {}
    for name, q in q_of.items():
        t = g.tensors.get(name)
        v = codes[q]
        if v.ndim == 4:
            v = v.transpose(0, 2, 3, 1)
        producer = g.producer(name)
        if t is not None and v.shape[1:] == tuple(t.shape[1:]) and (producer is None or producer.op != "reshape"):
            result[name] = v
    return result


def exported_codes(model: onnx.ModelProto, x: np.ndarray) -> dict[str, np.ndarray]:
    """ORT's int8 codes of an exported model's activations, in mcugen's physical layout."""
    where = {}
    for n in model.graph.node:
        m = re.fullmatch(r"mcugen tensor (.+): (.+)", n.doc_string or "")
        if n.op_type == "QuantizeLinear" and m:
            where[n.output[0]] = (m.group(1), m.group(2))
    codes = ort_run(model, x, list(where))
    result = {}
    for q, (name, layout) in where.items():
        v = codes[q]
        if layout == "channels-first":
            v = v.transpose(0, 2, 3, 1)
        elif layout != "physical":
            form = [int(a) for a in re.findall(r"\d", layout)]
            v = v.transpose(np.argsort(form))
        result[name] = v
    return result


def check_c(compiled, x: dict[str, np.ndarray], folder: Path) -> np.ndarray:
    """The generated C (gcc) equals the golden reference bit for bit; returns the golden output."""
    lib = generate_library(compiled.graph, folder, compiled.calibration)
    qin = quantized_inputs(compiled, x)
    expected = golden(compiled, qin)
    flat = np.concatenate([qin[n].reshape(len(qin[n]), -1) for n in compiled.graph.inputs], axis=1)
    got = run_c(compile_c(lib.folder, compiled.name, "gcc"), flat, expected.shape[1])
    np.testing.assert_array_equal(got, expected)
    return expected


# --- import: the stripping itself ------------------------------------------------------------------

def test_strip_keeps_activation_weight_and_bias_quantization(qdq_model):
    model = onnx.load(str(qdq_model))
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    stripped, info = strip_qdq(model)
    assert not [n for n in stripped.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    onnx.checker.check_model(stripped)
    # Every quantized activation is kept with its (scale, zero point); ORT removed the Relus into them.
    quantized = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    for q in quantized:
        name = q.input[0] if q.input[0] != "y_QuantizeLinear_Input" else "y"
        assert info.activations[name] == (float(consts[q.input[1]]), int(consts[q.input[2]]))
    assert set(info.activations) >= {"x", "r1", "c2", "a", "rd", "p", "ap", "f", "gr", "y"}
    # Weights: float constants equal to scale * q, exactly as ONNX Runtime dequantizes them.
    floats = {i.name: numpy_helper.to_array(i) for i in stripped.graph.initializer}
    for dq in (n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in consts):
        q, s = consts[dq.input[0]], consts[dq.input[1]]
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
        shape = [1] * q.ndim
        if s.size > 1:
            shape[axis] = -1
        np.testing.assert_array_equal(floats[dq.output[0]], q.astype(np.float32) * s.reshape(shape))
        if q.dtype == np.int8:  # a weight: its per-output-channel scales, and round(w / s) gives q back
            scales = info.weight_scales[dq.output[0]]
            assert scales.dtype == np.float64
            np.testing.assert_array_equal(scales, s.astype(np.float64))
            np.testing.assert_array_equal(np.round(floats[dq.output[0]] / scales.reshape(shape)), q)
    # MatMul weights [in, out] are quantized along axis 1: one scale per output column.
    matmul_w = next(n.input[1] for n in stripped.graph.node if n.op_type == "MatMul")
    assert info.weight_scales[matmul_w].shape == (10,)


def test_uint8_activations_become_int8_with_zero_point_minus_128(tmp_path, data):
    src = float_cnn(tmp_path / "cnn.onnx")
    u8 = ort_quantize(src, tmp_path / "u8.onnx", data["calib"], act=QuantType.QUInt8)
    s8 = ort_quantize(src, tmp_path / "s8.onnx", data["calib"])
    _, info_u8 = strip_qdq(onnx.load(str(u8)))
    _, info_s8 = strip_qdq(onnx.load(str(s8)))
    for name, (scale, zp) in info_u8.activations.items():
        assert -128 <= zp <= 127
        # ORT picks the same range for both types; the uint8 codes are the int8 codes + 128.
        assert scale == pytest.approx(info_s8.activations[name][0], rel=1e-6)
        assert abs(zp - info_s8.activations[name][1]) <= 1
    # And the import is exact: mcugen's int8 codes + 128 are ORT's uint8 codes, layer by layer.
    compiled = compile_model(u8, None, "u8")
    x = data["test"][:40]
    ref = imported_codes(u8, compiled, x)
    qin = quantized_inputs(compiled, {"x": x})
    np.testing.assert_array_equal(qin["x"].astype(np.int64), ref["x"].astype(np.int64) - 128)


def test_fixed_quantization_survives_the_passes(qdq_model):
    graph = import_onnx(qdq_model)
    fixed = dict(graph.fixed_qparams)
    opt = optimize(graph)
    # The fused or renamed tensors keep the quantization of the values they now hold.
    for node in opt.nodes:
        for name in (*node.inputs, *node.outputs):
            if not opt.tensors[name].is_constant and name in fixed:
                assert opt.fixed_qparams[name] == fixed[name]
    # Conv weights were transposed to OHWI and the Gemm's columns permuted: scales follow the constants.
    for node in opt.nodes:
        if node.op in ("conv", "depthwise_conv", "fully_connected"):
            assert node.inputs[1] in opt.fixed_weight_scales, node.name
            assert len(opt.fixed_weight_scales[node.inputs[1]]) == opt.tensors[node.inputs[1]].shape[0]


def test_fused_activation_takes_the_activation_outputs_quantization_and_bn_drops_weight_scales(tmp_path):
    """Conv → Q/DQ → Relu → Q/DQ: after fusion the conv writes the Relu's values, so the Relu's
    quantization; a BatchNorm folded into a conv changes its weights, so their fixed scales go."""
    r = np.random.default_rng(3)
    w = r.standard_normal((4, 2, 3, 3)).astype(np.float32)
    wq = np.clip(np.round(w / 0.02), -127, 127).astype(np.int8)
    inits = {"s_in": np.array(0.03, np.float32), "z_in": np.array(-3, np.int8),
             "s_c": np.array(0.05, np.float32), "z_c": np.array(7, np.int8),
             "s_r": np.array(0.025, np.float32), "z_r": np.array(-128, np.int8),
             "wq": wq, "ws": np.full(4, 0.02, np.float32), "wz": np.zeros(4, np.int8),
             "g": np.ones(4, np.float32) * 1.5, "b": np.zeros(4, np.float32), "m": np.zeros(4, np.float32),
             "v": np.ones(4, np.float32)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s_in", "z_in"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
             helper.make_node("Conv", ["xd", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "s_c", "z_c"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "s_c", "z_c"], ["cd"]),
             helper.make_node("Relu", ["cd"], ["r"]),
             helper.make_node("QuantizeLinear", ["r", "s_r", "z_r"], ["rq"]),
             helper.make_node("DequantizeLinear", ["rq", "s_r", "z_r"], ["rd"]),
             helper.make_node("Conv", ["rd", "w"], ["c2"], pads=[1, 1, 1, 1], group=2),  # 4 channels, w in 2s
             helper.make_node("BatchNormalization", ["c2", "g", "b", "m", "v"], ["y"])]
    path = save(tmp_path / "fuse.onnx", nodes, inits, {"x": [1, 2, 5, 6]}, {"y": [1, 4, 5, 6]})
    opt = optimize(import_onnx(path))
    conv1, conv2 = [n for n in opt.nodes if n.op == "conv"]
    assert conv1.attrs["act"] == (0.0, np.inf)
    # The conv's own output name survives, with the Relu's quantization (its pre-Relu one, 0.05 / 7,
    # described values that no longer exist).
    assert conv1.outputs[0] == "c" and opt.fixed_qparams["c"] == (pytest.approx(0.025), -128)
    assert conv1.inputs[1] in opt.fixed_weight_scales
    assert conv2.inputs[1] not in opt.fixed_weight_scales  # BatchNorm-scaled weights: mcugen re-quantizes
    assert opt.fixed_qparams["x"] == (pytest.approx(0.03), -3)


# --- import: agreement with ONNX Runtime ---------------------------------------------------------

def test_imported_qdq_model_agrees_with_onnxruntime(qdq_model, data, tmp_path):
    compiled = compile_model(qdq_model, None, "qdq")
    g = compiled.graph
    # Calibration changed nothing: every activation has the QDQ model's scale and zero point.
    fixed = g.fixed_qparams
    for t in g.activations():
        assert (t.scale, t.zero_point) == fixed[t.name], t.name
    # Weights and biases are ORT's integers exactly (OHWI / [out][in] here).
    model = onnx.load(str(qdq_model))
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = {n.name: n for n in g.nodes}
    np.testing.assert_array_equal(g.const(nodes["r1"].q["weights"]), consts["W1_quantized"].transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(g.const(nodes["r1"].q["bias"]), consts["B1_quantized"])
    np.testing.assert_array_equal(g.const(nodes["rd"].q["weights"]), consts["Wd_quantized"][:, 0].transpose(1, 2, 0))
    np.testing.assert_array_equal(g.const(nodes["rd"].q["bias"]), consts["Bd_quantized"])
    np.testing.assert_array_equal(g.const(nodes["y"].q["weights"]), consts["Wm_quantized"].T)
    assert g.const(nodes["gr"].q["bias"]).tolist() == consts["Bg_quantized"].tolist()

    x = data["test"]
    expected = check_c(compiled, {"x": x}, tmp_path / "lib")  # C == golden reference, bit for bit
    ref = imported_codes(qdq_model, compiled, x)
    np.testing.assert_array_equal(quantized_inputs(compiled, {"x": x})["x"], ref["x"])
    # One layer at a time, on ORT's own inputs: every element within 1 LSB.
    per_layer = layerwise(compiled, quantized_inputs(compiled, {"x": x}), ref)
    assert set(per_layer) >= {"r1", "c2", "a", "rd", "p", "ap", "gr", "y"}
    for name, stats in per_layer.items():
        assert stats["max"] <= 1, (name, stats)
    # The pools: max pool is exact; average pool (1/n folded into the multiplier, TFLite's double
    # rounding) is the layer that most often differs by 1.
    assert per_layer["p"]["identical"] == 1.0
    # Whole model: ORT's float output as codes. Propagated 1-LSB differences reach 2-3 LSB on a few
    # elements; ORT's own optimized and unoptimized runs differ from each other as much.
    y = ort_run(qdq_model, x)["y"]
    whole = agreement(output_codes(compiled, y), expected)
    y_plain = ort_run(qdq_model, x, optimize_graph=False)["y"]
    ort_self = agreement(output_codes(compiled, y), output_codes(compiled, y_plain))
    print(f"\nimport agreement per layer: {per_layer}\nwhole model vs ORT: {whole}; ORT vs itself: {ort_self}")
    assert whole["max"] <= 3 and whole["identical"] >= 0.5 and whole["identical"] + whole["off_by_1"] >= 0.95


def test_qoperator_model_imports_like_its_qdq_twin(tmp_path, data):
    """QLinearConv / QLinearMatMul and MaxPool/Reshape on int8 tensors: rewritten to QDQ first."""
    r = np.random.default_rng(5)
    inits = {"W": (r.standard_normal((5, 3, 3, 3)) * 0.3).astype(np.float32),
             "B": (r.standard_normal(5) * 0.1).astype(np.float32),
             "M": (r.standard_normal((5 * 6 * 5, 7)) * 0.1).astype(np.float32),
             "S": np.array([1, -1], np.int64)}
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Reshape", ["p", "S"], ["f"]),
             helper.make_node("MatMul", ["f", "M"], ["y"])]
    src = save(tmp_path / "small.onnx", nodes, inits, {"x": IN_SHAPE}, {"y": [1, 7]})
    qop = ort_quantize(src, tmp_path / "qop.onnx", data["calib"], fmt=QuantFormat.QOperator, act=QuantType.QUInt8)
    qdq = ort_quantize(src, tmp_path / "qdq.onnx", data["calib"], act=QuantType.QUInt8)
    assert {"QLinearConv", "QLinearMatMul"} <= {n.op_type for n in onnx.load(str(qop)).graph.node}
    a, b = compile_model(qop, None, "qop"), compile_model(qdq, None, "qdq")
    x = data["test"][:40]
    out_a = golden(a, quantized_inputs(a, {"x": x}))
    np.testing.assert_array_equal(out_a, golden(b, quantized_inputs(b, {"x": x})))
    whole = agreement(output_codes(a, ort_run(qop, x)["y"]), out_a)
    assert whole["max"] <= 1, whole


def test_fake_quantized_export_with_constant_nodes(tmp_path, data):
    """PyTorch-style: scales in Constant nodes, uint8 activations, weights as float → Q → DQ."""
    r = np.random.default_rng(8)
    w = (r.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    ws = (np.abs(w).reshape(4, -1).max(axis=1) / 127).astype(np.float32)

    def constant(name, value):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value))

    nodes = [constant("s_x", np.array(0.02, np.float32)), constant("z_x", np.array(128, np.uint8)),
             constant("s_y", np.array(0.05, np.float32)), constant("z_y", np.array(120, np.uint8)),
             constant("ws", ws), constant("wz", np.zeros(4, np.int8)),
             helper.make_node("QuantizeLinear", ["x", "s_x", "z_x"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s_x", "z_x"], ["xd"]),
             helper.make_node("QuantizeLinear", ["w", "ws", "wz"], ["wq"], axis=0),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
             helper.make_node("Conv", ["xd", "wd", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("QuantizeLinear", ["r", "s_y", "z_y"], ["yq"]),
             helper.make_node("DequantizeLinear", ["yq", "s_y", "z_y"], ["y"])]
    path = save(tmp_path / "fake.onnx", nodes, {"w": w, "b": np.zeros(4, np.float32)},
                {"x": IN_SHAPE}, {"y": [1, 4, *IN_SHAPE[2:]]})
    compiled = compile_model(path, None, "fake")
    g = compiled.graph
    assert (g.tensors["x"].scale, g.tensors["x"].zero_point) == (pytest.approx(0.02), 0)
    assert (g.tensors["y"].scale, g.tensors["y"].zero_point) == (pytest.approx(0.05), -8)
    conv = next(n for n in g.nodes if n.op == "conv")
    np.testing.assert_array_equal(g.tensors[conv.q["weights"]].scale, ws.astype(np.float64))
    x = data["test"][:20]
    expected = golden(compiled, quantized_inputs(compiled, {"x": x}))
    y = ort_run(path, x)["y"].transpose(0, 2, 3, 1)  # mcugen's output codes are NHWC in memory
    assert agreement(output_codes(compiled, y), expected)["max"] <= 1


def _torchscript_qat_conv_bn(path: Path, bn_matches: bool = True) -> Path:
    """What torch.onnx.export (TorchScript) writes for an eager QAT ConvBnReLU2d: zero points shared
    through Identity copies, the weights w·k fake-quantized per channel over -128..127, the conv
    with a zero bias from a Constant node, then / k, BatchNormalization and Relu."""
    r = np.random.default_rng(12)
    c = 4
    gamma = (r.random(c) + 0.5).astype(np.float32)
    var = (r.random(c) + 0.5).astype(np.float32)
    k = (gamma / np.sqrt(var + np.float32(1e-5))).astype(np.float32)
    wk = (r.standard_normal((c, 3, 3, 3)) * 0.3).astype(np.float32) * k.reshape(-1, 1, 1, 1)
    ws = (np.abs(wk).reshape(c, -1).max(axis=1) / 127.5).astype(np.float32)
    inits = {"s_x": np.array([0.03], np.float32), "z_x": np.array([128], np.uint8),
             "s_y": np.array([0.02], np.float32), "z_y0": np.array([0], np.uint8),
             "wk": wk, "ws": ws, "wz0": np.zeros(c, np.int8),
             "k": (k if bn_matches else k * 1.01).reshape(1, c, 1, 1).astype(np.float32),
             "gamma": gamma, "beta": (r.standard_normal(c) * 0.1).astype(np.float32),
             "mean": (r.standard_normal(c) * 0.1).astype(np.float32), "var": var}
    nodes = [helper.make_node("Identity", ["wz0"], ["wz"]), helper.make_node("Identity", ["z_y0"], ["z_y"]),
             helper.make_node("Constant", [], ["zero_bias"], value=numpy_helper.from_array(np.zeros(c, np.float32))),
             helper.make_node("QuantizeLinear", ["x", "s_x", "z_x"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s_x", "z_x"], ["xd"]),
             helper.make_node("QuantizeLinear", ["wk", "ws", "wz"], ["wq"], axis=0),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
             helper.make_node("Conv", ["xd", "wd", "zero_bias"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Div", ["c", "k"], ["d"]),
             helper.make_node("BatchNormalization", ["d", "gamma", "beta", "mean", "var"], ["b"], name="bn"),
             helper.make_node("Relu", ["b"], ["r"]),
             helper.make_node("QuantizeLinear", ["r", "s_y", "z_y"], ["rq"]),
             helper.make_node("DequantizeLinear", ["rq", "s_y", "z_y"], ["y"])]
    return save(path, nodes, inits, {"x": IN_SHAPE}, {"y": [1, c, *IN_SHAPE[2:]]})


def test_pytorch_qat_conv_bn_export_keeps_its_weight_codes(tmp_path, data):
    """Identity-shared zero points are constants; / k and the BatchNorm's scale k cancel, so the
    BatchNorm goes into the bias and the conv keeps PyTorch's weight codes, -128 included."""
    path = _torchscript_qat_conv_bn(tmp_path / "qat.onnx")
    compiled = compile_model(path, None, "qat")
    g = compiled.graph
    assert compiled.calibration == "scales from the pre-quantized (QDQ) model"
    assert [n.op for n in g.nodes] == ["conv"] and any("QAT BatchNorm 'bn'" in w for w in compiled.warnings)
    model = onnx.load(str(path))
    c = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    codes = np.rint(c["wk"] / c["ws"].reshape(-1, 1, 1, 1)).astype(np.int8)
    assert codes.min() == -128
    conv = g.nodes[0]
    np.testing.assert_array_equal(g.const(conv.q["weights"]), codes.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(g.tensors[conv.q["weights"]].scale, c["ws"].astype(np.float64))
    x = data["test"][:40]
    expected = golden(compiled, quantized_inputs(compiled, {"x": x}))
    y = ort_run(path, x)["y"].transpose(0, 2, 3, 1)
    assert agreement(output_codes(compiled, y), expected)["max"] <= 1
    # When / k is not the BatchNorm's scale, they do not cancel: the BatchNorm is folded as usual.
    other = compile_model(_torchscript_qat_conv_bn(tmp_path / "other.onnx", bn_matches=False), None, "other")
    assert not any("QAT BatchNorm" in w for w in other.warnings)


def test_an_average_pool_left_float_takes_a_neighbours_quantization(tmp_path):
    """PyTorch leaves an average pool unquantized: eager QAT feeds it straight to Flatten → Gemm
    (its output keeps its input's quantization), PT2E to a Reshape → Q/DQ (it takes that one)."""
    r = np.random.default_rng(13)
    inits = {"s1": np.array(0.05, np.float32), "z1": np.array(-20, np.int8),
             "s2": np.array(0.02, np.float32), "z2": np.array(5, np.int8),
             "s3": np.array(0.1, np.float32), "z3": np.array(0, np.int8),
             "w": (r.standard_normal((4, 3 * 6 * 5)) * 0.1).astype(np.float32), "shape": np.array([1, -1], np.int64)}

    def model(name: str, reshape_quantized: bool) -> Path:
        nodes = [helper.make_node("QuantizeLinear", ["x", "s1", "z1"], ["xq"]),
                 helper.make_node("DequantizeLinear", ["xq", "s1", "z1"], ["xd"]),
                 helper.make_node("AveragePool", ["xd"], ["p"], kernel_shape=[2, 2], strides=[2, 2])]
        if reshape_quantized:
            nodes += [helper.make_node("Reshape", ["p", "shape"], ["f0"]),
                      helper.make_node("QuantizeLinear", ["f0", "s2", "z2"], ["fq"]),
                      helper.make_node("DequantizeLinear", ["fq", "s2", "z2"], ["f"])]
        else:
            nodes.append(helper.make_node("Flatten", ["p"], ["f"]))
        nodes += [helper.make_node("Gemm", ["f", "w"], ["g"], transB=1),
                  helper.make_node("QuantizeLinear", ["g", "s3", "z3"], ["gq"]),
                  helper.make_node("DequantizeLinear", ["gq", "s3", "z3"], ["y"])]
        return save(tmp_path / f"{name}.onnx", nodes, inits, {"x": IN_SHAPE}, {"y": [1, 4]})

    for name, reshape_quantized, qparams in (("eager", False, (0.05, -20)), ("pt2e", True, (0.02, 5))):
        compiled = compile_model(model(name, reshape_quantized), None, name)
        assert compiled.calibration == "scales from the pre-quantized (QDQ) model", name
        pool = next(n for n in compiled.graph.nodes if n.op == "avg_pool")
        t = compiled.graph.tensors[pool.outputs[0]]
        assert (t.scale, t.zero_point) == (pytest.approx(qparams[0]), qparams[1]), name


def test_a_quantized_tensor_quantized_again_is_requantized(tmp_path):
    """DequantizeLinear → QuantizeLinear with other parameters: an identity table (a requantizing
    Clip) carries the value from one quantization to the other."""
    inits = {"s1": np.array(0.1, np.float32), "z1": np.array(3, np.int8),
             "s2": np.array(0.05, np.float32), "z2": np.array(-5, np.int8)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s1", "z1"], ["a"]),
             helper.make_node("DequantizeLinear", ["a", "s1", "z1"], ["b"]),
             helper.make_node("QuantizeLinear", ["b", "s2", "z2"], ["c"]),
             helper.make_node("DequantizeLinear", ["c", "s2", "z2"], ["d"]),
             helper.make_node("Sigmoid", ["d"], ["e"]),
             helper.make_node("QuantizeLinear", ["e", "s2", "z2"], ["f"]),
             helper.make_node("DequantizeLinear", ["f", "s2", "z2"], ["y"])]
    path = save(tmp_path / "requant.onnx", nodes, inits, {"x": [1, 6]}, {"y": [1, 6]})
    compiled = compile_model(path, None, "requant")
    g = compiled.graph
    assert [n.attrs["fn"] for n in g.nodes] == ["clip", "sigmoid"]
    assert (g.tensors["x"].scale, g.tensors["x"].zero_point) == (pytest.approx(0.1), 3)
    assert (g.tensors[g.nodes[0].outputs[0]].scale, g.tensors[g.nodes[0].outputs[0]].zero_point) == \
        (pytest.approx(0.05), -5)
    x = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32) * 3
    expected = golden(compiled, quantized_inputs(compiled, {"x": x}))
    whole = agreement(output_codes(compiled, ort_run(path, x)["y"]), expected)
    assert whole["max"] <= 1, whole


# --- import: bad input -------------------------------------------------------------------------------

def cli_error(path: Path, tmp_path: Path, capsys) -> str:
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("mcugen: error: ") and "Traceback" not in err and "\n" not in err
    return err


def test_unsupported_quantized_operators_are_listed_in_one_message(tmp_path, data, capsys):
    qop = ort_quantize(float_cnn(tmp_path / "cnn.onnx"), tmp_path / "qop.onnx", data["calib"],
                       fmt=QuantFormat.QOperator)
    err = cli_error(qop, tmp_path, capsys)
    # Every offending node named (the residual add, the average pool, the Gemm), and what is supported.
    for what in ("QLinearAdd 'a_quantized'", "QLinearAveragePool 'ap_quantized'", "QGemm 'g_quantized'",
                 "QLinearConv/QLinearMatMul"):
        assert what in err, err
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"], name="dyn"),
             helper.make_node("ConvInteger", ["xq", "wq", "xz"], ["ci"], name="convint"),
             helper.make_node("Cast", ["ci"], ["y"], to=TensorProto.FLOAT)]
    path = save(tmp_path / "dyn.onnx", nodes, {"wq": np.ones((2, 3, 1, 1), np.uint8)}, {"x": IN_SHAPE},
                {"y": [1, 2, *IN_SHAPE[2:]]})
    err = cli_error(path, tmp_path, capsys)
    assert "DynamicQuantizeLinear 'dyn'" in err and "ConvInteger 'convint'" in err


def _pair(scale_q=0.1, scale_dq=0.1, zq=np.int8, extra=()):
    inits = {"sq": np.array(scale_q, np.float32), "sdq": np.array(scale_dq, np.float32),
             "z": np.array(0, zq), "z8": np.array(0, np.int8)}
    nodes = [helper.make_node("QuantizeLinear", ["x", "sq", "z"], ["xq"], name="q"),
             helper.make_node("DequantizeLinear", ["xq", "sdq", "z"], ["xd"], name="dq"),
             helper.make_node("Relu", ["xd"], ["y"]), *extra]
    return nodes, inits


@pytest.mark.parametrize("case, message", [
    ("mismatched_pair", "use different scales or zero points"),
    ("int16", "quantizes to int16, not int8 or uint8"),
    ("q_without_dq", "must be followed by DequantizeLinear"),
    ("dq_of_input", "which no QuantizeLinear produces"),
    ("per_channel_activation", "per channel"),
    ("block_wise", "block-wise"),
])
def test_malformed_qdq_is_one_clear_error(case, message, tmp_path, capsys):
    nodes, inits = _pair()
    inputs, opset = {"x": [1, 3, 4, 4]}, 13
    if case == "mismatched_pair":
        nodes, inits = _pair(scale_dq=0.2)
    elif case == "int16":
        nodes, inits = _pair(zq=np.int16)
        opset = 21
    elif case == "q_without_dq":
        nodes = [helper.make_node("QuantizeLinear", ["x", "sq", "z"], ["xq"], name="q"),
                 helper.make_node("Relu", ["xq"], ["y"])]
    elif case == "dq_of_input":
        nodes = [helper.make_node("DequantizeLinear", ["x", "sq", "z"], ["y"], name="dq")]
    elif case == "per_channel_activation":
        inits["sq"] = inits["sdq"] = np.full(3, 0.1, np.float32)
        inits["z"] = np.zeros(3, np.int8)
        nodes = [helper.make_node(n.op_type, n.input, n.output, name=n.name, axis=1) if n.op_type in
                 ("QuantizeLinear", "DequantizeLinear") else n for n in nodes]
    elif case == "block_wise":
        inits["sq"] = inits["sdq"] = np.full((1, 3, 2, 4), 0.1, np.float32)
        inits["z"] = np.zeros((1, 3, 2, 4), np.int8)
        nodes = [helper.make_node(n.op_type, n.input, n.output, name=n.name, axis=2, block_size=2)
                 if n.op_type in ("QuantizeLinear", "DequantizeLinear") else n for n in nodes]
        opset = 21
    path = tmp_path / f"{case}.onnx"
    g = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info(
        "x", TensorProto.INT8 if case == "dq_of_input" else TensorProto.FLOAT, inputs["x"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10 if opset >= 21 else 7
    onnx.save(model, str(path))
    err = cli_error(path, tmp_path, capsys)
    assert message in err, err


# --- export --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    compiled = compile_model(EXAMPLES / "cnn.onnx", EXAMPLES / "calib_cnn.npz", "digits")
    x = np.load(EXAMPLES / "test_cnn.npz")["x"].astype(np.float32)
    return compiled, x


def test_export_runs_in_onnxruntime_and_agrees_with_the_golden_reference(tmp_path, data):
    src = float_cnn(tmp_path / "cnn.onnx")
    np.savez(tmp_path / "calib.npz", x=data["calib"])
    compiled = compile_model(src, tmp_path / "calib.npz", "cnn")
    path = tmp_path / "cnn.q.onnx"
    export_qdq(compiled, path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["x"] and [o.name for o in model.graph.output] == ["y"]
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert shape == IN_SHAPE  # NCHW, as the original
    # Transposes only where channels-first layers meet mcugen's memory-order ones (the flatten).
    assert sum(n.op_type == "Transpose" for n in model.graph.node) == 1
    x = data["test"]
    qin = quantized_inputs(compiled, {"x": x})
    codes = exported_codes(model, x)
    np.testing.assert_array_equal(codes["x"], qin["x"])
    per_layer = layerwise(compiled, qin, codes)
    for name, stats in per_layer.items():
        assert stats["max"] <= 1, (name, stats)
    expected = golden(compiled, qin)
    whole = agreement(output_codes(compiled, ort_run(model, x)["y"]), expected)
    print(f"\nexport agreement per layer: {per_layer}\nwhole model: {whole}")
    # Measured with ONNX Runtime 1.32: whole model 82 % identical, the rest off by 1; average pooling
    # (one rounding, as ORT) 100 % identical. A little margin for other ORT versions.
    assert per_layer["ap"]["identical"] >= 0.99
    assert whole["max"] <= 2 and whole["identical"] >= 0.75 and whole["identical"] + whole["off_by_1"] >= 0.98


def test_digits_export_agrees_and_round_trips(digits, tmp_path):
    compiled, x = digits
    path = tmp_path / "digits.q.onnx"
    export_qdq(compiled, path)
    qin = quantized_inputs(compiled, {"x": x})
    expected = golden(compiled, qin)
    model = onnx.load(str(path))
    per_layer = layerwise(compiled, qin, exported_codes(model, x))
    for name, stats in per_layer.items():
        assert stats["max"] <= 1, (name, stats)
    whole = agreement(output_codes(compiled, ort_run(model, x)["probs"]), expected)
    print(f"\ndigits export per layer: {per_layer}\nwhole model: {whole}")
    assert whole["identical"] >= 0.99 and whole["max"] <= 3
    # Reimport: the same scales (to float32, what ONNX stores) and zero points, the same integer
    # weights and biases, the same outputs from the generated C.
    again = compile_model(path, None, "digits")
    for t in compiled.graph.activations():
        t2 = again.graph.tensors[t.name]
        assert (t2.scale, t2.zero_point) == (float(np.float32(t.scale)), t.zero_point), t.name
    first = {n.name: n for n in compiled.graph.nodes}
    for n in again.graph.nodes:
        if "bias" in n.q:
            np.testing.assert_array_equal(again.graph.const(n.q["bias"]), compiled.graph.const(first[n.name].q["bias"]))
            np.testing.assert_array_equal(again.graph.tensors[n.q["weights"]].scale.astype(np.float32),
                                          compiled.graph.tensors[first[n.name].q["weights"]].scale.astype(np.float32))
    np.testing.assert_array_equal(check_c(again, {"x": x}, tmp_path / "lib"), expected)


def test_export_refuses_what_it_cannot_write(digits):
    compiled, _ = digits
    wide = compile_model(EXAMPLES / "cnn.onnx", EXAMPLES / "calib_cnn.npz", "digits",
                         precision=Precision.from_flags(activations="int16"))
    with pytest.raises(McugenError, match="int8"):
        build_qdq_model(wide.graph)
    g = compiled.graph.copy()
    g.nodes[1].op = "resize"  # an operator the export has no mapping for
    with pytest.raises(McugenError, match="resize"):
        build_qdq_model(g)


def test_export_then_import_of_a_residual_model_is_bit_exact(tmp_path, data):
    """Round trip on the model with the residual add and pools: same outputs from the C."""
    src = float_cnn(tmp_path / "cnn.onnx", seed=4)
    np.savez(tmp_path / "calib.npz", x=data["calib"])
    compiled = compile_model(src, tmp_path / "calib.npz", "cnn")
    export_qdq(compiled, tmp_path / "cnn.q.onnx")
    again = compile_model(tmp_path / "cnn.q.onnx", None, "cnn")
    x = data["test"][:60]
    np.testing.assert_array_equal(check_c(again, {"x": x}, tmp_path / "lib"),
                                  golden(compiled, quantized_inputs(compiled, {"x": x})))


def test_quantize_command_writes_a_model_onnxruntime_runs(tmp_path, capsys):
    out = tmp_path / "cnn.q.onnx"
    args = ["quantize", str(EXAMPLES / "cnn.onnx"), "--calib", str(EXAMPLES / "calib_cnn.npz"),
            "--method", "percentile", "--bits", "8", "-o", str(out)]
    assert main(args) == 0 and "wrote" in capsys.readouterr().out
    test = np.load(EXAMPLES / "test_cnn.npz")
    session = ort.InferenceSession(str(out))  # the export fixes the batch at 1
    probs = np.concatenate([session.run(None, {"x": x[None]})[0] for x in test["x"][:40]])
    assert probs.shape == (40, 10) and np.allclose(probs.sum(1), 1.0, atol=0.05)
    assert np.mean(probs.argmax(1) == test["y"][:40]) >= 0.95
    # An existing file is kept unless --force; int16 activations are not written; -o is not the input.
    before = out.read_bytes()
    assert main(args) == 1 and "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main(args + ["--force", "--activations", "int16"]) == 1
    assert "int8 activations" in capsys.readouterr().err and out.read_bytes() == before
    assert main(args[:-1] + [str(EXAMPLES / "cnn.onnx"), "--force"]) == 1
    assert "input model itself" in capsys.readouterr().err
    # What generate makes of the exported model: no calibration needed, no warning about it.
    assert main(["generate", str(out), "-o", str(tmp_path / "lib")]) == 0
    captured = capsys.readouterr()
    assert "scales from the pre-quantized (QDQ) model" in captured.out and "--calib" not in captured.err


def test_given_weight_scales_keep_minus_128():
    from mcugen.ops.base import per_channel_weights

    w = np.array([[-128.0, 0.5, 127.0], [-2.0, 1.0, 2.0]], dtype=np.float32) * np.array([[0.01], [0.5]])
    q, scale = per_channel_weights(w, scale=np.array([0.01, 0.5]))
    np.testing.assert_array_equal(q, [[-128, 0, 127], [-2, 1, 2]])  # round half to even: 0.5 -> 0
    q, _ = per_channel_weights(w)  # mcugen's own quantization stays symmetric
    assert q.min() >= -127


def test_a_1d_qdq_model_keeps_its_scales_through_the_2d_twins(tmp_path):
    """A 1-D conv net quantized by ONNX Runtime: its convs run as 2-D with H = 1 on rank-4 twins of the
    rank-3 tensors; the twins take the QDQ model's scales (nothing is calibrated), the weights are
    ORT's integers, and the C equals the golden reference and is within 2 codes of ORT."""
    r = np.random.default_rng(4)
    def w(*shape, scale=0.3):
        return (r.standard_normal(shape) * scale).astype(np.float32)

    inits = {"W1": w(6, 3, 5), "B1": w(6, scale=0.1), "W2": w(4, 6, 3), "Wg": w(5, 4, scale=0.5)}
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], pads=[2, 2]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("MaxPool", ["r1"], ["p"], kernel_shape=[2], strides=[2]),
             helper.make_node("Conv", ["p", "W2"], ["c2"], pads=[1, 1]),
             helper.make_node("GlobalAveragePool", ["c2"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "Wg"], ["y"], transB=1)]
    src = save(tmp_path / "net1d.onnx", nodes, inits, {"x": [1, 3, 16]}, {"y": [1, 5]})
    calib = r.standard_normal((32, 3, 16)).astype(np.float32)
    qdq = ort_quantize(src, tmp_path / "net1d_qdq.onnx", calib)
    compiled = compile_model(qdq, None, "net1d")
    g = compiled.graph
    for t in g.activations():
        if t.name in g.fixed_qparams:
            assert (t.scale, t.zero_point) == g.fixed_qparams[t.name], t.name
    convs = [n for n in g.nodes if n.op == "conv"]
    assert len(convs) == 2 and all(n.inputs[1] in g.fixed_weight_scales for n in convs)
    consts = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(qdq)).graph.initializer}
    np.testing.assert_array_equal(g.const(convs[0].q["weights"])[:, 0], consts["W1_quantized"].transpose(0, 2, 1))
    x = r.standard_normal((20, 3, 16)).astype(np.float32)
    expected = check_c(compiled, {"x": x}, tmp_path / "lib")
    y = ort_run(qdq, x)["y"]
    assert agreement(output_codes(compiled, y), expected)["max"] <= 2
