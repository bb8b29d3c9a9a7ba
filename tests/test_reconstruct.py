"""Post-training reconstruction (issue #11): OBC / SparseGPT pruning and GPTQ rounding lower a layer's
output error against magnitude pruning / round-to-nearest at the same sparsity / bits — measured on
inputs the reconstruction did not see, on fixed seeds — and never raise it on the ones it saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from helpers import check_bit_exact
from mcugen.cli import main
from mcugen.compiler import compile_model, layer_hessians, prune_model
from mcugen.data import load_samples
from mcugen.errors import McugenError
from mcugen.ops.obs import gptq_codes, hessian, obc_prune, row_errors
from mcugen.project import load_options
from mcugen.quant.evaluate import float_outputs, quantized_outputs, score
from mcugen.quant.prune import parse_pattern, prunable_layers, prune_rows
from mcugen.quant.quantize import Precision

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"


def layer_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights [40, 96] and correlated, ReLU-shaped inputs (as a hidden layer sees): calibration and
    held-out sets of 512 samples each."""
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((96, 96)) * 0.3
    inputs = [np.maximum(rng.standard_normal((512, 96)) @ mix, 0) for _ in range(2)]
    return rng.standard_normal((40, 96)), inputs[0], inputs[1]


def output_error(w: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((x @ (w - q).T) ** 2) / np.sum((x @ w.T) ** 2))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("pattern,sparsity", [("unstructured", 0.5), ("unstructured", 0.8), ("block4", 0.5),
                                              ("2:4", 0.5)])
def test_obc_beats_magnitude_at_equal_sparsity(seed, pattern, sparsity):
    w, calib, held_out = layer_case(seed)
    h = hessian(calib)
    shape = parse_pattern(pattern)
    magnitude = prune_rows(w, sparsity, shape)
    obc = obc_prune(w, h, sparsity, shape, magnitude)
    assert np.array_equal((obc == 0).sum(axis=1), (magnitude == 0).sum(axis=1)) or pattern != "unstructured"
    assert abs((obc == 0).mean() - (magnitude == 0).mean()) < 0.02
    assert np.all(row_errors(w, obc, h) <= row_errors(w, magnitude, h) + 1e-9)  # by construction, on calib
    assert output_error(w, obc, held_out) < 0.85 * output_error(w, magnitude, held_out)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("qmax", [7, 127])
def test_gptq_beats_nearest_rounding(seed, qmax):
    w, calib, held_out = layer_case(seed)
    w[:, ::7] = 0  # pruned weights stay exactly 0
    scale = np.abs(w).max(axis=1) / qmax
    nearest = np.clip(np.round(w / scale[:, None]), -qmax, qmax)
    codes = gptq_codes(w, hessian(calib), scale, qmax)
    assert codes.dtype == np.int64 and np.abs(codes).max() <= qmax and np.all(codes[:, ::7] == 0)
    assert output_error(w, codes * scale[:, None], held_out) < 0.8 * output_error(w, nearest * scale[:, None],
                                                                                   held_out)


def test_obc_on_the_digits_mlp(tmp_path):
    """fc1 of the digits MLP pruned to 80 % from the calibration inputs (ONNX Runtime): lower output
    error on the test inputs than magnitude pruning; and the whole model, pruned to 80 % by the
    search, loses fewer points with obc than with magnitude."""
    model = onnx.load(str(DIGITS / "mlp.onnx"))
    layers = prunable_layers(model)
    graph = compile_model(DIGITS / "mlp.onnx", DIGITS / "calib_mlp.npz", "mlp").float_graph
    h = layer_hessians(model, layers, load_samples(DIGITS / "calib_mlp.npz", graph, "calibration"))
    held = layer_hessians(model, layers, load_samples(DIGITS / "test_mlp.npz", graph, "validation"))
    fc1 = layers[0]
    w = fc1.rows(numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == fc1.initializer))
                 .astype(np.float64))
    shape = parse_pattern("unstructured")
    magnitude = prune_rows(w, 0.8, shape)
    obc = obc_prune(w, h[fc1.node], 0.8, shape, magnitude)
    assert row_errors(w, obc, held[fc1.node]).sum() < 0.7 * row_errors(w, magnitude, held[fc1.node]).sum()
    drops = {m: prune_model(DIGITS / "mlp.onnx", DIGITS / "calib_mlp.npz", DIGITS / "test_mlp.npz", sparsity=0.8,
                            name="mlp", prune_method=m)[1] for m in ("magnitude", "obc")}
    assert drops["obc"].sparsity >= 0.8 and drops["magnitude"].sparsity >= 0.8
    assert drops["obc"].drop < drops["magnitude"].drop


