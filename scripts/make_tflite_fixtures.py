"""Write the int8 .tflite test fixtures of tests/fixtures/tflite/ (run once; the files are committed).

    .venv/bin/python scripts/make_tflite_fixtures.py [OUT]

One small model per operator and parameter set (odd channel counts, strides, SAME/VALID with
asymmetric padding, dilations, depth multipliers, per-tensor and per-channel weights, fused
RELU/RELU6, nonzero zero points, softmax beta and scales), a small KWS-like chain for the QEMU test,
and the bad inputs: a float model and one with unsupported operators. Weights, biases and scales
are seeded random numbers; output scales are chosen so the outputs use most of int8's range.
Written with tests/tflite_builder.py (flatbuffers, no TensorFlow).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from tflite_builder import FLOAT32, INT32, NONE, RELU, RELU6, SAME, UINT8, VALID, TfliteModel  # noqa: E402


def out_size(n: int, k: int, stride: int, dilation: int, padding: int) -> int:
    eff = (k - 1) * dilation + 1
    return -(-n // stride) if padding == SAME else (n - eff) // stride + 1


def act_input(m: TfliteModel, rng, shape, scale=0.05) -> tuple[int, float, int]:
    zp = int(rng.integers(-20, 21))
    return m.tensor("input", shape, scale=scale, zero_point=zp), scale, zp


def weighted(m: TfliteModel, rng, name: str, w_shape, per_channel: bool, dim: int, fan_in: int, sx: float):
    channels = w_shape[dim]
    w = rng.integers(-127, 128, size=w_shape, dtype=np.int8)
    sw = rng.uniform(0.002, 0.02, size=channels) if per_channel else np.array([rng.uniform(0.002, 0.02)])
    wt = m.tensor(f"{name}/weights", w_shape, scale=sw, zero_point=[0] * len(sw), data=w, dim=dim)
    bias = rng.integers(-3000, 3001, size=channels).astype(np.int32)
    bscale = sx * sw  # one scale for a per-tensor layer, as TFLite's converter writes it
    bt = m.tensor(f"{name}/bias", (channels,), INT32, scale=bscale, zero_point=[0] * len(bscale), data=bias)
    so = 40.0 * math.sqrt(fan_in) * sx * float(np.mean(sw)) * 3 / 128 * 2
    return wt, bt, so


def conv(rng, h, w, c, oc, kh, kw, stride, dil, padding, act, per_channel=True) -> bytes:
    m = TfliteModel()
    x, sx, _ = act_input(m, rng, (1, h, w, c))
    wt, bt, so = weighted(m, rng, "conv", (oc, kh, kw, c), per_channel, 0, kh * kw * c, sx)
    oh, ow = out_size(h, kh, stride, dil, padding), out_size(w, kw, stride, dil, padding)
    y = m.tensor("output", (1, oh, ow, oc), scale=so, zero_point=int(rng.integers(-30, 31)))
    m.op("CONV_2D", [x, wt, bt], [y], "conv", padding=padding, stride_w=stride, stride_h=stride, act=act,
         dilation_w=dil, dilation_h=dil)
    return m.build([x], [y])


def depthwise(rng, h, w, c, mult, k, stride, dil, padding, act) -> bytes:
    m = TfliteModel()
    x, sx, _ = act_input(m, rng, (1, h, w, c))
    wt, bt, so = weighted(m, rng, "dw", (1, k, k, c * mult), True, 3, k * k, sx)
    oh, ow = out_size(h, k, stride, dil, padding), out_size(w, k, stride, dil, padding)
    y = m.tensor("output", (1, oh, ow, c * mult), scale=so, zero_point=int(rng.integers(-30, 31)))
    m.op("DEPTHWISE_CONV_2D", [x, wt, bt], [y], "depthwise", padding=padding, stride_w=stride, stride_h=stride,
         depth_multiplier=mult, act=act, dilation_w=dil, dilation_h=dil)
    return m.build([x], [y])


def fully_connected(rng, in_shape, depth, units, per_channel, act, keep_num_dims=False) -> bytes:
    m = TfliteModel()
    x, sx, _ = act_input(m, rng, in_shape)
    rows = int(np.prod(in_shape)) // depth
    wt, bt, so = weighted(m, rng, "fc", (units, depth), per_channel, 0, depth, sx)
    shape = tuple(in_shape[:-1]) + (units,) if keep_num_dims else (rows, units)
    y = m.tensor("output", shape, scale=so, zero_point=int(rng.integers(-30, 31)))
    m.op("FULLY_CONNECTED", [x, wt, bt], [y], "fc", act=act, keep_num_dims=keep_num_dims)
    return m.build([x], [y])


def pool(rng, kind, h, w, c, k, stride, padding, act) -> bytes:
    m = TfliteModel()
    scale, zp = 0.05, int(rng.integers(-60, 61))
    x = m.tensor("input", (1, h, w, c), scale=scale, zero_point=zp)
    y = m.tensor("output", (1, out_size(h, k, stride, 1, padding), out_size(w, k, stride, 1, padding), c),
                 scale=scale, zero_point=zp)
    m.op(kind, [x], [y], "pool", padding=padding, stride_w=stride, stride_h=stride, filter_w=k, filter_h=k, act=act)
    return m.build([x], [y])


def softmax(rng, shape, scale, beta) -> bytes:
    m = TfliteModel()
    x = m.tensor("input", shape, scale=scale, zero_point=int(rng.integers(-10, 11)))
    y = m.tensor("output", shape, scale=1.0 / 256, zero_point=-128)
    m.op("SOFTMAX", [x], [y], "softmax", beta=beta)
    return m.build([x], [y])


def add(rng, shape, s1, s2, so, act, kind="ADD", shape2=None) -> bytes:
    m = TfliteModel()
    a = m.tensor("a", shape, scale=s1, zero_point=int(rng.integers(-40, 41)))
    b = m.tensor("b", shape2 or shape, scale=s2, zero_point=int(rng.integers(-40, 41)))
    y = m.tensor("output", shape, scale=so, zero_point=int(rng.integers(-40, 41)))
    m.op(kind, [a, b], [y], kind.lower() if kind == "ADD" else "mul", act=act)
    return m.build([a, b], [y])


def pad(rng) -> bytes:
    m = TfliteModel()
    x = m.tensor("input", (1, 5, 4, 3), scale=0.1, zero_point=-9)
    pads = m.tensor("paddings", (4, 2), INT32, data=np.array([[0, 0], [1, 2], [0, 3], [0, 0]], np.int32))
    y = m.tensor("output", (1, 8, 7, 3), scale=0.1, zero_point=-9)
    m.op("PAD", [x, pads], [y])
    return m.build([x], [y])


def concat(rng) -> bytes:
    m = TfliteModel()
    a = m.tensor("a", (1, 4, 3, 5), scale=0.07, zero_point=4)
    b = m.tensor("b", (1, 4, 3, 2), scale=0.07, zero_point=4)
    y = m.tensor("output", (1, 4, 3, 7), scale=0.07, zero_point=4)
    m.op("CONCATENATION", [a, b], [y], "concat", axis=3)
    return m.build([a, b], [y])


def reshape(rng) -> bytes:
    m = TfliteModel()
    x = m.tensor("input", (1, 3, 4, 5), scale=0.1, zero_point=7)
    shape = m.tensor("shape", (2,), INT32, data=np.array([1, 60], np.int32))
    y = m.tensor("output", (1, 60), scale=0.1, zero_point=7)
    m.op("RESHAPE", [x, shape], [y])
    return m.build([x], [y])


def tiny_kws(rng) -> bytes:
    """conv (SAME, stride 2) → depthwise (RELU) → average pool → reshape → fully connected → softmax."""
    m = TfliteModel()
    x, sx, _ = act_input(m, rng, (1, 13, 8, 1), 0.5)
    wt, bt, so = weighted(m, rng, "conv", (8, 5, 3, 1), True, 0, 15, sx)
    c = m.tensor("conv_out", (1, 7, 4, 8), scale=so, zero_point=-128)
    m.op("CONV_2D", [x, wt, bt], [c], "conv", padding=SAME, stride_w=2, stride_h=2, act=RELU)
    wt2, bt2, so2 = weighted(m, rng, "dw", (1, 3, 3, 8), True, 3, 9, so)
    so2 *= 6  # a ReLU output (zero point -128) needs twice the range, and the pool averages it
    d = m.tensor("dw_out", (1, 7, 4, 8), scale=so2, zero_point=-128)
    m.op("DEPTHWISE_CONV_2D", [c, wt2, bt2], [d], "depthwise", padding=SAME, stride_w=1, stride_h=1,
         depth_multiplier=1, act=RELU)
    p = m.tensor("pool_out", (1, 1, 1, 8), scale=so2, zero_point=-128)
    m.op("AVERAGE_POOL_2D", [d], [p], "pool", padding=VALID, stride_w=4, stride_h=7, filter_w=4, filter_h=7)
    shape = m.tensor("shape", (2,), INT32, data=np.array([1, 8], np.int32))
    r = m.tensor("flat", (1, 8), scale=so2, zero_point=-128)
    m.op("RESHAPE", [p, shape], [r])
    wt3, bt3, _ = weighted(m, rng, "fc", (5, 8), False, 0, 8, so2)
    f = m.tensor("logits", (1, 5), scale=0.05, zero_point=3)  # logits a few units apart: softmax outputs vary
    m.op("FULLY_CONNECTED", [r, wt3, bt3], [f], "fc", act=NONE)
    y = m.tensor("output", (1, 5), scale=1.0 / 256, zero_point=-128)
    m.op("SOFTMAX", [f], [y], "softmax", beta=1.0)
    return m.build([x], [y])


def float_model(rng) -> bytes:
    m = TfliteModel()
    x = m.tensor("input", (1, 4, 4, 2), FLOAT32)
    w = m.tensor("weights", (3, 1, 1, 2), FLOAT32, data=rng.standard_normal((3, 1, 1, 2)).astype(np.float32))
    b = m.tensor("bias", (3,), FLOAT32, data=np.zeros(3, np.float32))
    y = m.tensor("output", (1, 4, 4, 3), FLOAT32)
    m.op("CONV_2D", [x, w, b], [y], "conv", padding=VALID, stride_w=1, stride_h=1)
    return m.build([x], [y])


def unary(rng, kind, scale, zp, out_scale, out_zp) -> bytes:
    m = TfliteModel()
    x = m.tensor("input", (1, 4, 4, 16), scale=scale, zero_point=zp)
    y = m.tensor("output", (1, 4, 4, 16), scale=out_scale, zero_point=out_zp)
    m.op(kind, [x], [y])
    return m.build([x], [y])


def mean(rng, shape, axes, keep, scale, zp, out_scale, out_zp) -> bytes:
    m = TfliteModel()
    x = m.tensor("input", shape, scale=scale, zero_point=zp)
    a = m.tensor("axes", (len(axes),), INT32, data=np.array(axes, np.int32))
    rank = len(shape)
    reduced = {ax % rank for ax in axes}
    oshape = [1 if i in reduced else d for i, d in enumerate(shape)] if keep else \
        [d for i, d in enumerate(shape) if i not in reduced]
    y = m.tensor("output", oshape, scale=out_scale, zero_point=out_zp)
    m.op("MEAN", [x, a], [y], "reducer", keep_dims=keep)
    return m.build([x], [y])


def hard_swish(scale: float, zp: int, out_scale: float | None = None) -> bytes:
    """The output scale (unless given) and zero point cover hard swish of the input's whole range."""
    lo, hi = scale * (-128 - zp), scale * (127 - zp)
    y_lo, y_hi = -0.375 if lo < -1.5 else lo * min(max(lo + 3, 0), 6) / 6, hi * min(max(hi + 3, 0), 6) / 6
    out_scale = out_scale or (y_hi - y_lo) / 255
    out_zp = int(max(-128, min(127, round(-128 - y_lo / out_scale))))
    m = TfliteModel()
    x = m.tensor("input", (1, 4, 4, 16), scale=scale, zero_point=zp)
    y = m.tensor("output", (1, 4, 4, 16), scale=out_scale, zero_point=out_zp)
    m.op("HARD_SWISH", [x], [y])
    return m.build([x], [y])


