"""Bias correction: the correction equals the mean output error of the rounded weights on the
calibration data (for every window geometry and grouping), and it pays on the digits models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from helpers import make_model, save_samples
from mcugen.cli import main
from mcugen.compiler import compile_model, load_float_graph
from mcugen.data import load_samples, to_physical
from mcugen.graph.reference import run_float
from mcugen.ops import op_for
from mcugen.ops.base import per_channel_weights
from mcugen.ops.conv import bias_correction
from mcugen.quant.bias_correction import input_means
from mcugen.quant.evaluate import float_outputs, quantized_outputs, score
from mcugen.quant.quantize import LayerPrecision, Precision

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
R = np.random.default_rng(5)


def w(*shape):
    return (R.standard_normal(shape) * 0.5).astype(np.float32)


@pytest.fixture
def layered(tmp_path):
    """Grouped conv with stride, dilation and asymmetric padding; depthwise with multiplier 2; FC."""
    nodes = [helper.make_node("Conv", ["x", "W1"], ["c1"], group=2, strides=[2, 1], dilations=[1, 2],
                              pads=[1, 0, 2, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "W2", "B2"], ["c2"], group=4, pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c2"], ["f"]),
             helper.make_node("Gemm", ["f", "W3"], ["y"], transB=1)]
    model = make_model(tmp_path / "m.onnx", nodes, {"x": [1, 4, 9, 8]}, {"y": None},
                       {"W1": w(4, 2, 3, 3), "W2": w(8, 1, 3, 3), "B2": w(8), "W3": w(5, 8 * 5 * 5)})
    x = R.standard_normal([40, 4, 9, 8]).astype(np.float32) + 0.7  # a non-zero mean, as real inputs have
    return model, x, save_samples(tmp_path / "calib.npz", {"x": x})


@pytest.mark.parametrize("bits", [8, 4])
def test_correction_is_the_mean_output_error_of_the_rounded_weights(layered, bits):
    model, _, calib = layered
    graph = load_float_graph(model)
    samples = load_samples(calib, graph)
    means = input_means(graph, samples)
    values = run_float(graph, {"x": to_physical(graph, "x", samples.inputs["x"])}, keep_all=True)
    weighted = [n for n in graph.nodes if n.op in ("conv", "depthwise_conv", "fully_connected")]
    assert [n.op for n in weighted] == ["conv", "depthwise_conv", "fully_connected"]
    for node in weighted:
        wt = graph.tensors[node.inputs[1]]
        q, scale = per_channel_weights(wt.data, bits=bits)
        dequantized = (q * scale.reshape([-1] + [1] * (wt.data.ndim - 1))).astype(np.float32)
        x = values[node.inputs[0]]
        op = op_for(node)
        unbiased = dict(node.attrs)
        unbiased.pop("act", None)
        plain = node.__class__(node.op, node.name, node.inputs[:2], node.outputs, unbiased)
        error = op.run_float(plain, graph, [x, dequantized]) - op.run_float(plain, graph, [x, wt.data])
        measured = error.reshape(-1, error.shape[-1]).mean(axis=0)
        np.testing.assert_allclose(bias_correction(node, wt.data, dequantized, means[node.name]), measured,
                                   rtol=1e-3, atol=1e-4)


def test_digits_int4_gains_from_bias_correction():
    results = {}
    for corrected in (True, False):
        compiled = compile_model(DIGITS / "mlp.onnx", DIGITS / "calib_mlp.npz", "mlp",
                                 precision=Precision(LayerPrecision(4, 8)), bias_correction=corrected)
        data = load_samples(DIGITS / "test_mlp.npz", compiled.float_graph)
        reference = float_outputs(compiled.float_graph, data)
        results[corrected] = score(reference, quantized_outputs(compiled.graph, data), data.labels)
        assert ("bias-corrected" in compiled.calibration) == corrected
    # Measured: 21.8 -> 27.2 dB output SNR, 96.11 % -> 97.22 % (float 97.22 %).
    assert results[True].snr_db > results[False].snr_db + 3
    assert results[True].accuracy >= results[False].accuracy


def test_without_calibration_data_nothing_is_corrected():
    compiled = compile_model(DIGITS / "mlp.onnx", None, "mlp")
    assert not compiled.float_graph.input_means and "bias-corrected" not in compiled.calibration


def test_the_flag_reaches_generate(tmp_path, capsys):
    hashes = []
    for extra in ([], ["--no-bias-correction"]):
        assert main(["generate", str(DIGITS / "mlp.onnx"), "--calib", str(DIGITS / "calib_mlp.npz"),
                     "-o", str(tmp_path / f"lib{len(extra)}"), *extra]) == 0
        out = capsys.readouterr().out
        assert ("bias-corrected" in out) == (not extra)
        hashes.append(out.split("model hash ")[1].split()[0])
    assert hashes[0] != hashes[1]
