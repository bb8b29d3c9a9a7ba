"""`mcugen prune` (issue #11): the masks of each pattern, the per-layer search against a measured
drop, the limits honoured on held-out data, impossible targets and the output file rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from mcugen.cli import main
from mcugen.compiler import compile_model, prune_model
from mcugen.data import load_samples
from mcugen.emit.library import looks_like_mcugen_plot
from mcugen.errors import McugenError
from mcugen.quant.evaluate import float_outputs, quantized_outputs, score
from mcugen.quant.prune import parse_pattern, prune_rows, search

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"


@pytest.mark.parametrize("k", [1, 7, 64, 301])
def test_patterns(k):
    rng = np.random.default_rng(k)
    rows = rng.standard_normal((6, k))
    for s in (0.0, 0.3, 0.8, 0.95):
        pruned = prune_rows(rows, s, parse_pattern("unstructured"))
        zeros = (pruned == 0).sum(axis=1)
        assert np.all(zeros == round(s * k))
        kept = pruned != 0  # the largest |w| of each row are the ones kept
        for r in range(6):
            if kept[r].any() and (~kept[r]).any():
                assert np.abs(rows[r][kept[r]]).min() >= np.abs(rows[r][~kept[r]]).max()
        assert np.array_equal(pruned[kept], rows[kept])
        blocks = prune_rows(rows, s, parse_pattern("block4"))
        padded = np.zeros((6, -(-k // 4) * 4))
        padded[:, :k] = blocks
        per_block = (padded.reshape(6, -1, 4) != 0).any(axis=2)
        assert np.all((~per_block).sum(axis=1) == round(s * per_block.shape[1]))
    two_four = prune_rows(rows, 0.9, parse_pattern("2:4"))
    padded = np.zeros((6, -(-k // 4) * 4))
    padded[:, :k] = two_four
    assert np.all((padded.reshape(6, -1, 4) != 0).sum(axis=2) <= 2)
    for bad in ("4:4", "0:4", "x", "2:100"):
        with pytest.raises(McugenError, match="--pattern"):
            parse_pattern(bad)


def test_search_keeps_the_measured_drop_and_reaches_the_sparsity():
    """On a synthetic measurement (drop = sum of per-layer costs, one layer ten times as sensitive)
    the search prunes the cheap layer first and never exceeds the limit."""
    weights = {"a": 1000, "b": 1000}

    def evaluate(s: dict[str, float]) -> float:
        return 10 * s.get("a", 0.0) ** 2 + s.get("b", 0.0) ** 2

    r = search(weights, evaluate, "points", parse_pattern("unstructured"), 1.0, None)
    assert r.drop <= 1.0 and r.sparsities["b"] >= 0.9 > r.sparsities.get("a", 0.0)
    r = search(weights, evaluate, "points", parse_pattern("unstructured"), None, 0.6)
    assert r.sparsity >= 0.6 and r.sparsities["b"] > r.sparsities.get("a", 0.0)
    with pytest.raises(McugenError, match=r"--sparsity 0.99 is out of reach within --max-drop 0.1: the best "
                                          r"reachable is sparsity 0\.\d+ at a measured drop of"):
        search(weights, evaluate, "points", parse_pattern("unstructured"), 0.1, 0.99)


def test_prune_honours_max_drop_on_held_out_digits(tmp_path):
    """The MLP pruned with --max-drop 2 measured on the first half of the digits test set; on the
    second half (held out) the int8 drop against the unpruned int8 model stays within the limit
    give or take the sampling error of 180 samples (one sample is 0.56 points)."""
    data = np.load(DIGITS / "test_mlp.npz")
    first = tmp_path / "select.npz"
    second = tmp_path / "held_out.npz"
    np.savez(first, x=data["x"][:180], y=data["y"][:180])
    np.savez(second, x=data["x"][180:], y=data["y"][180:])
    calib = DIGITS / "calib_mlp.npz"
    pruned, result = prune_model(DIGITS / "mlp.onnx", calib, first, max_drop=2.0, name="mlp")
    assert result.drop <= 2.0 and result.sparsity > 0.2
    path = tmp_path / "pruned.onnx"
    onnx.save(pruned, str(path))
    zeros = sum(int((numpy_helper.to_array(t) == 0).sum()) for t in pruned.graph.initializer)
    assert zeros >= 0.2 * 2368
    base = compile_model(DIGITS / "mlp.onnx", calib, "mlp")
    held = load_samples(second, base.float_graph, "validation")
    reference = float_outputs(base.float_graph, held)
    before = score(reference, quantized_outputs(base.graph, held), held.labels).value
    after = score(reference, quantized_outputs(compile_model(path, calib, "mlp").graph, held), held.labels).value
    assert before - after <= 2.0 + 3 * 0.56


def test_prune_cli_writes_onnx_and_refuses_what_it_must(tmp_path, capsys):
    out = tmp_path / "p.onnx"
    args = ["prune", str(DIGITS / "cnn.onnx"), "--calib", str(DIGITS / "calib_cnn.npz"), "--data",
            str(DIGITS / "test_cnn.npz"), "--samples", "120", "-o", str(out)]
    assert main([*args, "--sparsity", "0.7", "--plot", str(tmp_path / "curves.png")]) == 0
    assert looks_like_mcugen_plot((tmp_path / "curves.png").read_bytes())
    fc = next(t for t in onnx.load(str(out)).graph.initializer if numpy_helper.to_array(t).size == 2560)
    assert (numpy_helper.to_array(fc) == 0).mean() == pytest.approx(0.7, abs=0.01)
    assert main([*args, "--sparsity", "0.7"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--sparsity", "0.99", "--max-drop", "0.1", "--force"]) == 1
    err = capsys.readouterr().err
    assert "out of reach within --max-drop 0.1: the best reachable is sparsity" in err and "Traceback" not in err
    assert main([*args, "--force"]) == 1
    assert "--max-drop, --sparsity or both" in capsys.readouterr().err
