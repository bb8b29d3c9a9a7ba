"""Codebook weights (issue #11, `--codebook K`): the k-means levels (zero always one, int8 codes on the
layer's scale), the 4- and 8-bit index kernels bit-exact with the golden reference on the host (gcc,
clang) and in QEMU, the accuracy measured against int4, and the refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_sparse import INPUT, sparse_model

from helpers import compile_c, golden, quantized_inputs, run_c, save_samples
from mcugen.cli import main
from mcugen.compiler import compile_model
from mcugen.data import load_samples
from mcugen.emit.library import generate_library
from mcugen.errors import McugenError
from mcugen.ops import op_for
from mcugen.ops.codebook import cluster
from mcugen.quant.evaluate import float_outputs, quantized_outputs, score
from mcugen.quant.quantize import Precision

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"


@pytest.mark.parametrize("k", [2, 3, 16, 17, 256])
def test_levels(k):
    rng = np.random.default_rng(k)
    values = np.clip(rng.standard_normal((30, 50)) * 40, -127, 127)
    values[:, :5] = 0
    codebook, indices = cluster(values, k)
    assert 0 in codebook and len(codebook) <= k and codebook.dtype == np.int8
    assert len(np.unique(codebook)) == len(codebook) and np.all(np.abs(codebook.astype(int)) <= 127)
    levels = codebook[indices].astype(np.float64)
    assert np.all(levels[:, :5] == 0)
    # every value takes its nearest level (of the rounded code), so the error is at most half the widest gap
    assert np.all(np.abs(levels - np.round(values)) <= np.abs(np.round(values)[..., None]
                                                              - codebook.astype(np.float64)).min(axis=-1) + 1e-9)
    if k > 3:  # more levels, less error
        fewer = cluster(values, k // 2)
        assert np.abs(levels - values).mean() < np.abs(fewer[0][fewer[1]] - values).mean()
    with pytest.raises(McugenError, match="--codebook"):
        cluster(values, 1)


@pytest.mark.parametrize("k", [4, 16, 40])
def test_codebook_kernel_bit_exact(tmp_path, k):
    """The sparse test model (conv 1x1, then FC layers with odd sizes, an empty row and column), its
    FC layers on a codebook of k levels: 4-bit indices (odd counts leave a half byte) or 8-bit, used
    only where they take fewer bytes than the dense layout."""
    rng = np.random.default_rng(1)
    calib = save_samples(tmp_path / "calib.npz", {"x": rng.standard_normal([32, *INPUT[1:]]).astype(np.float32)})
    samples = {"x": rng.standard_normal([8, *INPUT[1:]]).astype(np.float32)}
    compiled = compile_model(sparse_model(tmp_path / "m.onnx", 0.6, seed=k), calib, "net", codebook=k)
    g = compiled.graph
    kernels = [call for n in g.nodes for call in op_for(n).calls(n, g)]
    if k <= 16:
        assert [c.kernel for c in kernels[1:]] == ["fully_connected_codebook_s8"] * 4
        assert {c.params["index_bits"] for c in kernels[1:]} == {4}
    else:  # 8-bit indices beat the dense layout only where its rows pad to whole words (13 inputs -> 16 B)
        for call, node in zip(kernels[1:], g.nodes[2:], strict=True):
            out, n = g.tensors[node.q["weights"]].shape
            smaller = out * n + g.tensors[node.q["codebook"]].size < out * 4 * -(-n // 4)
            assert (call.kernel == "fully_connected_codebook_s8") == smaller
            assert call.params.get("index_bits", 8) == 8
        assert kernels[3].kernel == "fully_connected_codebook_s8" and kernels[2].kernel != kernels[3].kernel
    for node in g.nodes[1:]:
        if node.op == "fully_connected":
            assert len(np.unique(g.const(node.q["weights"]))) <= k
    lib = generate_library(g, tmp_path / "lib", compiled.calibration)
    qin = quantized_inputs(compiled, samples)
    expected = golden(compiled, qin)
    for cc in ("gcc", "clang"):
        got = run_c(compile_c(lib.folder, "net", cc), qin["x"].reshape(8, -1), expected.shape[1])
        assert np.array_equal(got, expected), cc


def test_codebook_16_beats_int4_on_the_digits_mlp():
    """Same 4-bit indices as int4 (and 16 bytes of levels a layer): non-uniform levels measure a higher
    output SNR than int4's uniform per-channel ones (both bias-corrected, digits test set), if only a little."""
    def snr(**options) -> float:
        c = compile_model(DIGITS / "mlp.onnx", DIGITS / "calib_mlp.npz", "mlp", **options)
        val = load_samples(DIGITS / "test_mlp.npz", c.float_graph)
        return score(float_outputs(c.float_graph, val), quantized_outputs(c.graph, val), val.labels).snr_db

    assert snr(codebook=16) > snr(precision=Precision.from_flags("int4", None)) + 0.2  # measured: 27.7 vs 27.2 dB


def test_codebook_refusals(tmp_path, capsys):
    args = ["generate", str(DIGITS / "mlp.onnx"), "--calib", str(DIGITS / "calib_mlp.npz"), "-o", str(tmp_path / "o")]
    for k in ("1", "100000", "0", "-3"):
        assert main([*args, "--codebook", k]) == 1
        assert "--codebook" in capsys.readouterr().err
    assert main([*args, "--codebook", "16", "--weights", "int4"]) == 1
    assert "drop --weights int4" in capsys.readouterr().err


def test_codebook_bit_exact_in_qemu(capsys, tmp_path):
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    rng = np.random.default_rng(2)
    calib = save_samples(tmp_path / "calib.npz", {"x": rng.standard_normal([32, *INPUT[1:]]).astype(np.float32)})
    data = save_samples(tmp_path / "data.npz", {"x": rng.standard_normal([4, *INPUT[1:]]).astype(np.float32)})
    code = main(["verify", str(sparse_model(tmp_path / "m.onnx", 0.6)), "--board", "mps2-an386", "--calib",
                 str(calib), "--data", str(data), "--codebook", "16", "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 4 and report["mismatches"] == []
    assert list((tmp_path / "build").rglob("*fully_connected_codebook_s8.c"))
