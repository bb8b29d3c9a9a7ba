"""Quantized constants that cannot overflow (issue #8, items 5 and 6).

Dead channels (all-zero or ~1e-30 weights after BatchNorm folding, as in VWW and the digits MLP)
used to get weight scales so small that their biases left int32 / int64: int16 activations wrote
-2**63 for positive biases (a float clipped to 2**63 - 1 rounds to 2**63, and the cast wraps),
and int8 saturated them to +/-2**31, after which the kernels' accumulators overflowed (undefined
behaviour in C, caught by UndefinedBehaviorSanitizer). These tests build their models themselves.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from helpers import compile_c, golden, make_model, quantized_inputs, run_c, save_samples
from mcugen.compiler import compile_model
from mcugen.emit.library import generate_library
from mcugen.errors import McugenError
from mcugen.ops.base import (
    ACCUMULATOR_LIMIT,
    INPUT_BOUND,
    WEIGHTED_OPS,
    accumulator_safe_bias,
    quantize_bias,
    saturating_round,
)
from mcugen.quant.quantize import LayerPrecision, Precision
from op_cases import real_shapes_model

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
PRECISIONS = [LayerPrecision(8, 8), LayerPrecision(4, 8), LayerPrecision(8, 16)]
# gcc: AddressSanitizer and UndefinedBehaviorSanitizer with their runtime; clang: UBSan in trap
# mode (an undefined operation executes a trap instruction), which needs no runtime library (the
# machine's clang has no compiler-rt, so -fsanitize=address does not link with it).
SANITIZERS = {"gcc": ["-fsanitize=undefined,address", "-fno-sanitize-recover=all", "-g"],
              "clang": ["-fsanitize=undefined", "-fsanitize-trap=undefined", "-fno-sanitize-recover=all", "-g"]}


def compile_quietly(*args, **kwargs):
    """compile_model with numpy's RuntimeWarnings turned into errors: none may reach the user."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return compile_model(*args, **kwargs)


def check_sanitized(model, calib, tmp: Path, samples, precision: LayerPrecision, name: str = "net"):
    """Compile (numpy warnings as errors), build with both compilers under the sanitizers, run,
    and compare with the golden reference bit for bit."""
    compiled = compile_quietly(model, calib, name, precision=Precision(precision))
    lib = generate_library(compiled.graph, tmp / "lib", compiled.calibration)
    qin = quantized_inputs(compiled, samples)
    flat = np.concatenate([qin[n].reshape(len(qin[n]), -1) for n in compiled.graph.inputs], axis=1)
    expected = golden(compiled, qin)
    for cc, flags in SANITIZERS.items():
        got = run_c(compile_c(lib.folder, name, cc, flags), flat, expected.shape[1])
        assert np.array_equal(got, expected), f"{cc}: {np.sum(got != expected)} outputs differ"
    return compiled


def weighted_constants(graph):
    """Per weighted layer: (name, int bias, per-channel sum of |weight codes|, bias bits)."""
    for node in graph.nodes:
        if node.op not in WEIGHTED_OPS:
            continue
        bias = graph.const(node.q["bias"]).astype(np.int64)
        codes = graph.const(node.q["weights"]).astype(np.int64)
        codes = codes.reshape(-1, len(bias)).T if node.op == "depthwise_conv" else codes.reshape(len(bias), -1)
        bits = 64 if graph.tensors[node.outputs[0]].dtype == "int16" else 32
        yield node.name, bias, np.abs(codes).sum(axis=1), bits


def assert_accumulators_cannot_overflow(graph):
    for name, bias, weight_abs_sum, bits in weighted_constants(graph):
        worst = np.abs(bias) + INPUT_BOUND[bits] * weight_abs_sum
        assert np.all(worst <= ACCUMULATOR_LIMIT[bits]), (name, int(worst.max()))


@pytest.fixture(scope="module")
def real_shapes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real_shapes")
    rng = np.random.default_rng(5)
    model = real_shapes_model(tmp / "real_shapes.onnx")
    calib = save_samples(tmp / "calib.npz", {"x": rng.random((16, 3, 24, 24)).astype(np.float32)})
    test = {"x": (rng.random((4, 3, 24, 24)) * 1.2 - 0.1).astype(np.float32)}
    return model, calib, test


