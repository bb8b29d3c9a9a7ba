"""AveragePool and GlobalAveragePool, int8: the twin of firmware/kernels/mcugen_avg_pool_s8.c.

  acc = sum over the window's valid positions of (x - zp_in)
  y = clamp(zp_out + requantize_round_once(acc, m[n], e[n]), act_min, act_max),  m[n] ~ s_in / (s_out * n)
where n is the divisor: the full window size (count_include_pad) or the number of valid positions.
The divide lives in the multiplier and is rounded once (requantize() would round twice), so equal
scales give round(acc / n) exactly. When the divisor varies over the output (padding without
count_include_pad) the multipliers form a table indexed by n.

Weight-only mode (float32, avg_pool_f32): acc = 0.0f; acc += x over the valid positions (row by
row); y = clamp(acc / (float)n, act_min, act_max). The numpy twin adds the padding's zeros
instead of skipping them: acc starts at +0 and is never -0, so adding +0 changes nothing.
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError
from mcugen.ops.fixedpoint import quantize_multiplier, requantize_round_once
from mcugen.ops.float32 import F32, clamp_f32, float_bounds

from .base import (
    ConstRef,
    KernelCall,
    Op,
    activation_bounds,
    apply_float_activation,
    register,
    valid_counts,
    window_patches,
)
from .max_pool import pool_params


def divisors(node, graph) -> np.ndarray:
    """The divisor of every output pixel, [OH, OW]."""
    a = node.attrs
    x = graph.tensors[node.inputs[0]]
    counts = valid_counts(x.shape[1:3], a["kernel"], a["strides"], a["pads"])
    if a.get("count_include_pad", False):
        counts = np.full_like(counts, a["kernel"][0] * a["kernel"][1])
    return counts


@register
class AvgPool(Op):
    name = "avg_pool"
    fuses_activation = True

    def run_float(self, node, graph, xs):
        a = node.attrs
        p = window_patches(xs[0].astype(np.float64), a["kernel"], a["strides"], (1, 1), a["pads"], 0.0)
        y = p.sum(axis=(3, 4)) / divisors(node, graph)[None, :, :, None]
        return apply_float_activation(node, y).astype(np.float32)

    def quantize(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        counts = divisors(node, graph)
        if int(counts.max()) * 255 > 2**31 - 1:  # int32 acc of |x - zp| <= 255; acc * m must stay < 2**62
            raise McugenError(f"average pool {node.name!r} sums {int(counts.max())} values per output; the "
                              "int8 kernel's accumulator holds at most 8421504, so pool in smaller windows")
        per_count = bool(counts.min() != counts.max())
        table_size = int(counts.max()) + 1 if per_count else 1
        pairs = [quantize_multiplier(x.scale / (y.scale * max(n if per_count else counts.max(), 1)))
                 for n in range(table_size)]
        node.q.update(
            per_count=per_count,
            multiplier=graph.add_constant(f"{node.name}_multiplier",
                                          np.array([m for m, _ in pairs], dtype=np.int32)).name,
            shift=graph.add_constant(f"{node.name}_shift", np.array([s for _, s in pairs], dtype=np.int8)).name,
            input_offset=-x.zero_point, output_offset=y.zero_point,
        )
        node.q["act_min"], node.q["act_max"] = activation_bounds(node, y.scale, y.zero_point)

    def run_int(self, node, graph, xs):
        a, q = node.attrs, node.q
        x = xs[0].astype(np.int64) + q["input_offset"]
        acc = window_patches(x, a["kernel"], a["strides"], (1, 1), a["pads"], 0).sum(axis=(3, 4))
        index = divisors(node, graph)[None, :, :, None] if q["per_count"] else 0
        mult, shift = graph.const(q["multiplier"])[index], graph.const(q["shift"])[index]
        y = requantize_round_once(acc, mult, shift) + q["output_offset"]
        return np.clip(y, q["act_min"], q["act_max"]).astype(np.int8)

    def kernel_calls(self, node, graph):
        q = node.q
        params = pool_params(node, graph)
        params.update(count_include_pad=int(node.attrs.get("count_include_pad", False)),
                      per_count=int(q["per_count"]), input_offset=q["input_offset"],
                      output_offset=q["output_offset"], act_min=q["act_min"], act_max=q["act_max"],
                      multiplier=ConstRef(q["multiplier"]), shift=ConstRef(q["shift"]))
        return [KernelCall("avg_pool_s8", params, [node.inputs[0], node.outputs[0]])]

    weight_only = True

    def quantize_f32(self, node, graph):
        node.q["act_min"], node.q["act_max"] = float_bounds(node.attrs)

    def run_f32(self, node, graph, xs):
        a = node.attrs
        p = window_patches(xs[0].astype(F32, copy=False), a["kernel"], a["strides"], (1, 1), a["pads"], 0.0)
        acc = np.zeros(p.shape[:3] + p.shape[5:], F32)
        for ky in range(p.shape[3]):
            for kx in range(p.shape[4]):
                acc = acc + p[:, :, :, ky, kx, :]
        y = acc / divisors(node, graph).astype(F32)[None, :, :, None]
        return clamp_f32(y, node.q["act_min"], node.q["act_max"])

    def kernel_calls_f32(self, node, graph):
        params = pool_params(node, graph)
        params.update(count_include_pad=int(node.attrs.get("count_include_pad", False)),
                      act_min=node.q["act_min"], act_max=node.q["act_max"])
        return [KernelCall("avg_pool_f32", params, [node.inputs[0], node.outputs[0]])]
