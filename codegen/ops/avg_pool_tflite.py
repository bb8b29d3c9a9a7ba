"""AveragePool with TensorFlow Lite's int8 arithmetic: the twin of
firmware/kernels/mcugen_avg_pool_tflite_s8.c. An imported .tflite model uses it; mcugen's own
quantization keeps `avg_pool` (ops/avg_pool.py: offsets and a rounded-once multiplier).

TFLite's reference int8 average pool requires equal input and output quantization and sums the
raw codes (no zero point) over the window's positions inside the input, n of them:
  y = clamp(sign(acc) * ((|acc| + n / 2) / n), act_min, act_max)   (C integer division)
which rounds acc / n half away from zero *in codes*: with a nonzero zero point that differs from
rounding (acc - n * zp) / n and adding zp, at the ties.
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError
from mcugen.ops.fixedpoint import rounding_divide

from .avg_pool import AvgPool, divisors
from .base import KernelCall, activation_bounds, register, window_patches
from .max_pool import pool_params


@register
class AvgPoolTflite(AvgPool):
    name = "avg_pool_tflite"
    weight_only = False

    def output_qparams(self, node, graph, lo, hi):
        x = graph.tensors[node.inputs[0]]
        return x.scale, x.zero_point

    def quantize(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        if (x.scale, x.zero_point) != (y.scale, y.zero_point):
            raise McugenError(f"average pool {node.name!r}: TFLite's int8 average pool needs equal input and output "
                              "quantization")
        if node.attrs.get("count_include_pad", False):
            raise McugenError(f"average pool {node.name!r}: TFLite's average pool never counts the padding")
        counts = divisors(node, graph)
        if int(counts.min()) < 1 or int(counts.max()) * 128 > 2**31 - 1:
            raise McugenError(f"average pool {node.name!r} has a window of {int(counts.max())} positions (or an "
                              "empty one); its int32 sum would not hold it")
        node.q["act_min"], node.q["act_max"] = activation_bounds(node, y.scale, y.zero_point)

    def run_int(self, node, graph, xs):
        a, q = node.attrs, node.q
        acc = window_patches(xs[0].astype(np.int64), a["kernel"], a["strides"], (1, 1), a["pads"], 0).sum(axis=(3, 4))
        y = rounding_divide(acc, divisors(node, graph)[None, :, :, None])
        return np.clip(y, q["act_min"], q["act_max"]).astype(np.int8)

    def kernel_calls(self, node, graph):
        params = pool_params(node, graph)
        params.update(act_min=node.q["act_min"], act_max=node.q["act_max"])
        return [KernelCall("avg_pool_tflite_s8", params, [node.inputs[0], node.outputs[0]])]