@pytest.mark.parametrize("precision", PRECISIONS, ids=str)
def test_sanitizers_on_real_model_shapes(real_shapes, precision, tmp_path):
    """UBSan + ASan, gcc and clang, bit-exact: dead channels, large K, extreme weights and biases."""
    model, calib, test = real_shapes
    compiled = check_sanitized(model, calib, tmp_path, test, precision)
    assert_accumulators_cannot_overflow(compiled.graph)


@pytest.mark.parametrize("precision", PRECISIONS, ids=str)
def test_sanitizers_on_the_digits_mlp(precision, tmp_path):
    """The digits MLP as shipped: its fc1 channel 26 has max|w| = 2.7e-14, which overflowed int32."""
    test = {"x": np.load(DIGITS / "test_mlp.npz")["x"][:64]}
    compiled = check_sanitized(DIGITS / "mlp.onnx", DIGITS / "calib_mlp.npz", tmp_path, test, precision, "mlp")
    assert_accumulators_cannot_overflow(compiled.graph)


@pytest.mark.parametrize("precision", [*PRECISIONS, LayerPrecision(8, 32), LayerPrecision(4, 32)], ids=str)
def test_dead_channels_keep_their_bias(real_shapes, precision):
    """A dead channel's output is its bias: it must survive quantization with its sign and value."""
    model, calib, _ = real_shapes
    compiled = compile_quietly(model, calib, "net", precision=Precision(precision))
    g = compiled.graph
    fc = next(n for n in g.nodes if n.op == "fully_connected")
    if precision.activation_bits == 32:
        bias = g.const(fc.q["bias"])
        assert bias[2] == pytest.approx(1e3, rel=1e-3) and bias[3] == pytest.approx(-50.0, rel=1e-3)
        assert np.all(np.isfinite(g.const(fc.q["scale"]))) and np.all(g.const(fc.q["scale"]) > 0)
        return
    x = g.tensors[fc.inputs[0]]
    wscale = g.tensors[fc.q["weights"]].scale
    real_bias = g.const(fc.q["bias"]).astype(np.float64) * x.scale * wscale
    assert real_bias[2] == pytest.approx(1e3, rel=1e-3), real_bias[2]  # was 0 (multiplier 0) or -2**63
    assert real_bias[3] == pytest.approx(-50.0, rel=1e-3), real_bias[3]
    multiplier = g.const(fc.q["multiplier"])
    assert np.all(multiplier > 0), multiplier  # the dead rows' multipliers were 0: their bias was lost
    assert_accumulators_cannot_overflow(g)


def test_saturating_round_never_flips_a_sign():
    """Clipping a float64 to 2**63 - 1 gives 2**63, whose cast to int64 wraps to -2**63."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        q = quantize_bias(np.array([1.0, -1.0, 1e-30, 0.3]), 1e-20, np.array([1e-20, 1e-20, 1.0, 1e17]), 4, 64)
        assert list(q) == [2**63 - 1, -(2**63), 0, 300]
        assert list(quantize_bias(np.array([1.0, -1.0]), 1e-20, np.array([1e-20, 1e-20]), 2)) == [2**31 - 1, -(2**31)]
        r = saturating_round(np.array([np.inf, -np.inf, 2.0**63, 2.0**62, -0.5, 1.5]), -(2**63), 2**63 - 1)
        assert list(r) == [2**63 - 1, -(2**63), 2**63 - 1, 2**62, 0, 2]


def test_accumulator_safe_bias_leaves_room_for_every_sum():
    bias = np.array([2**31 - 1, -(2**31), 1000, -5], np.int32)
    weight_abs_sum = np.array([10, 10, 2**20, 0])
    safe = accumulator_safe_bias(bias, weight_abs_sum, 32)
    assert list(safe) == [2**31 - 1 - 2560, -(2**31 - 1 - 2560), 1000, -5]
    assert safe.dtype == np.int32


def large_fc_model(path: Path, inputs: int, bias: float, prequantized: bool = False) -> Path:
    """A fully connected layer whose every weight is 0.01; prequantized: a QDQ model whose weights
    are int8 code 127 at the fixed scale 0.01 / 127 (mcugen keeps a pre-quantized model's scales)."""
    codes = np.full((2, inputs), 127, np.int8)
    inits = {"B": np.array([bias, 0.0], np.float32)}
    if not prequantized:
        inits["W"] = codes.astype(np.float32) * np.float32(0.01 / 127)
        nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)]
    else:
        inits.update(wq=codes, ws=np.full(2, 0.01 / 127, np.float32), wz=np.zeros(2, np.int8),
                     s_in=np.array(1e-4 / 127, np.float32), z_in=np.array(0, np.int8))
        nodes = [helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"]),
                 helper.make_node("DequantizeLinear", ["xq", "s_in", "z_in"], ["xd"]),
                 helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["W"], axis=0),
                 helper.make_node("Gemm", ["xd", "W", "B"], ["y"], transB=1)]
    return make_model(path, nodes, {"x": [1, inputs]}, {"y": None}, inits, opset=13)