def uint8_io(rng) -> bytes:
    """uint8 input → QUANTIZE → conv → QUANTIZE → uint8 output, as the converter writes for
    inference_input_type = inference_output_type = tf.uint8."""
    m = TfliteModel()
    u = m.tensor("input_u8", (1, 6, 6, 3), UINT8, scale=0.05, zero_point=131)
    x = m.tensor("input_s8", (1, 6, 6, 3), scale=0.05, zero_point=3)
    m.op("QUANTIZE", [u], [x])
    wt, bt, so = weighted(m, rng, "conv", (4, 3, 3, 3), True, 0, 27, 0.05)
    c = m.tensor("conv_out", (1, 6, 6, 4), scale=so, zero_point=-7)
    m.op("CONV_2D", [x, wt, bt], [c], "conv", padding=SAME, stride_w=1, stride_h=1, act=NONE)
    y = m.tensor("output_u8", (1, 6, 6, 4), UINT8, scale=so * 1.5, zero_point=120)
    m.op("QUANTIZE", [c], [y])
    return m.build([u], [y])


def uint8_rescale(rng) -> bytes:
    """uint8 → int8 with another scale (a real requantize at the input), int8 → uint8 back."""
    m = TfliteModel()
    u = m.tensor("input_u8", (1, 40), UINT8, scale=0.02, zero_point=100)
    x = m.tensor("input_s8", (1, 40), scale=0.03, zero_point=-20)
    m.op("QUANTIZE", [u], [x])
    y = m.tensor("output_u8", (1, 40), UINT8, scale=0.025, zero_point=140)
    m.op("QUANTIZE", [x], [y])
    return m.build([u], [y])


