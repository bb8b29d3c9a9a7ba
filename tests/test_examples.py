"""The bundled example models in examples/digits are what the compiler's tests and docs build on.

These checks use onnxruntime only, so they hold the committed files to their documented contract
(examples/README.md) independently of mcugen itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

ort = pytest.importorskip("onnxruntime")

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
N_CALIB, N_TEST = 200, 360

# Per model: input shape (without the batch), output name, operator sequence, accuracy floor.
MODELS = {
    "mlp": ([64], "logits", ["Gemm", "Relu", "Gemm"], 0.95),
    "cnn": (
        [1, 8, 8],
        "probs",
        ["Conv", "BatchNormalization", "Relu", "MaxPool"]
        + ["Conv", "BatchNormalization", "Clip", "Flatten", "Gemm", "Softmax"],
        0.96,
    ),
}


def load_npz(name: str) -> dict[str, np.ndarray]:
    with np.load(DIGITS / name) as f:
        return dict(f)


def dims(value_info: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("name", MODELS)
def test_model_is_valid_opset13_with_symbolic_batch(name: str) -> None:
    in_shape, out_name, ops, _ = MODELS[name]
    model = onnx.load(DIGITS / f"{name}.onnx")
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    (x,), (out,) = model.graph.input, model.graph.output
    assert (x.name, dims(x)) == ("x", ["N", *in_shape])
    assert (out.name, dims(out)) == (out_name, ["N", 10])
    # The CNN's real BN nodes and NCHW Flatten are deliberate: they exercise BN folding and layout.
    assert [node.op_type for node in model.graph.node] == ops


@pytest.mark.parametrize("name", MODELS)
def test_float_accuracy_on_test_split(name: str) -> None:
    *_, floor = MODELS[name]
    test = load_npz(f"test_{name}.npz")
    session = ort.InferenceSession(str(DIGITS / f"{name}.onnx"), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": test["x"]})
    accuracy = float((out.argmax(axis=1) == test["y"]).mean())
    assert accuracy >= floor, f"{name}: float test accuracy {accuracy:.2%} < {floor:.0%}"
    if name == "cnn":
        np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_npz_keys_shapes_dtypes(name: str) -> None:
    in_shape = MODELS[name][0]
    calib, test = load_npz(f"calib_{name}.npz"), load_npz(f"test_{name}.npz")
    assert sorted(calib) == ["x"]
    assert sorted(test) == ["x", "y"]
    assert calib["x"].shape == (N_CALIB, *in_shape) and calib["x"].dtype == np.float32
    assert test["x"].shape == (N_TEST, *in_shape) and test["x"].dtype == np.float32
    assert test["y"].shape == (N_TEST,) and test["y"].dtype == np.int64
    assert set(np.unique(test["y"])) == set(range(10))
    for x in (calib["x"], test["x"]):
        assert x.min() >= 0.0 and x.max() <= 1.0  # pixels / 16


def test_both_layouts_hold_the_same_samples() -> None:
    # Quantised results of the two models are only comparable if they see the same data.
    for split in ("calib", "test"):
        mlp, cnn = load_npz(f"{split}_mlp.npz"), load_npz(f"{split}_cnn.npz")
        np.testing.assert_array_equal(cnn["x"].reshape(len(cnn["x"]), -1), mlp["x"])
        if split == "test":
            np.testing.assert_array_equal(cnn["y"], mlp["y"])