def test_a_dead_channel_beside_many_weights_gets_a_coarser_scale_not_a_clipped_bias(tmp_path):
    """K = 60000 weights of 0.01 beside a bias of 200 (far beyond what they add): the natural scale
    would need a bias of 3e12 codes; the scale is raised until bias and weights fit int32."""
    rng = np.random.default_rng(2)
    x = (rng.random((8, 60000)) * 1e-4).astype(np.float32)
    calib = save_samples(tmp_path / "calib.npz", {"x": x})
    model = large_fc_model(tmp_path / "fc.onnx", 60000, 200.0)
    compiled = check_sanitized(model, calib, tmp_path, {"x": x[:2]}, LayerPrecision(8, 8))
    assert_accumulators_cannot_overflow(compiled.graph)
    fc = compiled.graph.nodes[0]
    real_bias = compiled.graph.const(fc.q["bias"])[0] * compiled.graph.tensors["x"].scale \
        * compiled.graph.tensors[fc.q["weights"]].scale[0]
    assert real_bias == pytest.approx(200.0, rel=1e-3)  # bias correction adds the zeroed weights' 0.03
    assert not any("narrowed" in w for w in compiled.warnings), compiled.warnings


def test_a_prequantized_bias_that_would_overflow_is_narrowed_with_a_warning(tmp_path):
    """Fixed scales (a QDQ model): 60000 weights at code 127 leave 2**31 - 1 - 256 * 127 * 60000
    = 196 M codes for the bias, and a bias of 3e12 codes is narrowed to that: bit-exact in C,
    sanitizer-clean, and the user is told."""
    rng = np.random.default_rng(2)
    x = (rng.random((8, 60000)) * 1e-4).astype(np.float32)
    calib = save_samples(tmp_path / "calib.npz", {"x": x})
    model = large_fc_model(tmp_path / "fc.onnx", 60000, 200.0, prequantized=True)
    compiled = check_sanitized(model, calib, tmp_path, {"x": x[:2]}, LayerPrecision(8, 8))
    assert_accumulators_cannot_overflow(compiled.graph)
    (name, bias, weight_abs_sum, _), = weighted_constants(compiled.graph)
    assert weight_abs_sum[0] == 127 * 60000
    assert bias[0] == ACCUMULATOR_LIMIT[32] - 256 * 127 * 60000
    assert any("narrowed" in w and name in w for w in compiled.warnings), compiled.warnings


def test_a_bias_that_fits_gives_no_warning(tmp_path):
    rng = np.random.default_rng(2)
    calib = save_samples(tmp_path / "calib.npz", {"x": rng.random((8, 300)).astype(np.float32)})
    compiled = compile_quietly(large_fc_model(tmp_path / "fc.onnx", 300, 0.5), calib, "net")
    assert not any("narrowed" in w for w in compiled.warnings), compiled.warnings


def test_a_prequantized_layer_whose_weights_alone_overflow_is_refused(tmp_path):
    """256 * 127 * 70000 > 2**31 with the model's own scales: no bias makes that accumulator safe."""
    rng = np.random.default_rng(2)
    calib = save_samples(tmp_path / "calib.npz", {"x": (rng.random((2, 70000)) * 1e-4).astype(np.float32)})
    with pytest.raises(McugenError, match=r"layer .*output channel 0 .*int32 accumulator could overflow"):
        compile_model(large_fc_model(tmp_path / "fc.onnx", 70000, 0.0, prequantized=True), calib, "net")


