"""int8 .tflite models in (issue #10): the golden reference equals TensorFlow Lite's reference
kernels (ai-edge-litert, BUILTIN_REF) on every element, the C equals the golden reference with gcc
and clang and in QEMU, and bad files end in one sentence.

Fixtures: tests/fixtures/tflite/, written by scripts/make_tflite_fixtures.py (tests/tflite_builder.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from tflite_builder import INT8, UINT8, TfliteModel

from helpers import check_bit_exact
from mcugen.cli import main
from mcugen.compiler import compile_model, load_float_graph
from mcugen.data import load_samples
from mcugen.errors import McugenError
from mcugen.graph.reference import run_int
from mcugen.ops.fixedpoint import requantize, rounding_divide
from mcugen.ops.gemmlowp import exp_on_negative_values, reciprocal
from mcugen.ops.reduce_tflite import tflite_mean_multiplier

FIXTURES = Path(__file__).parent / "fixtures" / "tflite"
GOOD = sorted(p.name for p in FIXTURES.glob("*.tflite") if not p.name.startswith("bad_"))
SAMPLES = 24


def random_codes(graph, count: int = SAMPLES, seed: int = 0) -> dict[str, np.ndarray]:
    """Uniform int8 codes over all 256 values for every input (TFLite's own layout and type)."""
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-128, 128, size=(count,) + graph.tensors[n].shape[1:], dtype=np.int8)
            for n in graph.inputs}


def tflite_outputs(path: Path, codes: list[np.ndarray]) -> np.ndarray:
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    ins, out = interp.get_input_details(), interp.get_output_details()[0]
    rows = []
    for i in range(len(codes[0])):
        for detail, x in zip(ins, codes, strict=True):
            if detail["dtype"] == np.uint8:  # mcugen's int8 code c is the file's uint8 code c + 128
                x = (x.astype(np.int16) + 128).astype(np.uint8)
            interp.set_tensor(detail["index"], x[i].reshape(detail["shape"]))
        interp.invoke()
        y = interp.get_tensor(out["index"]).reshape(-1)
        rows.append((y.astype(np.int16) - 128).astype(np.int8) if y.dtype == np.uint8 else y)
    return np.stack(rows)


def test_fixtures_cover_every_operator():
    assert len(GOOD) >= 25
    ops = {n.op for name in GOOD for n in load_float_graph(FIXTURES / name).nodes}
    assert ops >= {"conv", "depthwise_conv", "fully_connected", "avg_pool_tflite", "max_pool", "reshape",
                   "softmax_tflite", "add", "mul", "pad", "concat", "logistic_tflite", "tanh_tflite", "relu_tflite",
                   "mean_tflite", "hard_swish_tflite", "requantize_tflite"}


@pytest.mark.parametrize("name", GOOD)
def test_golden_equals_tflite_reference_kernels(name):
    path = FIXTURES / name
    compiled = compile_model(path)
    g = compiled.graph
    assert compiled.calibration == "scales from the pre-quantized (TFLite) model"
    codes = random_codes(g)
    ours = run_int(g, codes)[g.outputs[0]].reshape(SAMPLES, -1)
    theirs = tflite_outputs(path, [codes[n] for n in g.inputs])
    differ = np.argwhere(ours != theirs)
    assert differ.size == 0, f"{len(differ)} of {ours.size} elements differ, first at {differ[0]}: " \
                             f"mcugen {ours[tuple(differ[0])]}, TFLite {theirs[tuple(differ[0])]}"
    assert len(np.unique(theirs)) > 4  # the fixture's scales give outputs that vary (not all saturated)


@pytest.mark.parametrize("name", GOOD)
def test_c_equals_golden_with_gcc_and_clang(name, tmp_path):
    graph = load_float_graph(FIXTURES / name)
    scale_zp = {n: graph.fixed_qparams[n] for n in graph.inputs}
    values = {n: ((x.astype(np.float64) - scale_zp[n][1]) * scale_zp[n][0]).astype(np.float32)
              for n, x in random_codes(graph, 16, seed=1).items()}
    check_bit_exact(FIXTURES / name, None, tmp_path, values, name="tfl")


