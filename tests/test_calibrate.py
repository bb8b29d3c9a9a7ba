"""Activation calibration methods: minmax, percentile, mse and entropy on known distributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from helpers import check_bit_exact, make_model
from mcugen.compiler import load_float_graph
from mcugen.data import Samples, load_samples
from mcugen.errors import McugenError
from mcugen.ops.base import dequantize_array, qparams_from_range, quantize_array
from mcugen.quant.calibrate import HIST_BINS, METHODS, _divergences, calibrate

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
WIDTH = 1000  # values per sample of the test graph's input


@pytest.fixture(scope="module")
def relu_graph(tmp_path_factory):
    """x [1, 1000] → Relu → y: a two-sided tensor (x) and a one-sided one (y)."""
    path = make_model(tmp_path_factory.mktemp("calib") / "relu.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                      {"x": [1, WIDTH]}, {"y": [1, WIDTH]}, {})
    return load_float_graph(path)


def samples_of(values: np.ndarray) -> Samples:
    """Values (any count, a multiple of WIDTH) as samples of the test graph's input."""
    return Samples({"x": values.astype(np.float32).reshape(-1, WIDTH)})


def heavy_tailed(rng, n: int = 100_000) -> np.ndarray:
    """Standard normal values with a few huge outliers on both sides."""
    x = rng.standard_normal(n)
    x[rng.choice(n, 6, replace=False)] = [40.0, -35.0, 60.0, -50.0, 45.0, 55.0]
    return x


def quantization_mse(x: np.ndarray, lo: float, hi: float) -> float:
    scale, zp = qparams_from_range(lo, hi)
    return float(np.mean((dequantize_array(quantize_array(x, scale, zp), scale, zp) - x) ** 2))


def test_minmax_is_the_exact_min_and_max(relu_graph, rng):
    x = (rng.standard_normal(7 * WIDTH) * 3 + 1).astype(np.float32)  # 7 samples: batches don't matter
    ranges = calibrate(relu_graph, samples_of(x))
    assert ranges == calibrate(relu_graph, samples_of(x), "minmax")
    assert ranges["x"] == (float(x.min()), float(x.max()))
    assert ranges["y"] == (0.0, float(x.max()))


@pytest.mark.parametrize("p", [99.0, 99.9, 99.99])
def test_percentile_matches_numpy_within_one_bin_and_clips_outliers(relu_graph, rng, p):
    x = heavy_tailed(rng).astype(np.float32)
    ranges = calibrate(relu_graph, samples_of(x), "percentile", percentile=p)
    bin_width = (x.max() - x.min()) / HIST_BINS
    lo, hi = ranges["x"]
    assert abs(lo - np.percentile(x, 100 - p)) <= bin_width
    assert abs(hi - np.percentile(x, p)) <= bin_width
    assert -5 < lo < 0 < hi < 5  # the outliers (|x| >= 35) are out
    y = np.maximum(x, 0)
    y_lo, y_hi = ranges["y"]
    assert y_lo == 0.0  # one-sided: the near end stays at the minimum
    assert abs(y_hi - np.percentile(y, p)) <= (y.max() - y.min()) / HIST_BINS


def test_percentile_100_is_minmax(relu_graph, rng):
    samples = samples_of(rng.standard_normal(5 * WIDTH))
    assert calibrate(relu_graph, samples, "percentile", percentile=100) == calibrate(relu_graph, samples)


@pytest.mark.parametrize("method", ["mse", "entropy"])
def test_heavy_tails_are_clipped(relu_graph, rng, method):
    # Two outliers in a million normal values: rare enough that clipping them beats spreading the
    # levels over [-40, 50] even for mse (with a few per 100k, mse rightly keeps most of them).
    x = np.concatenate([rng.standard_normal(999_998), [50.0, -40.0]]).astype(np.float32)
    ranges = calibrate(relu_graph, samples_of(x), method)
    lo, hi = ranges["x"]
    assert -20 < lo < -3 and 3 < hi < 20, (lo, hi)  # covers the normal bulk, far inside [-40, 50]
    y_lo, y_hi = ranges["y"]
    assert y_lo == 0.0 and 3 < y_hi < 40, (y_lo, y_hi)


