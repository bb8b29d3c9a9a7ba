"""Requantize: one activation tensor moved to another integer type and scale, the seam between
8-bit and 16-bit layers. The twin of firmware/kernels/mcugen_requantize_s8_s16.c and
mcugen_requantize_s16_s8.c.

  y = clamp(zp_out + requantize(x - zp_in, multiplier, shift), type min, type max)
with multiplier * 2**(shift-31) = scale_in / scale_out. int16 tensors have zero point 0.
"""

from __future__ import annotations

import numpy as np

from mcugen.ops.fixedpoint import quantize_multiplier, requantize

from .base import INT_RANGES, KernelCall, Op, register

SHORT = {"int8": "s8", "int16": "s16"}


@register
class Requantize(Op):
    name = "requantize"

    def run_float(self, node, graph, xs):
        return xs[0]

    def quantize(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        multiplier, shift = quantize_multiplier(float(x.scale) / float(y.scale))
        node.q.update(input_offset=-x.zero_point, output_offset=y.zero_point, multiplier=multiplier, shift=shift)

    def run_int(self, node, graph, xs):
        q = node.q
        y_dtype = graph.tensors[node.outputs[0]].dtype
        y = requantize(xs[0].astype(np.int64) + q["input_offset"], q["multiplier"], q["shift"]) + q["output_offset"]
        return np.clip(y, *INT_RANGES[y_dtype]).astype(y_dtype)

    def kernel_calls(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        q = node.q
        return [KernelCall(f"requantize_{SHORT[x.dtype]}_{SHORT[y.dtype]}", dict(
            size=x.size, input_offset=q["input_offset"], output_offset=q["output_offset"],
            multiplier=q["multiplier"], shift=q["shift"]), [x.name, y.name])]
