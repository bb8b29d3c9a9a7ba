"""LOGISTIC and TANH with TensorFlow Lite's int8 arithmetic, as 256-entry tables for mcugen_lut_s8.c.
An imported .tflite model uses them; mcugen's own `activation` tables round the real function instead.

TFLite's reference int8 kernels (input scale s, zero point z; 4 integer bits):
  compile time: s * 2**27 = m * 2**(e - 31), e >= 0;  radius = floor(15 * 2**27 / 2**e)
  d = x - z;  d <= -radius: -128;  d >= radius: 127;  else
    r = SRDHM(d * 2**e, m)                                     (d * s with 4 integer bits)
    logistic: y = clamp(RoundingDivideByPOT(gemmlowp::logistic(r), 23) - 128, -128, 127)   (1/256, -128)
    tanh:     y = clamp(RoundingDivideByPOT(gemmlowp::tanh(r), 24), -128, 127)             (1/128, 0)
(ops/gemmlowp.py). RELU / RELU6 / RELU_N1_TO_1 alone (relu_tflite) requantize and clamp:
    y = clamp(z_out + requantize(x - z, m, e), act_min, act_max),  m * 2**(e - 31) = s / s_out
with the clamp's codes as TFLite rounds them (attrs["act_codes"]); an int8 -> int8 QUANTIZE
(requantize_tflite, TFLite's Requantize) is the same table without a clamp. HARD_SWISH: see below.
Every input code has one output code, so the table is the arithmetic itself.
"""

from __future__ import annotations

import math

import numpy as np

from mcugen.errors import McugenError
from mcugen.ops.fixedpoint import quantize_multiplier, requantize, rounding_divide_by_pot

from .base import QMIN, ConstRef, KernelCall, Op, activation_bounds, apply_float_activation, register
from .gemmlowp import logistic, tanh

INPUT_INTEGER_BITS = 4
# op → (gemmlowp function, right shift to int8, output offset, the output quantization TFLite requires)
KINDS = {"logistic_tflite": (logistic, 23, -128, (1.0 / 256, -128)),
         "tanh_tflite": (tanh, 24, 0, (1.0 / 128, 0))}


def tflite_table(kind: str, scale: float, zero_point: int) -> np.ndarray:
    """The int8 output for each input code -128..127."""
    fn, right, offset, _ = KINDS[kind]
    multiplier, shift = quantize_multiplier(float(scale) * (1 << (31 - INPUT_INTEGER_BITS)))
    if multiplier == 0 or shift < 0:
        raise McugenError(f"an input scale of {scale:g} is too small for TFLite's int8 {kind.split('_')[0]}")
    radius = math.floor(((1 << INPUT_INTEGER_BITS) - 1) * (1 << (31 - INPUT_INTEGER_BITS)) / (1 << shift))
    d = np.arange(-128, 128, dtype=np.int64) - zero_point
    inside = np.clip(d, -radius + 1, radius - 1)  # the ends are decided below; keep d * 2**e in int32
    y = rounding_divide_by_pot(fn(requantize(inside, multiplier, shift), INPUT_INTEGER_BITS), right) + offset
    y = np.clip(y, -128, 127)
    return np.where(d <= -radius, -128, np.where(d >= radius, 127, y)).astype(np.int8)