def binary_constant(rng, kind, shape, const_shape, s1, s2, so, act, const_first=False) -> bytes:
    """ADD or MUL of an activation and an int8 constant (per channel, a scalar...), either operand order."""
    m = TfliteModel()
    a = m.tensor("input", shape, scale=s1, zero_point=int(rng.integers(-40, 41)))
    data = rng.integers(-128, 128, size=const_shape, dtype=np.int8)
    c = m.tensor("constant", const_shape, scale=s2, zero_point=int(rng.integers(-40, 41)), data=data)
    y = m.tensor("output", shape, scale=so, zero_point=int(rng.integers(-40, 41)))
    m.op(kind, [c, a] if const_first else [a, c], [y], kind.lower(), act=act)
    return m.build([a], [y])


def tiny_mnv3(rng) -> bytes:
    """MobileNetV3's head in small: conv → HARD_SWISH → MEAN over H, W (keep_dims) → QUANTIZE (int8
    → int8) → MUL by a constant per channel → reshape → fully connected, for the QEMU test."""
    m = TfliteModel()
    x, sx, _ = act_input(m, rng, (1, 7, 7, 3), 0.05)
    wt, bt, so = weighted(m, rng, "conv", (12, 3, 3, 3), True, 0, 27, sx)
    so *= 2
    c = m.tensor("conv_out", (1, 4, 4, 12), scale=so, zero_point=-5)
    m.op("CONV_2D", [x, wt, bt], [c], "conv", padding=SAME, stride_w=2, stride_h=2, act=NONE)
    hi = so * (127 + 5)  # the conv output range's top; hard swish of its bottom is above -0.375
    hs_scale = (hi * min(hi + 3, 6) / 6 + 0.375) / 255
    h = m.tensor("hard_swish", (1, 4, 4, 12), scale=hs_scale, zero_point=int(round(-128 + 0.375 / hs_scale)))
    m.op("HARD_SWISH", [c], [h])
    axes = m.tensor("axes", (2,), INT32, data=np.array([1, 2], np.int32))
    p = m.tensor("pooled", (1, 1, 1, 12), scale=hs_scale / 3, zero_point=-100)
    m.op("MEAN", [h, axes], [p], "reducer", keep_dims=True)
    r = m.tensor("requantized", (1, 1, 1, 12), scale=hs_scale / 2.5, zero_point=-90)
    m.op("QUANTIZE", [p], [r])
    k = m.tensor("channel_scale", (12,), scale=0.01, zero_point=-30,
                 data=rng.integers(-128, 128, size=12, dtype=np.int8))
    s = m.tensor("scaled", (1, 1, 1, 12), scale=hs_scale / 2.5 * 0.8, zero_point=0)
    m.op("MUL", [r, k], [s], "mul", act=NONE)
    shape = m.tensor("shape", (2,), INT32, data=np.array([1, 12], np.int32))
    f = m.tensor("flat", (1, 12), scale=hs_scale / 2.5 * 0.8, zero_point=0)
    m.op("RESHAPE", [s, shape], [f])
    wt2, bt2, so2 = weighted(m, rng, "fc", (6, 12), False, 0, 12, hs_scale / 2.5 * 0.8)
    y = m.tensor("output", (1, 6), scale=so2, zero_point=2)
    m.op("FULLY_CONNECTED", [f, wt2, bt2], [y], "fc", act=NONE)
    return m.build([x], [y])


