"""Softmax over the last axis, int8: the twin of firmware/kernels/mcugen_softmax_s8.c.

For each row, with d = max(x) - x in [0, 255]:
  e = table[d] = round(32768 * exp(-s_in * d)), or 0 past the table's end
  y = min(127, (256 * e + sum(e) / 2) / sum(e) - 128)   (integer division)
The row's maximum weighs 32768, so the table is uint16, and it stops where its values round to 0:
flash is 2 bytes per entry that matters, not 4 x 256. The output quantization is fixed to scale
1/256, zero point -128, the TFLite convention.

Weight-only mode (float32, softmax_f32), per row:
  m = x[0], then m = x[i] wherever x[i] > m;  e[i] = exp_f32(x[i] - m)  (codegen/ops/float32.py)
  s = 0.0f; s += e[i] for i = 0, 1, ...;      y[i] = e[i] / s
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError
from mcugen.ops.float32 import F32, exp_f32

from .base import ConstRef, KernelCall, Op, register

ONE = 1 << 15  # exp(0); fits uint16


@register
class Softmax(Op):
    name = "softmax"

    def run_float(self, node, graph, xs):
        x = xs[0].astype(np.float64)
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)

    def output_qparams(self, node, graph, lo, hi):
        return 1.0 / 256, -128

    def quantize(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        if x.shape[-1] * ONE > 2**31 - 1:  # the kernel's int32 row sum of e <= 32768 per element
            raise McugenError(f"softmax {node.name!r} runs over {x.shape[-1]} elements; the int8 kernel's "
                              "sum holds at most 65535 per row, so reshape the input into shorter rows")
        table = np.round(ONE * np.exp(-x.scale * np.arange(256, dtype=np.float64))).astype(np.uint16)
        used = int(np.count_nonzero(table))  # exp decreases: the zeros are all at the end
        node.q["table"] = graph.add_constant(f"{node.name}_exp", table[:used]).name

    def run_int(self, node, graph, xs):
        x = xs[0].astype(np.int64)
        table = np.zeros(256, np.int64)
        used = graph.const(node.q["table"])
        table[:len(used)] = used
        e = table[x.max(axis=-1, keepdims=True) - x]
        total = e.sum(axis=-1, keepdims=True)
        return np.minimum((256 * e + total // 2) // total - 128, 127).astype(np.int8)

    def kernel_calls(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        depth = x.shape[-1]
        return [KernelCall("softmax_s8", dict(rows=x.size // depth, depth=depth,
                                              table_size=graph.tensors[node.q["table"]].size,
                                              exp_table=ConstRef(node.q["table"])),
                           [x.name, node.outputs[0]])]

    weight_only = True

    def run_f32(self, node, graph, xs):
        x = xs[0].astype(F32, copy=False)
        m = x[..., 0]
        for i in range(1, x.shape[-1]):
            m = np.where(x[..., i] > m, x[..., i], m)
        e = exp_f32(x - m[..., None])
        s = np.zeros(m.shape, F32)
        for i in range(x.shape[-1]):
            s = s + e[..., i]
        return e / s[..., None]

    def kernel_calls_f32(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        depth = x.shape[-1]
        return [KernelCall("softmax_f32", dict(rows=x.size // depth, depth=depth), [x.name, node.outputs[0]])]
