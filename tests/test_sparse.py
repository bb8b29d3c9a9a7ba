"""Sparse weight storage (issue #11): the layout of codegen/ops/sparse.py and the kernels that walk it
(mcugen_fully_connected_sparse_s8, mcugen_conv_1x1_sparse_s8) — bit-exact with the golden reference
on the host (gcc, clang) and in QEMU, across densities, block sizes, odd shapes, empty rows and
columns and a fully zero layer; chosen only when it saves flash, never for weights without zeros."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from helpers import check_bit_exact, make_model, save_samples
from mcugen.cli import main
from mcugen.compiler import compile_model
from mcugen.ops import op_for, sparse
from op_cases import w

INPUT = [1, 7, 6, 5]


def sparse_model(path: Path, density: float, seed: int = 0) -> Path:
    """conv 1x1 7->5 stride 2 (3-byte tail), FC 45->300 (uint16 index with block 1), FC 300->13,
    FC 13->1030, FC 1030->3 (uint16 index with block 4, a 2-byte tail): weights zeroed at random
    to `density`, and (below density 1) a whole output row and a whole input column of each zeroed."""
    rng = np.random.default_rng(seed)
    inits = {"C": w(5, 7, 1, 1, rng=rng), "CB": w(5, rng=rng), "W1": w(300, 45, rng=rng), "B1": w(300, rng=rng),
             "W2": w(13, 300, rng=rng), "B2": w(13, rng=rng), "W3": w(1030, 13, rng=rng), "B3": w(1030, rng=rng),
             "W4": w(3, 1030, rng=rng) * 0.2}
    for name in ("C", "W1", "W2", "W3", "W4"):
        weights = inits[name]
        weights *= rng.random(weights.shape) < density
        if density < 1:
            weights[1] = 0
            weights[:, 2] = 0
    nodes = [
        helper.make_node("Conv", ["x", "C", "CB"], ["c"], kernel_shape=[1, 1], strides=[2, 2]),  # [1, 5, 3, 3]
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "W1", "B1"], ["g1"], transB=1),
        helper.make_node("Relu", ["g1"], ["r1"]),
        helper.make_node("Gemm", ["r1", "W2", "B2"], ["g2"], transB=1),
        helper.make_node("Gemm", ["g2", "W3", "B3"], ["g3"], transB=1),
        helper.make_node("Relu", ["g3"], ["r3"]),
        helper.make_node("Gemm", ["r3", "W4"], ["y"], transB=1),
    ]
    return make_model(path, nodes, {"x": INPUT}, {"y": None}, inits)


def samples(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    calib = save_samples(tmp_path / "calib.npz", {"x": rng.standard_normal([32, *INPUT[1:]]).astype(np.float32)})
    return calib, {"x": rng.standard_normal([8, *INPUT[1:]]).astype(np.float32) * 1.3}


def kernels_of(compiled) -> list[str]:
    g = compiled.graph
    return [call.kernel for node in g.nodes for call in op_for(node).calls(node, g)]


@pytest.mark.parametrize("block", [1, 4])
@pytest.mark.parametrize("n", [1, 3, 4, 5, 255, 256, 1021, 1024])
def test_layout_stores_exactly_the_weights(block, n):
    rng = np.random.default_rng(n + block)
    for density in (0.0, 0.05, 0.5, 1.0):
        codes = (rng.integers(-127, 128, (9, n)) * (rng.random((9, n)) < density)).astype(np.int8)
        codes[3] = 0  # an empty row
        layout = sparse.encode(codes, block)
        assert np.array_equal(sparse.decode(layout, n), codes)
        columns = -(-n // block)
        assert layout.counts.dtype == (np.uint8 if columns <= 255 else np.uint16)
        assert layout.counts[3] == 0 and int(layout.counts.sum()) == len(layout.index)


def test_weights_without_zeros_stay_dense(tmp_path):
    rng = np.random.default_rng(4)
    codes = rng.integers(1, 128, (64, 300)) * rng.choice([-1, 1], (64, 300))
    assert all(sparse.encode(codes.astype(np.int8), block).nbytes > 64 * 300 for block in sparse.BLOCKS)
    calib, _ = samples(tmp_path)
    compiled = compile_model(sparse_model(tmp_path / "dense.onnx", 1.0), calib, "net")
    assert not any("sparse" in k for k in kernels_of(compiled))


def test_zeros_in_the_weights_choose_sparse_storage(tmp_path):
    """A model pruned elsewhere benefits without asking: unstructured zeros give CSR in every layer
    (the 1x1 conv saves only a few bytes, but its sparse kernel's code is smaller than the dense
    kernel's that then leaves the model)."""
    calib, _ = samples(tmp_path)
    dense = compile_model(sparse_model(tmp_path / "dense.onnx", 1.0), calib, "net")
    pruned = compile_model(sparse_model(tmp_path / "pruned.onnx", 0.2), calib, "net")
    assert kernels_of(pruned) == ["conv_1x1_sparse_s8"] + ["fully_connected_sparse_s8"] * 4
    stored = [n.q["storage"] for n in pruned.graph.nodes if n.op == "fully_connected"]
    assert all(s["format"] == "csr" and s["bytes"] < s["dense_bytes"] for s in stored)
    assert sum(s["dense_bytes"] - s["bytes"] for s in stored) > sparse.KERNEL_CODE["fully_connected_sparse_s8"]
    from mcugen.ops import constant_bytes
    assert constant_bytes(pruned.graph) < 0.6 * constant_bytes(dense.graph)


def test_sparse_storage_must_pay_for_its_code(tmp_path):
    """One FC layer 60% zeros (CSR saves ~770 B), the others dense: less than the sparse kernel's
    code while the dense kernel stays for the other layers, so nothing is stored sparse; at 80%
    zeros (~2,300 B) it pays."""
    calib, _ = samples(tmp_path)
    for density, expected in ((0.4, "fully_connected_s8"), (0.2, "fully_connected_sparse_s8")):
        path = sparse_model(tmp_path / "m.onnx", 1.0)
        model = onnx.load(str(path))
        for init in model.graph.initializer:
            if init.name == "W2":
                w2 = numpy_helper.to_array(init) * (np.random.default_rng(3).random((13, 300)) < density)
                init.CopyFrom(numpy_helper.from_array(w2.astype(np.float32), "W2"))
        onnx.save(model, str(path))
        compiled = compile_model(path, calib, "net")
        kernels = kernels_of(compiled)
        assert kernels[2] == expected and kernels.count("fully_connected_s8") == (4 if density == 0.4 else 3)


@pytest.mark.parametrize("block", [1, 4])
@pytest.mark.parametrize("density", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_sparse_kernels_bit_exact(tmp_path, monkeypatch, block, density):
    """Every layer forced sparse (the flash rule off), with one block size: the C equals run_int."""
    monkeypatch.setattr(sparse, "KERNEL_CODE", dict.fromkeys(sparse.KERNEL_CODE, -10**9))
    monkeypatch.setattr(sparse, "MIN_LAYER_SAVING", -10**9)
    monkeypatch.setattr(sparse, "BLOCKS", (block,))
    calib, test = samples(tmp_path)
    compiled = check_bit_exact(sparse_model(tmp_path / "m.onnx", density, seed=int(density * 10) + block), calib,
                               tmp_path, test)
    assert kernels_of(compiled) == ["conv_1x1_sparse_s8"] + ["fully_connected_sparse_s8"] * 4


@pytest.mark.parametrize("board,block", [("mps2-an386", 4), ("mps2-an386", 1), ("mps2-an385", 4)])
def test_sparse_kernels_bit_exact_in_qemu(capsys, tmp_path, monkeypatch, board, block):
    """The DSP path (M4, an386) and the portable one (M3, an385) on the board, bit for bit."""
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    monkeypatch.setattr(sparse, "KERNEL_CODE", dict.fromkeys(sparse.KERNEL_CODE, -10**9))
    monkeypatch.setattr(sparse, "MIN_LAYER_SAVING", -10**9)
    monkeypatch.setattr(sparse, "BLOCKS", (block,))
    calib, test = samples(tmp_path)
    data = save_samples(tmp_path / "data.npz", {"x": test["x"][:4]})
    model = sparse_model(tmp_path / "m.onnx", 0.3, seed=block)
    code = main(["verify", str(model), "--board", board, "--calib", str(calib), "--data", str(data),
                 "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 4 and report["mismatches"] == []
    kernels = (tmp_path / "build").rglob("*sparse_s8.c")
    assert {p.name.split("_", 1)[1] for p in kernels} >= {"fully_connected_sparse_s8.c", "conv_1x1_sparse_s8.c"}


def test_generate_and_inspect_say_what_was_chosen(tmp_path, capsys):
    calib, _ = samples(tmp_path)
    model = sparse_model(tmp_path / "pruned.onnx", 0.2)
    assert main(["generate", str(model), "--calib", str(calib), "-o", str(tmp_path / "out"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [r["format"] for r in summary["storage"]] == ["csr"] * 5
    assert all(r["bytes"] < r["dense_bytes"] and 0.1 < r["density"] < 0.3 for r in summary["storage"])
    assert main(["generate", str(model), "--calib", str(calib), "-o", str(tmp_path / "out2")]) == 0
    assert "sparse or codebook weights in 5 of 5 int8 conv/FC layers" in capsys.readouterr().out
    assert main(["inspect", str(model), "--json"]) == 0
    zeros = [r["zero_weights"] for r in json.loads(capsys.readouterr().out)["layers"]]
    assert zeros[1] is None and all(0.7 < z < 0.9 for z in zeros if z is not None)
