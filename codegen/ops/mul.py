"""Element-wise Mul with broadcasting, int8: the twin of firmware/kernels/mcugen_mul_s8.c.

  y = clamp(zp_out + requantize((x1 - zp1) * (x2 - zp2), m, e), act_min, act_max)
with m * 2**(e - 31) = s1 * s2 / s_out, as TFLite's int8 MUL (an imported .tflite model computes
s1 * s2 / s_out in float32 as TFLite's mul.cc does: attrs["float32_multiplier"]).
Weight-only mode (float32, mul_f32): y = clamp(x1 * x2, act_min, act_max), one rounding.
"""

from __future__ import annotations

import numpy as np

from mcugen.ops.fixedpoint import quantize_multiplier, requantize
from mcugen.ops.float32 import F32, clamp_f32

from .add import Add, binary_calls_f32, binary_shapes, quantize_constant_operands
from .base import KernelCall, Op, activation_bounds, apply_float_activation, register


@register
class Mul(Op):
    name = "mul"
    fuses_activation = True

    def run_float(self, node, graph, xs):
        return apply_float_activation(node, xs[0] * xs[1]).astype(np.float32)

    def quantize(self, node, graph):
        operands = quantize_constant_operands(node, graph)
        a, b = (graph.tensors[n] for n in operands)
        y = graph.tensors[node.outputs[0]]
        real = a.scale * b.scale / y.scale
        if node.attrs.get("float32_multiplier"):
            # TFLite's mul.cc computes s1 * s2 / s_out in float (then widens it): an imported model
            # rounds its multiplier from that float (M = 0.125 - 7e-9 in double is 0.125 in float,
            # and the two round a tie apart)
            real = float(np.float32(np.float32(a.scale) * np.float32(b.scale)) / np.float32(y.scale))
        m, e = quantize_multiplier(real)
        act_min, act_max = activation_bounds(node, y.scale, y.zero_point)
        node.q.update(operands=operands, input1_offset=-a.zero_point, input2_offset=-b.zero_point,
                      output_multiplier=m, output_shift=e, output_offset=y.zero_point,
                      act_min=act_min, act_max=act_max)

    def run_int(self, node, graph, xs):
        q = node.q
        prod = (xs[0].astype(np.int64) + q["input1_offset"]) * (xs[1].astype(np.int64) + q["input2_offset"])
        y = requantize(prod, q["output_multiplier"], q["output_shift"]) + q["output_offset"]
        return np.clip(y, q["act_min"], q["act_max"]).astype(np.int8)

    def kernel_calls(self, node, graph):
        q = node.q
        params = binary_shapes(node, graph)
        params.update({k: q[k] for k in ("input1_offset", "input2_offset", "output_multiplier",
                                         "output_shift", "output_offset", "act_min", "act_max")})
        return [KernelCall("mul_s8", params, [*q["operands"], node.outputs[0]])]

    inplace_input = Add.inplace_input

    weight_only = True
    quantize_f32 = Add.quantize_f32

    def run_f32(self, node, graph, xs):
        return clamp_f32(xs[0].astype(F32) * xs[1].astype(F32), node.q["act_min"], node.q["act_max"])

    def kernel_calls_f32(self, node, graph):
        return binary_calls_f32(node, graph, "mul_f32")