@pytest.mark.parametrize("method", ["mse", "entropy"])
def test_uniform_range_stays_nearly_full(relu_graph, rng, method):
    x = rng.uniform(-1, 1, 100_000).astype(np.float32)
    ranges = calibrate(relu_graph, samples_of(x), method)
    lo, hi = ranges["x"]
    assert lo <= 0.9 * x.min() and hi >= 0.9 * x.max(), (lo, hi)
    assert ranges["y"][1] >= 0.9 * x.max(), ranges["y"]


@pytest.mark.parametrize("name, values, ratio", [
    ("outliers", lambda rng: heavy_tailed(rng), 0.9),
    ("student-t", lambda rng: rng.standard_t(3, 100_000), 0.9),
    ("uniform", lambda rng: rng.uniform(-1, 1, 100_000), 1.001),
])
def test_mse_range_quantizes_the_data_with_less_error_than_minmax(relu_graph, rng, name, values, ratio):
    x = values(rng).astype(np.float32)
    lo, hi = calibrate(relu_graph, samples_of(x), "mse")["x"]
    assert quantization_mse(x, lo, hi) <= ratio * quantization_mse(x, float(x.min()), float(x.max())), (lo, hi)


DISTRIBUTIONS = {
    "normal": lambda rng: rng.standard_normal(50_000),
    "skewed": lambda rng: rng.standard_normal(50_000) + 2.5,  # spans 0, but barely below it
    "exponential": lambda rng: rng.exponential(1.0, 50_000),  # one-sided, lo = min > 0
    "negative": lambda rng: -rng.exponential(1.0, 50_000),  # one-sided, all below 0
    "laplace": lambda rng: rng.laplace(0.0, 1.0, 50_000),
}


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_ranges_hold_zero_and_stay_inside_the_data(relu_graph, rng, method, dist, bits):
    x = DISTRIBUTIONS[dist](rng).astype(np.float32)
    ranges = calibrate(relu_graph, samples_of(x), method, percentile=99.9, bits=bits)
    assert set(ranges) == {"x", "y"}
    for name, values in (("x", x), ("y", np.maximum(x, 0))):
        lo, hi = ranges[name]
        assert np.isfinite(lo) and np.isfinite(hi)
        assert values.min() <= lo <= hi <= values.max(), (name, lo, hi)
        if values.min() <= 0 <= values.max():
            assert lo <= 0 <= hi, (name, lo, hi)
        if values.min() >= 0:
            assert lo == values.min(), (name, lo)  # one-sided: the near end stays
        if values.max() <= 0:
            assert hi == values.max(), (name, hi)
    assert ranges["y"][0] == 0.0 or x.min() > 0


@pytest.mark.parametrize("method", ["mse", "entropy"])
def test_sixteen_bits_clip_no_harder_than_eight(relu_graph, rng, method):
    samples = samples_of(heavy_tailed(rng))
    lo8, hi8 = calibrate(relu_graph, samples, method, bits=8)["x"]
    lo16, hi16 = calibrate(relu_graph, samples, method, bits=16)["x"]
    assert lo16 <= lo8 and hi16 >= hi8, ((lo8, hi8), (lo16, hi16))


def test_constant_valued_tensor_keeps_its_value(relu_graph):
    samples = samples_of(-np.ones(3 * WIDTH))  # x is constant -1, y constant 0
    for method in METHODS:
        ranges = calibrate(relu_graph, samples, method, percentile=99)
        assert ranges == {"x": (-1.0, -1.0), "y": (0.0, 0.0)}, method


def test_entropy_divergence_matches_a_direct_computation(rng):
    counts = np.histogram(np.abs(heavy_tailed(rng, 20_000)), bins=2048)[0].astype(np.float64)
    counts[300:420] = 0  # an empty stretch: candidates whose last kept bin is empty but has a tail
    levels = 128
    candidates = np.array([128, 200, 301, 350, 419, 420, 1000, 2048])
    got = _divergences(counts, levels, candidates)
    for i, kl in zip(candidates, got):
        p = counts[:i].copy()
        p[-1] += counts[i:].sum()
        q = np.zeros(i)
        edges = np.arange(levels + 1) * i // levels
        for a, b in zip(edges[:-1], edges[1:]):
            support = p[a:b] > 0
            if support.any():
                q[a:b][support] = max(counts[a:b].sum(), 1e-4) / support.sum()
        p, q = p / p.sum(), q / q.sum()
        on = p > 0
        assert np.isfinite(kl)
        assert kl == pytest.approx(np.sum(p[on] * np.log(p[on] / q[on])), rel=1e-9, abs=1e-12), i


