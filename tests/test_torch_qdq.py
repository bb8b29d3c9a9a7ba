"""QDQ models exported by PyTorch, imported by mcugen (no torch needed: the fixtures are committed;
tests/fixtures/make_torch_qdq.py made them with torch 2.13.0 and says how to rerun it).

- torch_qat_cnn.onnx: eager-mode QAT (fused Conv+BN+ReLU modules, FakeQuantize), per-channel
  symmetric int8 weights using code -128, uint8 activations; TorchScript exporter, opset 13.
- torch_pt2e_cnn.onnx: PT2E post-training quantization (XNNPACKQuantizer), int8 activations;
  dynamo exporter, opset 18.

Model: Conv+BN+ReLU, Conv+BN, residual Add+ReLU, depthwise Conv+BN+ReLU, MaxPool, 1x1 Conv+ReLU,
AvgPool, Flatten, Linear. For each fixture: nothing is calibrated, the weights are PyTorch's
integers, the generated C equals mcugen's golden reference bit for bit (gcc and clang); mcugen's
int8 codes are compared with ONNX Runtime's run of the same QDQ file, one layer at a time (on
ORT's own input codes) and through the whole model, and with the quantized PyTorch model's own
outputs (`y_torch` in the .npz).

Measured on the 32 committed samples (ORT 1.32.0); in brackets, with the average pool that rounded
its divide twice (requantize's double rounding, before commit a92a461):

- Per layer, on ORT's own input codes: every conv, depthwise conv, add, max pool and Linear within
  1 LSB, 99.79-100% identical (add and max pool 100%), in both fixtures.
- The first comparison after the average pool, which both QDQ models compute in float: PT2E (pool +
  reshape, quantized by the reshape's QuantizeLinear) 100% identical [max 1, 81.6%]; QAT (pool +
  flatten + Linear; nothing quantizes the pool, mcugen rounds it to its input's scale, ORT feeds
  the Linear the float average) max 2 LSB, 62.8% identical [max 2, 44.1%].
- Whole model vs ORT's (optimized) run: QAT max 2 LSB, 61.9% identical [max 2, 42.8%]; PT2E max
  1 LSB, 86.6% identical [max 2, 67.5%]. ORT itself differs from PyTorch by up to 1 LSB (99.7% /
  90.3% identical); ORT's unoptimized run equals PyTorch exactly.
- vs PyTorch's own outputs: QAT max 2 LSB, 61.6% identical codes, cosine 0.99994 [42.5%, 0.99992];
  PT2E max 1 LSB, 87.5% identical, cosine 0.99997 [max 2, 66.3%, 0.99994].

Where the QDQ model keeps a value in float between two QuantizeLinear (the average pools here), an
int8 runtime has to round it: the importer gives it the quantization of a Reshape → QuantizeLinear
after it (PT2E), else its input's, as PyTorch's quantized average pool does (eager QAT).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from test_qdq import agreement, layerwise, ort_run, output_codes

from helpers import check_bit_exact, golden, quantized_inputs
from mcugen.compiler import calibrated_tensors, compile_model

FIXTURES = Path(__file__).parent / "fixtures"
# What the asserts allow: the measured agreement (module docstring) with a small margin; pool_* is
# the first comparison after the average pool, torch_* mcugen's output codes vs PyTorch's.
LIMITS = {"torch_qat_cnn": dict(pool_max=2, pool_identical=0.60, whole_max=2, whole_identical=0.59,
                                torch_max=2, torch_identical=0.59),
          "torch_pt2e_cnn": dict(pool_max=0, pool_identical=1.0, whole_max=1, whole_identical=0.84,
                                 torch_max=1, torch_identical=0.85)}


def fixture(name: str) -> tuple[Path, np.ndarray, np.ndarray]:
    data = np.load(FIXTURES / f"{name}.npz")
    return FIXTURES / f"{name}.onnx", data["x"], data["y_torch"]


def ort_codes(path: Path, compiled, x: np.ndarray) -> dict[str, np.ndarray]:
    """ORT's int8 codes of every quantized activation, keyed by mcugen's tensor names, in mcugen's
    physical layout (NHWC; a flatten in NHWC order). A Relu mcugen fused into its producer gives
    its codes to the producer's output; uint8 codes become int8 (c - 128)."""
    model = onnx.load(str(path))
    consts = {i.name for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    users: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    outputs = {o.name for o in model.graph.output}
    g = compiled.graph
    where = {}
    for q in model.graph.node:
        if q.op_type != "QuantizeLinear" or q.input[0] in consts:
            continue
        name = next((u.output[0] for u in users[q.output[0]] if u.output[0] in outputs), q.input[0])
        while name not in g.tensors and name in producer and producer[name].op_type in ("Relu", "Identity"):
            name = producer[name].input[0]
        if name in g.tensors:
            where[q.output[0]] = name
    codes = ort_run(model, x, list(where))
    result = {}
    for q, name in where.items():
        v = codes[q].astype(np.int64) - (128 if codes[q].dtype == np.uint8 else 0)
        p = g.producer(name)
        if v.ndim == 4:
            v = v.transpose(0, 2, 3, 1)
        elif p is not None and p.op == "reshape" and len(g.tensors[p.inputs[0]].shape) == 4:
            _, h, w, c = g.tensors[p.inputs[0]].shape  # ORT flattens NCHW, mcugen its NHWC memory
            v = v.reshape(len(v), c, h, w).transpose(0, 2, 3, 1).reshape(len(v), -1)
        assert v.shape[1:] == tuple(g.tensors[name].shape[1:]), name
        result[name] = v
    return result


def weight_codes(path: Path) -> list[np.ndarray]:
    """The int8 weight codes of the QDQ file in node order: int8 initializers, or float weights
    quantized by a QuantizeLinear (fake quantization), as ORT computes them (round(w / s))."""
    model = onnx.load(str(path))
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    codes = []
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in consts and consts[n.input[0]].ndim >= 2:
            codes.append(consts[n.input[0]])
        elif n.op_type == "QuantizeLinear" and n.input[0] in consts and consts[n.input[0]].ndim >= 2:
            w, s = consts[n.input[0]], consts[n.input[1]]
            q = np.rint(w / s.reshape(-1, *[1] * (w.ndim - 1)))
            codes.append(np.clip(q, -128, 127).astype(np.int8))
    return codes


def mcugen_weights(compiled) -> list[np.ndarray]:
    """mcugen's weight codes in ONNX layout ([O, I, kh, kw] / [C, 1, kh, kw] / [O, I] in NCHW order)."""
    g = compiled.graph
    result = []
    for n in g.nodes:
        if "weights" not in n.q:
            continue
        w = g.const(n.q["weights"])
        if n.op == "conv":
            w = w.transpose(0, 3, 1, 2)
        elif n.op == "depthwise_conv":
            w = w.transpose(2, 0, 1)[:, None]
        elif g.producer(n.inputs[0]).op == "reshape":  # columns in NHWC memory order: back to NCHW's
            _, h, wd, c = g.tensors[g.producer(n.inputs[0]).inputs[0]].shape
            w = w.reshape(len(w), h, wd, c).transpose(0, 3, 1, 2).reshape(len(w), -1)
        result.append(w)
    return result


def measure(name: str) -> dict:
    """Agreement of mcugen's golden reference with ORT's run of the fixture and with PyTorch."""
    path, x, y_torch = fixture(name)
    compiled = compile_model(path, None, name)
    g = compiled.graph
    qin = quantized_inputs(compiled, {"x": x})
    ref = ort_codes(path, compiled, x)
    np.testing.assert_array_equal(qin["x"], ref["x"])  # the same input codes
    per_layer = layerwise(compiled, qin, ref)
    out = golden(compiled, qin)
    t = g.tensors[g.outputs[0]]
    y_ours = (out.astype(np.float64) - t.zero_point) * t.scale
    y_torch = y_torch.reshape(len(x), -1).astype(np.float64)
    return {"compiled": compiled, "per_layer": per_layer,
            "whole": agreement(output_codes(compiled, ort_run(path, x)["y"]), out),
            "torch": agreement(output_codes(compiled, y_torch), out),
            "torch_lsb": float(np.abs(y_ours - y_torch).max() / t.scale),
            "cosine": float(np.sum(y_ours * y_torch) / np.linalg.norm(y_ours) / np.linalg.norm(y_torch))}


@pytest.mark.parametrize("name", ["torch_qat_cnn", "torch_pt2e_cnn"])
def test_pytorch_export_imports_with_pytorchs_integers(name, tmp_path):
    path, x, _ = fixture(name)
    compiled = check_bit_exact(path, None, tmp_path, {"x": x}, name="net")  # C == golden, gcc and clang
    g = compiled.graph
    assert compiled.calibration == "scales from the pre-quantized (QDQ) model"
    # Every activation's quantization comes from the model or the kernel: none is calibrated.
    assert calibrated_tensors(compiled.float_graph) == []
    assert [n.op for n in g.nodes] == ["conv", "conv", "add", "depthwise_conv", "max_pool", "conv", "avg_pool",
                                       "reshape", "fully_connected"]
    # The weights are PyTorch's integers exactly (the QAT fold keeps them: BatchNorm goes to the bias).
    ours, theirs = mcugen_weights(compiled), weight_codes(path)
    assert len(ours) == len(theirs) == 5
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    # Eager QAT's symmetric weights span -128..127: code -128 is used, and kept.
    assert min(int(w.min()) for w in ours) == (-128 if name == "torch_qat_cnn" else -127)


@pytest.mark.parametrize("name", ["torch_qat_cnn", "torch_pt2e_cnn"])
def test_pytorch_export_agrees_with_onnxruntime_and_pytorch(name):
    m = measure(name)
    g, per_layer, limits = m["compiled"].graph, m["per_layer"], LIMITS[name]
    print(f"\n{name}: per layer {per_layer}\nwhole model vs ORT {m['whole']}\nvs PyTorch {m['torch']}, "
          f"max {m['torch_lsb']:.2f} LSB, cosine {m['cosine']:.6f}")
    # Compared wherever the QDQ model has a QuantizeLinear: every layer of the PT2E model but the
    # average pool (float up to the reshape's QuantizeLinear); in the QAT model not the max pool,
    # average pool and flatten, which PyTorch leaves unobserved.
    compared = [n.op for n in g.nodes if n.name in per_layer]
    if name == "torch_pt2e_cnn":
        assert compared == ["conv", "conv", "add", "depthwise_conv", "max_pool", "conv", "reshape",
                            "fully_connected"]
    else:
        assert compared == ["conv", "conv", "add", "depthwise_conv", "conv", "fully_connected"]
    after_pool = next(n.name for n in g.nodes if n.name in per_layer and n.op in ("reshape", "fully_connected"))
    for layer, stats in per_layer.items():
        if layer != after_pool:  # fed ORT's own codes: within 1 LSB, nearly always identical
            assert stats["max"] <= 1 and stats["identical"] >= 0.995, (layer, stats)
        elif stats["max"] > limits["pool_max"] or stats["identical"] < limits["pool_identical"]:
            raise AssertionError((layer, stats))
    exact = [n.name for n in g.nodes if n.op in ("add", "max_pool") and n.name in per_layer]
    assert all(per_layer[layer]["identical"] == 1.0 for layer in exact), exact
    whole, vs_torch = m["whole"], m["torch"]
    assert whole["max"] <= limits["whole_max"] and whole["identical"] >= limits["whole_identical"], whole
    assert vs_torch["max"] <= limits["torch_max"] and vs_torch["identical"] >= limits["torch_identical"], vs_torch
    assert m["torch_lsb"] <= limits["torch_max"] + 1e-3 and m["cosine"] >= 0.9999  # float32 outputs