class _TfliteLut(Op):
    def run_float(self, node, graph, xs):
        x = xs[0].astype(np.float64)
        return (1.0 / (1.0 + np.exp(-x)) if self.name == "logistic_tflite" else np.tanh(x)).astype(np.float32)

    def output_qparams(self, node, graph, lo, hi):
        return KINDS[self.name][3]

    def quantize(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        if (y.scale, y.zero_point) != KINDS[self.name][3]:
            raise McugenError(f"{node.name!r}: TFLite's int8 {self.name.split('_')[0]} writes scale "
                              f"{KINDS[self.name][3][0]:g}, zero point {KINDS[self.name][3][1]}")
        node.q["table"] = graph.add_constant(f"{node.name}_table", tflite_table(self.name, x.scale, x.zero_point)).name

    def run_int(self, node, graph, xs):
        return graph.const(node.q["table"])[xs[0].astype(np.int64) - QMIN]

    def kernel_calls(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        return [KernelCall("lut_s8", dict(size=x.size, table=ConstRef(node.q["table"])), [x.name, y.name])]

    def inplace_input(self, node, graph):
        return 0


@register
class LogisticTflite(_TfliteLut):
    name = "logistic_tflite"


@register
class TanhTflite(_TfliteLut):
    name = "tanh_tflite"


@register
class ReluTflite(_TfliteLut):
    name = "relu_tflite"

    def run_float(self, node, graph, xs):
        return apply_float_activation(node, xs[0].astype(np.float64)).astype(np.float32)

    def output_qparams(self, node, graph, lo, hi):
        return Op.output_qparams(self, node, graph, lo, hi)

    def quantize(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        multiplier, shift = quantize_multiplier(float(x.scale) / float(y.scale))
        codes = np.arange(-128, 128, dtype=np.int64)
        lo, hi = activation_bounds(node, y.scale, y.zero_point)
        table = np.clip(requantize(codes - x.zero_point, multiplier, shift) + y.zero_point, lo, hi).astype(np.int8)
        node.q["table"] = graph.add_constant(f"{node.name}_table", table).name


# --- HARD_SWISH ---------------------------------------------------------------------------------
# TFLite's reference int8 HardSwish (internal/reference/hard_swish.h, multipliers from activations.cc),
# int16 fixed point throughout, input (s, z), output (s_out, z_out):
#   compile time, in float32: hires = s / 128;  out_real = hires / s_out;  relu_real = hires / (3 / 32768)
#     each split by QuantizeMultiplier into (m32, e) and m32 cut to int16: m16 = (m32 + 2**15) >> 16
#     (32767 when m32 >= 2**31 - 1 - 2**15)
#   d = (x - z) * 128                                             (int16)
#   p = SRDHM16(d, m16_out)                                       (the input on the output scale, unshifted)
#   r = d; if e_relu > 0: r = sat16(r << (e_relu - 1));  r = SRDHM16(r, m16_relu)
#          if e_relu > 0: r = sat16(r << 1);  if e_relu < 0: r = RoundingDivideByPOT(r, -e_relu)
#   r = (r + 32768) >> 1                                          ([-1, 1] → [0, 1] in Q15)
#   y = clamp(RoundingDivideByPOT(DHM16(r, p), -e_out) + z_out, -128, 127)
# SRDHM16(a, b) = (a*b + (a*b >= 0 ? 2**14 : 1 - 2**14)) / 2**15 truncated (32767 for -32768 * -32768);
# DHM16 the same without the nudge, which TFLite uses on purpose (it cancels SRDHM16's bias).

def _sat16(v: int) -> int:
    return max(-32768, min(32767, v))


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def _srdhm16(a: int, b: int) -> int:
    if a == b == -32768:
        return 32767
    ab = a * b
    return _trunc_div(ab + ((1 << 14) if ab >= 0 else 1 - (1 << 14)), 1 << 15)


def _dhm16(a: int, b: int) -> int:
    if a == b == -32768:
        return 32767
    return _trunc_div(a * b, 1 << 15)


def _rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    return (x >> exponent) + ((x & mask) > (mask >> 1) + (x < 0))


def _multiplier16(real: np.float32) -> tuple[int, int]:
    m32, e = quantize_multiplier(float(real))
    return (32767 if m32 >= (1 << 31) - 1 - (1 << 15) else (m32 + (1 << 15)) >> 16), e


def hard_swish_table(scale: float, zero_point: int, out_scale: float, out_zero_point: int) -> np.ndarray:
    """The int8 output of TFLite's reference HardSwish for each input code -128..127."""
    hires = np.float32(1.0 / 128.0) * np.float32(scale)
    m_out, e_out = _multiplier16(np.float32(hires / np.float32(out_scale)))
    m_relu, e_relu = _multiplier16(np.float32(hires / (np.float32(3.0) / np.float32(32768.0))))
    if e_out > 0:
        raise McugenError(f"TFLite's int8 hard swish needs an output scale of at least the input's / 128 "
                          f"(input {scale:g}, output {out_scale:g})")
    table = []
    for code in range(-128, 128):
        d = (code - zero_point) * 128
        p = _srdhm16(d, m_out)
        r = d
        if e_relu > 0:
            r = _sat16(r * (1 << (e_relu - 1)))
        r = _srdhm16(r, m_relu)
        if e_relu > 0:
            r = _sat16(r * 2)
        elif e_relu < 0:
            r = _rdbpot(r, -e_relu)
        r = (r + (1 << 15)) >> 1
        y = _rdbpot(_dhm16(r, p), -e_out) + out_zero_point
        table.append(max(-128, min(127, y)))
    return np.array(table, dtype=np.int8)


@register
class HardSwishTflite(_TfliteLut):
    name = "hard_swish_tflite"

    def run_float(self, node, graph, xs):
        x = xs[0].astype(np.float64)
        return (x * np.clip(x + 3.0, 0.0, 6.0) / 6.0).astype(np.float32)

    def output_qparams(self, node, graph, lo, hi):
        return Op.output_qparams(self, node, graph, lo, hi)

    def quantize(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        table = hard_swish_table(x.scale, x.zero_point, y.scale, y.zero_point)
        node.q["table"] = graph.add_constant(f"{node.name}_table", table).name


@register
class RequantizeTflite(ReluTflite):
    """A QUANTIZE between two int8 tensors (TFLite's reference Requantize): the ReLU table without its
    clamp, y = clamp(z_out + requantize(x - z, m, e), -128, 127), m * 2**(e - 31) = s / s_out."""

    name = "requantize_tflite"

    def run_float(self, node, graph, xs):
        return xs[0]