def digits_snr(model: str, weights: str, reconstruct: bool, bias_correction: bool = True) -> tuple[float, object]:
    compiled = compile_model(DIGITS / f"{model}.onnx", DIGITS / f"calib_{model}.npz", model,
                             precision=Precision.from_flags(weights, None), reconstruct=reconstruct,
                             bias_correction=bias_correction)
    val = load_samples(DIGITS / f"test_{model}.npz", compiled.float_graph)
    reference = float_outputs(compiled.float_graph, val)
    return score(reference, quantized_outputs(compiled.graph, val), val.labels).snr_db, compiled


def test_generate_reconstruct_lowers_the_int4_error_of_the_digits_mlp(tmp_path):
    """--reconstruct (GPTQ from --calib) against nearest rounding, both bias-corrected, on the test
    set: measured 27.2 -> 31.6 dB output SNR for w4a8 (29.8 dB before GPTQ used the centered H that
    bias correction calls for, quant/reconstruct.py). The codes are integers like any others: the C
    equals the golden reference."""
    nearest, _ = digits_snr("mlp", "int4", False)
    gptq, compiled = digits_snr("mlp", "int4", True)
    assert gptq > nearest + 1.0
    assert "GPTQ" in compiled.calibration
    rng = np.random.default_rng(0)
    test = {"x": np.load(DIGITS / "test_mlp.npz")["x"][rng.choice(360, 16, replace=False)]}
    for weights in ("int8", "int4"):
        check_bit_exact(DIGITS / "mlp.onnx", DIGITS / "calib_mlp.npz", tmp_path / weights, test, name="mlp",
                        precision=Precision.from_flags(weights, None), reconstruct=True)


def test_reconstruct_needs_calibration_data_and_is_a_project_option(tmp_path, capsys, monkeypatch):
    assert main(["generate", str(DIGITS / "mlp.onnx"), "--reconstruct", "-o", str(tmp_path / "o")]) == 1
    assert "--reconstruct rounds the weights" in capsys.readouterr().err
    config = tmp_path / "mcugen.toml"
    config.write_text('[model]\npath = "m.onnx"\n[quantize]\nreconstruct = true\n')
    assert load_options({}, config).reconstruct is True
    config.write_text('[model]\npath = "m.onnx"\n[quantize]\nreconstruct = "yes"\n')
    with pytest.raises(McugenError, match="reconstruct"):
        load_options({}, config)


@pytest.mark.parametrize("bias_correction,gain", [(True, 1.5), (False, 1.5)])
def test_reconstruct_lowers_the_int4_error_of_the_digits_cnn(bias_correction, gain):
    """The digits CNN w4a8 on the test set. With bias correction GPTQ fits the covariance of the
    inputs (the mean error is the bias's to remove): measured 28.3 -> 30.7 dB; on the raw H it lost
    1.3 dB (27.0), its updates spent on the mean part that bias correction removes anyway. Without
    bias correction the raw H is the right one: measured 24.0 -> 26.7 dB."""
    nearest, _ = digits_snr("cnn", "int4", False, bias_correction)
    gptq, _ = digits_snr("cnn", "int4", True, bias_correction)
    assert gptq > nearest + gain


def test_centered_hessian_is_the_input_covariance():
    from mcugen.compiler import load_float_graph
    from mcugen.quant.reconstruct import input_hessians

    graph = load_float_graph(DIGITS / "mlp.onnx")
    samples = load_samples(DIGITS / "calib_mlp.npz", graph)
    raw, centered = input_hessians(graph, samples), input_hessians(graph, samples, centered=True)
    x = np.asarray(next(iter(samples.inputs.values())), np.float64).reshape(samples.count, -1)
    assert np.allclose(raw["fc1"], x.T @ x / len(x))
    assert np.allclose(centered["fc1"], np.cov(x, rowvar=False, bias=True))
