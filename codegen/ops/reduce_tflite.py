"""MEAN with TensorFlow Lite's int8 arithmetic: the twin of firmware/kernels/mcugen_reduce_mean_tflite_s8.c.
An imported .tflite model uses it; mcugen's own ReduceMean (ops/reduce.py) rounds acc / n once instead.

TFLite's int8 MEAN under its reference kernels (reduce.cc, QuantizedMeanOrSum of
internal/reference/reduce.h; measured against ai-edge-litert 2.3 BUILTIN_REF: this, and neither the
older integer_ops::Mean with its separate rounded division nor the float formula, matches every
element, equal scales and over H, W with keep_dims included), n the number of elements reduced:
  compile time: s_in / s_out = m0 * 2**(e0 - 31)            (QuantizeMultiplier, double precision)
                k = min(floor(log2 n), 32, 31 + e0)
                m = floor(m0 * 2**k / n),  e = e0 - k       (the 1/n folded in, truncated)
  acc = sum over the reduced elements of (x - zp_in)        (int32)
  y   = clamp(zp_out + requantize(acc, m, e), -128, 127)    (gemmlowp's double rounding)
The truncated reciprocal and the double rounding make ties and near-ties come out otherwise than
round(acc / n): with n = 5 and equal scales, acc = 7 gives 2.
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError
from mcugen.ops.fixedpoint import quantize_multiplier, requantize

from .base import KernelCall, batch_shape, register
from .reduce import Reduce, _batched_axes, reduced_count


def tflite_mean_multiplier(input_scale: float, output_scale: float, n: int) -> tuple[int, int]:
    """(m, e) of TFLite's QuantizedMeanOrSum: s_in / s_out's multiplier with 1/n folded in, truncated."""
    m0, e0 = quantize_multiplier(float(input_scale) / float(output_scale))
    k = max(min(int(n).bit_length() - 1, 32, 31 + e0), 0)
    return (m0 << k) // int(n), e0 - k


@register
class MeanTflite(Reduce):
    name = "mean_tflite"
    weight_only = False

    def quantize(self, node, graph):
        if node.attrs.get("fn") != "mean":
            raise McugenError(f"{node.name!r}: mean_tflite computes a mean only")
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        n = reduced_count(node, graph)
        if n * 255 > 2**31 - 1:
            raise McugenError(f"mean {node.name!r} sums {n} values per output; the int8 kernel's accumulator "
                              "holds at most 8421504")
        m, e = tflite_mean_multiplier(x.scale, y.scale, n)
        node.q.update(multiplier=m, shift=e, input_offset=-x.zero_point, output_offset=y.zero_point)

    def run_int(self, node, graph, xs):
        x = xs[0].astype(np.int64)
        q = node.q
        acc = (x + q["input_offset"]).sum(axis=_batched_axes(node))
        y = requantize(acc, q["multiplier"], q["shift"]) + q["output_offset"]
        return np.clip(y, -128, 127).reshape(batch_shape(node, graph, x)).astype(np.int8)

    def kernel_calls(self, node, graph):
        params = self._geometry(node, graph)
        q = node.q
        params.update(input_offset=q["input_offset"], output_offset=q["output_offset"],
                      multiplier=q["multiplier"], shift=q["shift"])
        return [KernelCall("reduce_mean_tflite_s8", params, [node.inputs[0], node.outputs[0]])]