def test_many_weights_get_a_coarser_scale_instead_of_overflowing(tmp_path):
    """Without fixed scales the same layer is made safe by a slightly coarser weight scale."""
    rng = np.random.default_rng(2)
    calib = save_samples(tmp_path / "calib.npz", {"x": (rng.random((2, 70000)) * 1e-4).astype(np.float32)})
    compiled = compile_quietly(large_fc_model(tmp_path / "fc.onnx", 70000, 0.0), calib, "net")
    assert_accumulators_cannot_overflow(compiled.graph)


FIXEDPOINT_DRIVER = r"""
#include <stdio.h>
#include "mcugen_fixedpoint.h"
int main(void)
{
    long long acc, acc64;
    long m, s;
    while (scanf("%lld %lld %ld %ld", &acc, &acc64, &m, &s) == 4) {
        const int32_t shift64 = s > 14 ? 14 : (int32_t)s;
        printf("%ld %ld\n", (long)mcugen_requantize((int32_t)acc, (int32_t)m, (int32_t)s),
               (long)mcugen_requantize_s64((int64_t)acc64, (int32_t)m, shift64));
    }
    return 0;
}
"""


def test_fixedpoint_extremes_are_defined_and_equal_their_numpy_twins(tmp_path):
    """mcugen_fixedpoint.h at the ends of its ranges, under the sanitizers: int32 accumulators at
    +/-2**31, int64 ones at the +/-2**47 accumulator_safe_bias guarantees, multipliers from
    quantize_multiplier's edge cases (a mantissa that rounds up to 2**31, real scales >= 1, tiny,
    beyond 2**30) and every shift in [-31, 30] (int16 layers: at most 14, checked at compile time)."""
    from mcugen.ops.fixedpoint import quantize_multiplier, requantize, requantize_s64

    edge_reals = [1 - 2.0**-40, 1.0, 0.5, 2.0**-32, 2.0**-31 * 0.75, 2.0**-33, 1e-12, 3.7, 2.0**29 * 1.5,
                  2.0**30, 2.0**31, 1e300]
    pairs = {quantize_multiplier(r) for r in edge_reals}
    assert (1 << 30, 1) in pairs  # the mantissa of 1 - 2**-40 rounds to 2**31: halved, shift + 1
    assert quantize_multiplier(2.0**-33) == (0, 0) and quantize_multiplier(2.0**31) == (2**31 - 1, 30)
    pairs |= {(2**31 - 1, s) for s in range(-31, 31)} | {(1 << 30, s) for s in range(-31, 31)}
    accs = [0, 1, -1, 2**31 - 1, -(2**31), 12345, -98765]
    accs64 = [0, 1, -1, 2**47, -(2**47), 2**40 + 3, -(2**33) - 7]
    rows = np.array([(a, a64, m, s) for m, s in sorted(pairs) for a, a64 in zip(accs, accs64)], dtype=np.int64)
    (tmp_path / "fp.c").write_text(FIXEDPOINT_DRIVER)
    kernels = Path(__file__).resolve().parent.parent / "firmware" / "kernels"
    expected_32 = requantize(rows[:, 0], rows[:, 2], rows[:, 3])
    expected_64 = requantize_s64(rows[:, 1], rows[:, 2], np.minimum(rows[:, 3], 14))
    stdin = "".join(f"{a} {a64} {m} {s}\n" for a, a64, m, s in rows.tolist())
    for cc, flags in SANITIZERS.items():
        exe = tmp_path / f"fp_{cc}"
        build = subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Werror", f"-I{kernels}", *flags,
                                str(tmp_path / "fp.c"), "-o", str(exe)], capture_output=True, text=True)
        assert build.returncode == 0, build.stderr[:2000]
        run = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr[:2000]
        got = np.array([line.split() for line in run.stdout.splitlines()], dtype=np.int64)
        assert np.array_equal(got[:, 0], expected_32), f"{cc}: requantize differs"
        assert np.array_equal(got[:, 1], expected_64), f"{cc}: requantize_s64 differs"


