"""LSTM and GRU (issue #13, part 4): the float reference against ONNX Runtime (layout 0; ORT
refuses layout 1, so those against onnx.reference), the int8 arithmetic against float, what
calibration sees inside the layer, and a small classifier (LSTM -> last step -> Gemm -> Softmax)
bit-exact in C on the host and on an emulated Cortex-M4. The operator sweep itself is in
op_cases.py (RECURRENT), run by test_ops_bit_exact.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

from helpers import check_bit_exact, make_model, save_samples
from mcugen.cli import main
from mcugen.compiler import compile_model, load_float_graph
from mcugen.data import to_physical
from mcugen.graph.reference import golden_feeds, real_values, run_float, run_int
from mcugen.ops.lstm import cell_frac, function_table, table_lookup
from op_cases import RECURRENT, case_model

R = np.random.default_rng(23)


def _expected(path: Path, x: np.ndarray, layout: int) -> dict[str, np.ndarray]:
    model = onnx.load(str(path))
    names = [o.name for o in model.graph.output]
    if layout == 0:
        return dict(zip(names, ort.InferenceSession(str(path)).run(None, {"x": x})))
    return dict(zip(names, ReferenceEvaluator(model).run(None, {"x": x})))


@pytest.mark.parametrize("case", sorted(RECURRENT))
def test_float_reference_matches_onnxruntime(case, tmp_path):
    nodes, inputs = RECURRENT[case][:2]
    layout = next(n for n in nodes if n.op_type in ("LSTM", "GRU")).attribute
    layout = next((a.i for a in layout if a.name == "layout"), 0)
    path = case_model(tmp_path / f"{case}.onnx", RECURRENT[case])
    x = R.standard_normal(inputs["x"]).astype(np.float32)
    graph = load_float_graph(path)
    got = run_float(graph, {"x": to_physical(graph, "x", x)})
    for name, value in _expected(path, x, layout).items():
        np.testing.assert_allclose(got[name].reshape(value.shape), value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", sorted(RECURRENT))
def test_int8_is_close_to_float(case, tmp_path):
    """Cosine >= 0.99 between the dequantized golden reference and float on held-out random data."""
    inputs = RECURRENT[case][1]
    path = case_model(tmp_path / f"{case}.onnx", RECURRENT[case])
    shape = inputs["x"][1:]
    calib = save_samples(tmp_path / "c.npz", {"x": R.standard_normal([128, *shape]).astype(np.float32)})
    compiled = compile_model(path, calib)
    x = R.standard_normal([200, *shape]).astype(np.float32)
    floats = run_float(compiled.float_graph, {"x": to_physical(compiled.float_graph, "x", x)})
    ints = run_int(compiled.graph, golden_feeds(compiled.graph, {"x": x}))
    for name in compiled.graph.outputs:
        a = floats[name].reshape(-1).astype(np.float64)
        b = real_values(compiled.graph.tensors[name], ints[name]).reshape(-1).astype(np.float64)
        cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        assert cosine >= 0.99, f"{name}: cosine {cosine:.4f}"


def test_calibration_sees_the_cell_and_chooses_its_power_of_two(tmp_path):
    """The growing cell reaches |c| ~ 16: calibration records it inside the layer, the cell gets
    2^-11 (not the 2^-15 a cell within +/-1 would get), and the int8 Y_c is still close to float."""
    case = RECURRENT["lstm_h5_in3_t20_growing_cell_yc"]
    path = case_model(tmp_path / "cell.onnx", case)
    calib = save_samples(tmp_path / "c.npz", {"x": R.standard_normal([64, 20, 3]).astype(np.float32)})
    compiled = compile_model(path, calib)
    lstm = [n for n in compiled.graph.nodes if n.op == "lstm"]
    assert len(lstm) == 2  # Y_c and Y_h are both read: one node each
    for node in lstm:
        lo, hi = compiled.ranges[f"{node.outputs[0]}#c"]
        assert node.q["observed"]["c"] == (lo, hi)
        assert 8 < max(-lo, hi) < 32767 / 2**10
        assert node.q["cell_frac"] == cell_frac(max(-lo, hi)) < 12
    assert cell_frac(0.9) == 15 and cell_frac(1.5) == 14 and cell_frac(40000.0) == 0


def test_gate_tables_are_close_to_the_functions():
    """The interpolated Q0.15 tables over every int16 Q3.12 input (measured: 3.9e-5 from sigmoid, 1.2e-4 from
    tanh, i.e. 1.3 and 4 steps of 2^-15, a sixtieth of an int8 step of a [-1, 1] hidden state)."""
    g = np.arange(-32768, 32768)
    v = g / 4096
    assert np.abs(table_lookup(function_table("sigmoid"), g) / 32767 - 1 / (1 + np.exp(-v))).max() < 5e-5
    assert np.abs(table_lookup(function_table("tanh"), g) / 32767 - np.tanh(v)).max() < 1.3e-4


def classifier(path: Path, op: str = "LSTM", steps: int = 12, features: int = 6, hidden: int = 16,
               classes: int = 5) -> Path:
    """x [1, T, F] -> LSTM (layout 0, as PyTorch exports batch_first) -> Y_h [1, 1, H] -> Squeeze
    -> Gemm -> Softmax: the last step's hidden state classified."""
    rng = np.random.default_rng(5)
    gates = 4 if op == "LSTM" else 3
    inits = {"W": rng.standard_normal((1, gates * hidden, features)).astype(np.float32) * 0.4,
             "R": rng.standard_normal((1, gates * hidden, hidden)).astype(np.float32) * 0.3,
             "B": rng.standard_normal((1, 2 * gates * hidden)).astype(np.float32) * 0.2,
             "axis0": np.array([0], np.int64),
             "Wc": rng.standard_normal((classes, hidden)).astype(np.float32), "Bc": np.zeros(classes, np.float32)}
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node(op, ["xt", "W", "R", "B"], ["", "h"], hidden_size=hidden, **extra),
             helper.make_node("Squeeze", ["h", "axis0"], ["last"]),
             helper.make_node("Gemm", ["last", "Wc", "Bc"], ["logits"], transB=1),
             helper.make_node("Softmax", ["logits"], ["y"])]
    return make_model(path, nodes, {"x": [1, steps, features]}, {"y": None}, inits)


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_classifier_compiles_bit_exact_and_agrees_with_float(op, tmp_path):
    path = classifier(tmp_path / "rnn.onnx", op)
    calib = save_samples(tmp_path / "c.npz", {"x": R.standard_normal([128, 12, 6]).astype(np.float32)})
    x = R.standard_normal([40, 12, 6]).astype(np.float32)
    compiled = check_bit_exact(path, calib, tmp_path, {"x": x})
    assert [n.op for n in compiled.graph.nodes] == [op.lower(), "reshape", "fully_connected", "softmax"]
    session = ort.InferenceSession(str(path))
    expected = np.concatenate([session.run(None, {"x": sample[None]})[0] for sample in x])
    got = real_values(compiled.graph.tensors["y"], run_int(compiled.graph, golden_feeds(compiled.graph, {"x": x}))["y"])
    assert np.mean(got.argmax(1) == expected.argmax(1)) >= 0.9
    assert np.abs(got - expected).max() < 0.08


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_classifier_bit_exact_on_an_emulated_cortex_m4(op, capsys, tmp_path):
    """The DSP path of the row sums (SMLAD, four int8 products per word pair, then the tail)."""
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    path = classifier(tmp_path / "rnn.onnx", op)
    calib = save_samples(tmp_path / "c.npz", {"x": R.standard_normal([64, 12, 6]).astype(np.float32)})
    data = save_samples(tmp_path / "d.npz", {"x": R.standard_normal([6, 12, 6]).astype(np.float32)})
    code = main(["verify", str(path), "--board", "mps2-an386", "--calib", str(calib), "--data", str(data),
                 "--samples", "6", "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 6 and report["mismatches"] == []
    assert report["ticks_per_inference"] > 0


def test_time_major_tensor_read_by_another_operator_is_refused(tmp_path, capsys):
    """A layout-0 Y read by an operator that would take its axes for batch-first ones: one sentence."""
    nodes, inputs, inits, _ = RECURRENT["lstm_h7_in2_t6_reverse_y_and_yh_layout0"]
    nodes = nodes[:2] + [helper.make_node("Relu", ["Y"], ["y"])]
    path = make_model(tmp_path / "tm.onnx", nodes, inputs, {"y": None}, inits)
    assert main(["inspect", str(path)]) != 0
    err = capsys.readouterr().err
    assert "time-major" in err and "Relu" in err and "Traceback" not in err


@pytest.mark.parametrize("case", ["lstm_h5_in3_t20_growing_cell_yc", "gru_h12_in6_t20_layout0_yh_initial_h",
                                  "lstm_h7_in2_t6_reverse_y_and_yh_layout0"])
def test_kernels_under_sanitizers(case, tmp_path):
    """AddressSanitizer + UndefinedBehaviorSanitizer: the cell shifts both ways (2^-11 here), the
    scratch carving, reverse time and GRU's reset-before-linear path."""
    inputs = RECURRENT[case][1]
    path = case_model(tmp_path / f"{case}.onnx", RECURRENT[case])
    shape = inputs["x"][1:]
    calib = save_samples(tmp_path / "c.npz", {"x": R.standard_normal([32, *shape]).astype(np.float32)})
    check_bit_exact(path, calib, tmp_path, {"x": R.standard_normal([6, *shape]).astype(np.float32) * 2},
                    compilers=("gcc",), sanitize=True)


def test_time_major_graph_input_is_refused_with_the_fix(tmp_path, capsys):
    """X [T, 1, F] as a graph input (layout 0 without a Transpose): the sentence names batch_first."""
    nodes, _, inits, _ = RECURRENT["gru_h12_in6_t20_layout0_yh_initial_h"]
    path = make_model(tmp_path / "tm.onnx", nodes[1:], {"xt": [20, 1, 6]}, {"Y_h": None}, inits)
    assert main(["inspect", str(path)]) != 0
    err = capsys.readouterr().err
    assert "batch_first" in err and "[20, 1, 6]" in err and "Traceback" not in err
