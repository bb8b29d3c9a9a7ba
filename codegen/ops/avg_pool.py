"""AveragePool and GlobalAveragePool, int8: the twin of firmware/kernels/mcugen_avg_pool_s8.c.

  acc = sum over the window's valid positions of (x - zp_in)
  y = clamp(zp_out + requantize(acc, m[n], e[n]), act_min, act_max),  m[n] ~ s_in / (s_out * n)
where n is the divisor: the full window size (count_include_pad) or the number of valid positions.
Dividing inside the requantization rounds once, not twice. When the divisor varies over the
output (padding without count_include_pad) the multipliers form a table indexed by n.
"""

from __future__ import annotations

import numpy as np

from mcugen.fixedpoint import quantize_multiplier, requantize

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
        per_count = bool(counts.min() != counts.max())
        table_size = int(counts.max()) + 1 if per_count else 1
        pairs = [quantize_multiplier(x.scale / (y.scale * max(n if per_count else counts.max(), 1)))
                 for n in range(table_size)]
        node.q.update(
            per_count=per_count,
            multiplier=graph.add_constant(f"{node.name}_multiplier",
                                          np.array([m for m, _ in pairs], dtype=np.int32)).name,
            shift=graph.add_constant(f"{node.name}_shift", np.array([s for _, s in pairs], dtype=np.int32)).name,
            input_offset=-x.zero_point, output_offset=y.zero_point,
        )
        node.q["act_min"], node.q["act_max"] = activation_bounds(node, y.scale, y.zero_point)

    def run_int(self, node, graph, xs):
        a, q = node.attrs, node.q
        x = xs[0].astype(np.int64) + q["input_offset"]
        acc = window_patches(x, a["kernel"], a["strides"], (1, 1), a["pads"], 0).sum(axis=(3, 4))
        index = divisors(node, graph)[None, :, :, None] if q["per_count"] else 0
        mult, shift = graph.const(q["multiplier"])[index], graph.const(q["shift"])[index]
        y = requantize(acc, mult, shift) + q["output_offset"]
        return np.clip(y, q["act_min"], q["act_max"]).astype(np.int8)

    def kernel_calls(self, node, graph):
        q = node.q
        params = pool_params(node, graph)
        params.update(count_include_pad=int(node.attrs.get("count_include_pad", False)),
                      per_count=int(q["per_count"]), input_offset=q["input_offset"],
                      output_offset=q["output_offset"], act_min=q["act_min"], act_max=q["act_max"],
                      multiplier=ConstRef(q["multiplier"]), shift=ConstRef(q["shift"]))
        return [KernelCall("avg_pool_s8", params, [node.inputs[0], node.outputs[0]])]