def test_rounding_a_bias_is_not_reported_as_narrowing_it(tmp_path):
    """w4a8 with an output multiplier above 1 (weights +10 and -10 on equal inputs: the output is
    the bias alone, so its scale is tiny): rounding the bias to a whole step moves the output by
    up to M / 2 > 0.5 steps, which is quantization, not the overflow clamp, and must not warn."""
    model = make_model(tmp_path / "fc.onnx", [helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)],
                       {"x": [1, 2]}, {"y": None}, {"W": np.array([[10.0, -10.0]]), "B": np.array([0.3])})
    x = np.random.default_rng(4).random((16, 1)).astype(np.float32)
    calib = save_samples(tmp_path / "calib.npz", {"x": np.concatenate([x, x], axis=1)})
    compiled = compile_quietly(model, calib, "net", precision=Precision(LayerPrecision(4, 8)))
    g = compiled.graph
    fc = g.nodes[0]
    multiplier = g.tensors["x"].scale * g.tensors[fc.q["weights"]].scale / g.tensors["y"].scale
    assert multiplier[0] > 1.5, multiplier
    assert not any("narrowed" in w for w in compiled.warnings), compiled.warnings


def test_a_softmax_row_too_long_for_its_int32_sum_is_refused(tmp_path):
    """The int8 softmax sums up to 32768 per element in int32: 65536 elements would overflow."""
    model = make_model(tmp_path / "sm.onnx", [helper.make_node("Softmax", ["x"], ["y"])], {"x": [1, 65536]},
                       {"y": None}, {})
    calib = save_samples(tmp_path / "calib.npz", {"x": np.zeros((1, 65536), np.float32)})
    with pytest.raises(McugenError, match="softmax .* 65536 elements"):
        compile_model(model, calib, "net")


def test_an_average_pool_window_too_large_for_its_int32_sum_is_refused(tmp_path):
    """255 * 2902 * 2902 > 2**31 - 1: the pool's int32 accumulator (and acc * multiplier < 2**62)."""
    model = make_model(tmp_path / "gap.onnx", [helper.make_node("GlobalAveragePool", ["x"], ["y"])],
                       {"x": [1, 1, 2902, 2902]}, {"y": None}, {})
    calib = save_samples(tmp_path / "calib.npz", {"x": np.zeros((1, 1, 2902, 2902), np.float32)})
    with pytest.raises(McugenError, match="average pool .* 8421604 values"):
        compile_model(model, calib, "net")


def test_constants_that_do_not_dequantize_back_are_refused():
    """The check every compile runs: the old defects' constants (a positive bias stored as the most
    negative code, a weight code off by one, a multiplier zeroed while the accumulator is large)
    end in one sentence naming the layer instead of reaching the C."""
    from mcugen.ir import Node
    from mcugen.ops.conv import check_weighted_constants
    from mcugen.ops.fixedpoint import quantize_multiplier

    node = Node("fully_connected", "fc7", ["x", "w"], ["y"])
    w = np.array([[0.5, -0.25], [1e-30, 0.0]])
    wscale = np.array([0.5 / 127, 1e-3])
    wq = np.array([[127, -64], [0, 0]], np.int8)
    bias, s_in = np.array([0.1, 2.0]), 0.01
    good_bias = np.round(bias / (s_in * wscale)).astype(np.int32)
    real = s_in * wscale / 0.02
    pairs = [quantize_multiplier(float(m)) for m in real]
    multiplier = np.array([m for m, _ in pairs], np.int32)
    shift = np.array([e for _, e in pairs], np.int8)

    def check(wq=wq, bias_q=good_bias, multiplier=multiplier):
        check_weighted_constants(node, w, wq, wscale, 0, 8, False, bias, bias_q, s_in, real, multiplier, shift, 32)

    check()
    with pytest.raises(McugenError, match=r"layer 'fc7': the bias of output channel 1"):
        check(bias_q=np.array([good_bias[0], -(2**31)], np.int32))
    with pytest.raises(McugenError, match=r"layer 'fc7': the weights of output channel 0"):
        check(wq=np.array([[126, -64], [0, 0]], np.int8))
    with pytest.raises(McugenError, match=r"layer 'fc7': the output multiplier of channel 0"):
        check(multiplier=np.array([0, multiplier[1]], np.int32))
