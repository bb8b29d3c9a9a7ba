"""Softmax over the last axis with TensorFlow Lite's int8 arithmetic: the twin of
firmware/kernels/mcugen_softmax_tflite_s8.c. An imported .tflite model uses it; mcugen's own
quantization keeps `softmax` (ops/softmax.py, a rounded exp table), which computes other integers.

TFLite's reference int8 softmax (input scale s, beta b, output scale 1/256, zero point -128):
  compile time: M = min(b * s * 2**26, 2**31 - 1) = m * 2**(e - 31), e >= 0 (QuantizeMultiplier);
                diff_min = -floor(31 * 2**26 / 2**e)
  per row: d = x - max(x); for d >= diff_min:
    r = requantize(d, m, e) = SRDHM(d * 2**e, m)  (d * b * s with 5 integer bits)
    E = exp_on_negative_values(r)                 (0 integer bits, ops/gemmlowp.py)
  sum = sum of RoundingDivideByPOT(E, 12)         (12 integer bits)
  (R, n) = GetReciprocal(sum, 12)                 (1 / sum = R * 2**-n)
  y = clamp(RoundingDivideByPOT(SRDHM(R, E), n + 23) - 128, -128, 127), and -128 where d < diff_min.
Rows are at most 4095 long, so that the sum (each term at most 2**19) fits in int32.
"""

from __future__ import annotations

import math

import numpy as np

from mcugen.errors import McugenError
from mcugen.ops.fixedpoint import INT32_MAX, quantize_multiplier, requantize, rounding_divide_by_pot
from mcugen.ops.fixedpoint import saturating_rounding_doubling_high_mul as srdhm

from .base import KernelCall, Op, register
from .gemmlowp import exp_on_negative_values, reciprocal
from .softmax import Softmax

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12
MAX_DEPTH = 4095


def softmax_tflite_params(input_scale: float, beta: float) -> tuple[int, int, int]:
    """(input multiplier, left shift, diff_min) as TFLite's PreprocessSoftmaxScaling and
    CalculateInputRadius compute them, in double."""
    real = min(float(beta) * float(input_scale) * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), float(INT32_MAX))
    multiplier, shift = quantize_multiplier(real)
    if multiplier == 0 or shift < 0:
        raise McugenError(f"softmax input scale {input_scale:g} times beta {beta:g} is below 2**-27; TFLite's "
                          "int8 softmax cannot run it (every output would be equal)")
    radius = (1 << SCALED_DIFF_INTEGER_BITS) - 1
    radius = radius * (1 << (31 - SCALED_DIFF_INTEGER_BITS)) / (1 << shift)
    return multiplier, shift, -int(math.floor(radius))


@register
class SoftmaxTflite(Op):
    name = "softmax_tflite"

    def run_float(self, node, graph, xs):
        beta = node.attrs.get("beta", 1.0)
        return Softmax().run_float(node, graph, [xs[0].astype(np.float64) * beta])

    def output_qparams(self, node, graph, lo, hi):
        return 1.0 / 256, -128

    def quantize(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        if (y.scale, y.zero_point) != (1.0 / 256, -128):
            raise McugenError(f"softmax {node.name!r}: TFLite's int8 softmax writes scale 1/256, zero point -128, "
                              f"not {y.scale:g}, {y.zero_point}")
        if x.shape[-1] > MAX_DEPTH:
            raise McugenError(f"softmax {node.name!r} runs over {x.shape[-1]} elements; TFLite's int8 softmax "
                              f"sum holds at most {MAX_DEPTH} per row in int32")
        m, e, diff_min = softmax_tflite_params(x.scale, node.attrs.get("beta", 1.0))
        node.q.update(input_multiplier=m, input_left_shift=e, diff_min=diff_min)

    def run_int(self, node, graph, xs):
        q = node.q
        x = xs[0].astype(np.int64)
        d = x - x.max(axis=-1, keepdims=True)
        valid = d >= q["diff_min"]
        # MultiplyByQuantizedMultiplierGreaterThanOne: SRDHM(d * 2**e, m), the left shift never saturating
        scaled = requantize(np.where(valid, d, 0), q["input_multiplier"], q["input_left_shift"])
        e = exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS)
        total = np.where(valid, rounding_divide_by_pot(e, ACCUMULATION_INTEGER_BITS), 0).sum(
            axis=-1, keepdims=True)
        r, bits_over_unit = reciprocal(total, ACCUMULATION_INTEGER_BITS)
        y = rounding_divide_by_pot(srdhm(r, e), bits_over_unit + 31 - 8) - 128
        return np.where(valid, np.clip(y, -128, 127), -128).astype(np.int8)

    def kernel_calls(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        depth = x.shape[-1]
        q = node.q
        return [KernelCall("softmax_tflite_s8", dict(rows=x.size // depth, depth=depth,
                                                     input_multiplier=q["input_multiplier"],
                                                     input_left_shift=q["input_left_shift"],
                                                     diff_min=q["diff_min"]),
                           [x.name, node.outputs[0]])]
