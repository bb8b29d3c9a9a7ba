"""The bundled digits models on real held-out data: accuracy, float agreement, bit-exact C."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from helpers import check_bit_exact, golden, quantized_inputs
from mcugen.compiler import compile_model
from mcugen.data import load_samples

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"


def accuracies(kind: str):
    model, calib, test = DIGITS / f"{kind}.onnx", DIGITS / f"calib_{kind}.npz", DIGITS / f"test_{kind}.npz"
    compiled = compile_model(model, calib, "digits")
    samples = load_samples(test, compiled.float_graph)
    x = samples.inputs["x"]
    float_out = ort.InferenceSession(str(model)).run(None, {"x": x})[0]
    q = golden(compiled, quantized_inputs(compiled, samples.inputs))
    out = compiled.graph.tensors[compiled.graph.outputs[0]]
    deq = (q.astype(np.float32) - out.zero_point) * out.scale
    return compiled, samples, float_out, deq


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_int8_accuracy_within_one_point_of_float(kind):
    _, samples, float_out, deq = accuracies(kind)
    float_acc = np.mean(float_out.argmax(1) == samples.labels)
    int8_acc = np.mean(deq.argmax(1) == samples.labels)
    assert int8_acc >= float_acc - 0.01, (float_acc, int8_acc)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_golden_reference_agrees_with_onnxruntime(kind):
    _, _, float_out, deq = accuracies(kind)
    cos = np.sum(float_out * deq, 1) / (np.linalg.norm(float_out, axis=1) * np.linalg.norm(deq, axis=1))
    assert cos.min() >= 0.99, cos.min()
    assert np.mean(float_out.argmax(1) == deq.argmax(1)) >= 0.98


def test_generated_cnn_is_bit_exact_on_the_whole_test_split(tmp_path):
    samples = dict(np.load(DIGITS / "test_cnn.npz"))
    check_bit_exact(DIGITS / "cnn.onnx", DIGITS / "calib_cnn.npz", tmp_path, {"x": samples["x"]}, name="digits")


def test_generated_mlp_is_bit_exact_on_the_whole_test_split(tmp_path):
    samples = dict(np.load(DIGITS / "test_mlp.npz"))
    check_bit_exact(DIGITS / "mlp.onnx", DIGITS / "calib_mlp.npz", tmp_path, {"x": samples["x"]}, name="mlp")