# --- too little data and bad arguments ---------------------------------------------------------

def test_unknown_method_lists_the_methods(relu_graph, rng):
    with pytest.raises(McugenError) as err:
        calibrate(relu_graph, samples_of(rng.standard_normal(WIDTH)), "kl")
    assert "'kl'" in str(err.value) and all(m in str(err.value) for m in METHODS)


@pytest.mark.parametrize("p", [50, 40.0, 100.5, -1])
def test_percentile_outside_50_100_is_refused(relu_graph, rng, p):
    with pytest.raises(McugenError, match=r"outside \(50, 100\]"):
        calibrate(relu_graph, samples_of(rng.standard_normal(WIDTH)), "percentile", percentile=p)


def test_percentile_needs_enough_values(relu_graph, rng):
    samples = samples_of(rng.standard_normal(5 * WIDTH))  # 5000 values per tensor
    calibrate(relu_graph, samples, "percentile", percentile=99.9)  # needs 1000
    with pytest.raises(McugenError) as err:
        calibrate(relu_graph, samples, "percentile", percentile=99.99)  # needs 10000
    msg = str(err.value)
    assert "percentile" in msg and "10000 values" in msg and "'x'" in msg
    assert "at least 10 calibration samples" in msg and "--calib-samples" in msg and "lower percentile" in msg


@pytest.mark.parametrize("method", ["mse", "entropy"])
def test_histogram_methods_need_enough_values(tmp_path, rng, method):
    path = make_model(tmp_path / "small.onnx", [helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 10]},
                      {"y": [1, 10]}, {})
    graph = load_float_graph(path)
    calibrate(graph, Samples({"x": rng.standard_normal((52, 10)).astype(np.float32)}), method)
    with pytest.raises(McugenError) as err:
        calibrate(graph, Samples({"x": rng.standard_normal((51, 10)).astype(np.float32)}), method)
    msg = str(err.value)
    assert method in msg and "512 values" in msg and "510" in msg and "'x'" in msg
    assert "at least 52 calibration samples" in msg and "--calib-samples" in msg and "minmax" in msg


@pytest.mark.parametrize("method", METHODS)
def test_no_samples_is_refused(relu_graph, method):
    with pytest.raises(McugenError, match="at least 1 sample"):
        calibrate(relu_graph, Samples({"x": np.zeros((0, WIDTH), np.float32)}), method)


def test_bits_outside_2_to_16_are_refused(relu_graph, rng):
    with pytest.raises(McugenError, match="32-bit"):
        calibrate(relu_graph, samples_of(rng.standard_normal(WIDTH)), "mse", bits=32)


# --- the bundled digits CNN ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    graph = load_float_graph(DIGITS / "cnn.onnx")
    return graph, load_samples(DIGITS / "calib_cnn.npz", graph, "calibration")


@pytest.mark.parametrize("method", METHODS)
def test_digits_cnn_every_method_gives_finite_ranges(digits, method):
    graph, samples = digits
    minmax = calibrate(graph, samples)
    activations = set(graph.inputs) | {n.outputs[0] for n in graph.nodes}
    ranges = calibrate(graph, samples, method, percentile=99.9)  # 99.9: logits has 200 x 10 values
    assert set(ranges) == set(minmax) == activations
    for name, (lo, hi) in ranges.items():
        assert np.isfinite(lo) and np.isfinite(hi), name
        assert minmax[name][0] <= lo <= hi <= minmax[name][1], (name, lo, hi, minmax[name])


def test_digits_cnn_percentile_99_99_wants_more_samples(digits):
    graph, samples = digits
    calibrate(graph, samples, "percentile")  # the default, 99.9, needs 1000 values: 100 samples of logits
    with pytest.raises(McugenError, match="'logits' has only 2000 .* at least 1000 calibration samples"):
        calibrate(graph, samples, "percentile", percentile=99.99)


@pytest.mark.parametrize("method", METHODS)
def test_each_method_generates_bit_exact_c(method, tmp_path):
    """The method changes only the ranges; the C must still equal the golden reference."""
    test = dict(np.load(DIGITS / "test_cnn.npz"))
    compiled = check_bit_exact(DIGITS / "cnn.onnx", DIGITS / "calib_cnn.npz", tmp_path, {"x": test["x"][:40]},
                               compilers=("gcc",), name="digits", method=method)
    assert method in compiled.calibration or method == "minmax"