def unsupported(rng) -> bytes:
    """EXP then GATHER on int8 tensors: two operators mcugen does not read, to be named together."""
    m = TfliteModel()
    x = m.tensor("input", (1, 8), scale=0.05, zero_point=0)
    t = m.tensor("exp", (1, 8), scale=1.0 / 128, zero_point=0)
    m.op("EXP", [x], [t])
    idx = m.tensor("indices", (2,), INT32, data=np.array([0, 3], np.int32))
    y = m.tensor("output", (1, 2), scale=1.0 / 128, zero_point=0)
    m.op("GATHER", [t, idx], [y])
    return m.build([x], [y])


def fixtures() -> dict[str, bytes]:
    rng = np.random.default_rng(10)
    return {
        "conv_same_s1_relu.tflite": conv(rng, 8, 8, 3, 5, 3, 3, 1, 1, SAME, RELU),
        "conv_same_s2.tflite": conv(rng, 9, 7, 4, 6, 3, 3, 2, 1, SAME, NONE),
        "conv_10x4_s2_same.tflite": conv(rng, 15, 10, 1, 7, 10, 4, 2, 1, SAME, RELU),
        "conv_valid_dil2_relu6.tflite": conv(rng, 10, 10, 2, 4, 3, 3, 1, 2, VALID, RELU6),
        "conv_1x1.tflite": conv(rng, 6, 6, 8, 9, 1, 1, 1, 1, VALID, NONE),
        "conv_per_tensor.tflite": conv(rng, 7, 7, 3, 4, 3, 3, 2, 1, VALID, RELU, per_channel=False),
        "depthwise_3x3_same_relu.tflite": depthwise(rng, 8, 8, 5, 1, 3, 1, 1, SAME, RELU),
        "depthwise_mult2_s2.tflite": depthwise(rng, 9, 9, 3, 2, 3, 2, 1, SAME, NONE),
        "depthwise_5x5_dil2.tflite": depthwise(rng, 12, 12, 4, 1, 5, 1, 2, VALID, RELU6),
        "depthwise_3x3_s2_valid.tflite": depthwise(rng, 9, 9, 8, 1, 3, 2, 1, VALID, RELU),
        "fc_per_tensor_relu.tflite": fully_connected(rng, (1, 37), 37, 11, False, RELU),
        "fc_per_channel.tflite": fully_connected(rng, (1, 64), 64, 8, True, NONE),
        "fc_4d_input.tflite": fully_connected(rng, (1, 1, 1, 24), 24, 10, False, NONE),
        "fc_rows_keep_dims.tflite": fully_connected(rng, (1, 3, 16), 16, 5, False, RELU6, keep_num_dims=True),
        "fc_rows.tflite": fully_connected(rng, (1, 3, 16), 16, 5, True, RELU),
        "avg_pool_2x2_valid.tflite": pool(rng, "AVERAGE_POOL_2D", 8, 8, 4, 2, 2, VALID, NONE),
        "avg_pool_3x3_s2_same.tflite": pool(rng, "AVERAGE_POOL_2D", 7, 7, 3, 3, 2, SAME, NONE),
        "avg_pool_global_relu.tflite": pool(rng, "AVERAGE_POOL_2D", 5, 5, 6, 5, 1, VALID, RELU),
        "max_pool_2x2.tflite": pool(rng, "MAX_POOL_2D", 8, 8, 4, 2, 2, VALID, NONE),
        "max_pool_3x3_s2_same.tflite": pool(rng, "MAX_POOL_2D", 7, 7, 3, 3, 2, SAME, RELU),
        "softmax_10.tflite": softmax(rng, (1, 10), 0.1, 1.0),
        "softmax_rows_300.tflite": softmax(rng, (1, 2, 300), 0.02, 1.0),
        "softmax_beta_half.tflite": softmax(rng, (1, 12), 0.25, 0.5),
        "softmax_coarse.tflite": softmax(rng, (1, 7), 1.0, 1.0),
        "add_relu.tflite": add(rng, (1, 6, 6, 4), 0.05, 0.08, 0.1, RELU),
        "add_same_scale.tflite": add(rng, (1, 5, 3, 7), 0.04, 0.04, 0.06, NONE),
        "reshape.tflite": reshape(rng),
        "mul_relu.tflite": add(rng, (1, 5, 5, 3), 0.05, 0.07, 0.08, RELU, "MUL"),
        "mul_broadcast.tflite": add(rng, (1, 4, 4, 6), 0.05, 0.02, 0.01, NONE, "MUL", (1, 1, 1, 6)),
        "pad.tflite": pad(rng),
        "concat_channels.tflite": concat(rng),
        "logistic.tflite": unary(rng, "LOGISTIC", 0.06, 5, 1.0 / 256, -128),
        "tanh.tflite": unary(rng, "TANH", 0.03, -7, 1.0 / 128, 0),
        "relu.tflite": unary(rng, "RELU", 0.05, 10, 0.03, -128),
        "relu6.tflite": unary(rng, "RELU6", 0.06, -3, 0.025, -128),
        "mean_hw_keep_same_scale.tflite": mean(rng, (1, 5, 4, 7), (1, 2), True, 0.05, 3, 0.05, 3),
        "mean_hw_keep_rescale.tflite": mean(rng, (1, 6, 6, 8), (2, 1), True, 0.04, -10, 0.012, 5),
        "mean_hw_drop.tflite": mean(rng, (1, 6, 3, 5), (1, 2), False, 0.05, -4, 0.05, -4),
        "mean_channels.tflite": mean(rng, (1, 6, 3, 5), (-1,), False, 0.05, -4, 0.05, -4),
        "mean_w_c_keep.tflite": mean(rng, (1, 6, 3, 5), (2, 3), True, 0.01, -4, 0.003, 7),
        "mean_rank3.tflite": mean(rng, (1, 9, 20), (1,), True, 0.03, 11, 0.01, -2),
        "hard_swish.tflite": hard_swish(0.05, -20),
        "hard_swish_fine.tflite": hard_swish(0.004, 30),
        "hard_swish_wide.tflite": hard_swish(0.4, 5),
        "hard_swish_coarse_out.tflite": hard_swish(0.02, -128, 0.1),
        "quantize_s8_s8.tflite": unary(rng, "QUANTIZE", 0.05, 7, 0.02, -11),
        "quantize_s8_s8_coarser.tflite": unary(rng, "QUANTIZE", 0.013, -100, 0.037, 20),
        "quantize_s8_s8_same_scale.tflite": unary(rng, "QUANTIZE", 0.05, -3, 0.05, 40),
        "tiny_kws.tflite": tiny_kws(rng),
        "bad_float.tflite": float_model(rng),
        "bad_unsupported.tflite": unsupported(rng),
        "uint8_io_conv.tflite": uint8_io(rng),
        "uint8_io_rescale.tflite": uint8_rescale(rng),
        "add_const_channels.tflite": binary_constant(rng, "ADD", (1, 5, 4, 6), (6,), 0.05, 0.03, 0.06, NONE),
        "add_const_first_relu.tflite": binary_constant(rng, "ADD", (1, 4, 4, 3), (1, 4, 1, 3), 0.04, 0.1, 0.08,
                                                       RELU, const_first=True),
        "mul_const_channels.tflite": binary_constant(rng, "MUL", (1, 5, 4, 6), (6,), 0.05, 0.02, 0.01, NONE),
        "mul_const_scalar.tflite": binary_constant(rng, "MUL", (1, 30), (1,), 0.05, 0.01, 0.004, RELU6),
        "tiny_mnv3.tflite": tiny_mnv3(rng),
    }


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fixtures" / "tflite"
    out.mkdir(parents=True, exist_ok=True)
    for name, data in fixtures().items():
        (out / name).write_bytes(data)
    print(f"wrote {len(fixtures())} files to {out}")


if __name__ == "__main__":
    main()