@pytest.mark.parametrize("name, outputs", [("tiny_kws.tflite", 5), ("tiny_mnv3.tflite", 6)])
def test_tiny_model_bit_exact_in_qemu_and_equal_to_tflite(capsys, tmp_path, name, outputs):
    # tiny_mnv3: conv, HARD_SWISH, MEAN over H and W, QUANTIZE int8 -> int8, MUL by a constant, FC
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    code = main(["verify", str(FIXTURES / name), "--board", "mps2-an386", "--samples", "12",
                 "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 12
    assert report["tflite_elements"] == 12 * outputs and report["tflite_equal"] == report["tflite_elements"]


def test_io_keeps_the_files_layout_and_int8_codes_are_taken_as_they_are(tmp_path):
    path = FIXTURES / "conv_same_s2.tflite"
    graph = load_float_graph(path)
    name = graph.inputs[0]
    assert graph.io[name].layout == "NHWC" and graph.tensors[name].shape == (1, 9, 7, 4)
    codes = random_codes(graph, 5)[name]
    np.savez(tmp_path / "codes.npz", x=codes)
    samples = load_samples(tmp_path / "codes.npz", graph)
    compiled = compile_model(path)
    t = compiled.graph.tensors[name]
    again = np.clip(np.round(samples.inputs[name] / t.scale) + t.zero_point, -128, 127)
    assert np.array_equal(again, codes)  # a buffer that feeds TFLite feeds mcugen unchanged


def test_uint8_io_is_the_int8_codes_minus_128_and_uint8_data_is_read_as_codes(tmp_path):
    path = FIXTURES / "uint8_io_conv.tflite"
    graph = load_float_graph(path)
    (x,), (y,) = graph.inputs, graph.outputs
    assert graph.io[x].file_dtype == graph.io[y].file_dtype == "uint8"
    assert graph.fixed_qparams[x] == (float(np.float32(0.05)), 131 - 128)
    assert any("uint8 in the file" in note for note in graph.notes)
    u = np.random.default_rng(4).integers(0, 256, size=(6, 6, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "codes.npz", x=u)
    samples = load_samples(tmp_path / "codes.npz", graph)
    assert np.allclose(samples.inputs[x], (u.astype(np.float64) - 131) * np.float32(0.05), atol=1e-6)
    # a uint8 tensor inside the graph (not a QUANTIZE'd model edge) is still refused by name
    m = TfliteModel()
    a = m.tensor("input", (1, 8), UINT8, scale=0.05, zero_point=128)
    b = m.tensor("output", (1, 8), UINT8, scale=0.05, zero_point=128)
    m.op("RELU", [a], [b])
    (tmp_path / "u8.tflite").write_bytes(m.build([a], [b]))
    assert "uint8 activations" in one_sentence(tmp_path / "u8.tflite")


def test_mean_over_the_batch_or_with_damaged_axes_is_one_sentence(tmp_path):
    for axes, out_shape, expect in [((0,), (3, 4), "a mean over the batch axis is not supported"),
                                    ((5,), (1, 3, 4), "outside its rank 3; the file is damaged"),
                                    ((1,), (1, 3, 4), "where its axes give [1, 1, 4]; the file is damaged")]:
        m = TfliteModel()
        x = m.tensor("input", (1, 3, 4), INT8, scale=0.1, zero_point=0)
        a = m.tensor("axes", (1,), 2, data=np.array(axes, np.int32))
        y = m.tensor("output", out_shape, INT8, scale=0.1, zero_point=0)
        m.op("MEAN", [x, a], [y], "reducer", keep_dims=True)
        (tmp_path / "mean.tflite").write_bytes(m.build([x], [y]))
        assert expect in one_sentence(tmp_path / "mean.tflite")


def test_uint8_model_bit_exact_in_qemu_and_equal_to_tflite(capsys, tmp_path):
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is not installed; run scripts/setup.sh")
    code = main(["verify", str(FIXTURES / "uint8_io_conv.tflite"), "--board", "mps2-an386", "--samples", "6",
                 "-o", str(tmp_path / "build"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bit_exact"] == report["samples"] == 6
    assert report["tflite_elements"] == 6 * 144 and report["tflite_equal"] == report["tflite_elements"]


def test_fully_connected_rounds_once_as_tflite_does():
    # TFLite's int8 fully connected: (acc * m + 2**(30 - s)) >> (31 - s); conv's gemmlowp rounding differs
    acc, m, s = np.array([7 << 20, -(1 << 20)]), 1 << 30, -20  # M = 2**-21: exactly 3.5 and -0.5
    assert list(requantize(acc, m, s, single_rounding=True)) == [4, 0]
    assert list(requantize(acc, m, s)) == [4, -1]


def test_mean_folds_a_truncated_reciprocal_and_rounds_twice_as_tflite_does():
    # equal scales, n = 5: m = floor(2**30 * 2**2 / 5), e = 1 - 2; acc = 7 (1.4) gives 2, 12 (2.4) gives 3
    m, e = tflite_mean_multiplier(0.05, 0.05, 5)
    assert (m, e) == ((1 << 32) // 5, -1)
    assert list(requantize(np.array([7, -7, 8, 12]), m, e)) == [2, -2, 2, 3]
    assert list(rounding_divide(np.array([7, -7, 8, 12]), 5)) == [1, -1, 2, 2]  # mcugen's own mean


def test_gemmlowp_exp_and_reciprocal_are_close_to_the_real_functions():
    a = -np.arange(0, 31 << 26, 1 << 20, dtype=np.int64)  # [-31, 0] with 5 integer bits
    e = exp_on_negative_values(a) / 2**31
    assert np.max(np.abs(e - np.exp(a / 2**26))) < 2e-8 * 64
    x = np.array([1 << 19, 3 << 19, 12345678, (1 << 30) + 5])
    r, n = reciprocal(x, 12)
    assert np.allclose(r / 2**31 * 2.0 ** -n.astype(float), 1 / (x / 2**19), rtol=1e-8)


# --- bad input -------------------------------------------------------------------------------

def one_sentence(path: Path) -> str:
    """The CLI's answer to a bad model: non-zero exit, one line on stderr, no traceback."""
    run = subprocess.run([sys.executable, "-m", "mcugen", "inspect", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("mcugen: error: ")
    return run.stderr


def test_float_model_is_refused_in_one_sentence():
    assert "is a float TFLite model" in one_sentence(FIXTURES / "bad_float.tflite")


def test_every_unsupported_operator_is_named_in_one_message():
    message = one_sentence(FIXTURES / "bad_unsupported.tflite")
    assert "2 TFLite operator(s) are not supported" in message and "EXP" in message and "GATHER" in message


@pytest.mark.parametrize("cut", [8, 40, 200, 0.3, 0.5, 0.9])
def test_truncated_file_is_one_sentence(tmp_path, cut):
    data = (FIXTURES / "tiny_kws.tflite").read_bytes()
    end = int(len(data) * cut) if isinstance(cut, float) else cut
    (tmp_path / "cut.tflite").write_bytes(data[:end])
    with pytest.raises(McugenError):
        load_float_graph(tmp_path / "cut.tflite")


def test_not_a_flatbuffer_is_one_sentence(tmp_path):
    (tmp_path / "junk.tflite").write_bytes(bytes(range(256)) * 4)
    assert "is not a TFLite flatbuffer" in one_sentence(tmp_path / "junk.tflite")
    rng = np.random.default_rng(3)
    for i in range(20):  # garbage behind the right identifier: damaged, never a traceback
        junk = bytearray(rng.integers(0, 256, 600, dtype=np.uint8).tobytes())
        junk[4:8] = b"TFL3"
        (tmp_path / f"junk{i}.tflite").write_bytes(bytes(junk))
        with pytest.raises(McugenError):
            load_float_graph(tmp_path / f"junk{i}.tflite")


def test_huge_claimed_sizes_are_refused_before_allocating(tmp_path):
    m = TfliteModel()
    x = m.tensor("input", (1, 1 << 16, 1 << 16, 64), INT8, scale=0.1, zero_point=0)
    y = m.tensor("output", (1, 1 << 16, 1 << 16, 64), INT8, scale=0.1, zero_point=0)
    m.op("RESHAPE", [x], [y])
    (tmp_path / "huge.tflite").write_bytes(m.build([x], [y]))
    assert "more than mcugen's limit" in one_sentence(tmp_path / "huge.tflite")
    # a weight vector whose length prefix claims 2**31 - 1 bytes
    data = bytearray((FIXTURES / "fc_per_channel.tflite").read_bytes())
    weights = np.frombuffer(bytes(data), np.uint8)
    length = (64 * 8).to_bytes(4, "little")
    at = bytes(data).find(length)
    assert at > 0
    data[at:at + 4] = (2**31 - 1).to_bytes(4, "little")
    (tmp_path / "claims.tflite").write_bytes(bytes(data))
    assert weights.size < 10_000
    with pytest.raises(McugenError):
        load_float_graph(tmp_path / "claims.tflite")
