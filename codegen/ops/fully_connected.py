"""Fully connected (Gemm / MatMul + Add), int8: the twin of firmware/kernels/mcugen_fully_connected_s8.c.

  acc[r,o] = bias[o] + sum_i (x[r,i] - zp_in) * w[o,i]
  y = clamp(zp_out + requantize(acc, multiplier[o], shift[o]), act_min, act_max)
Weights are [out][in], symmetric per output channel.

Weight-only mode (float32 activations; fully_connected_f32_w8 / _w4), as conv.py's:
  acc = 0.0f; for i = 0, 1, ...: acc += x[r,i] * (float)w[o,i]
  y = clamp(acc * scale[o] + bias[o], act_min, act_max)
"""

from __future__ import annotations

import numpy as np

from mcugen.float32 import F32, ordered_matmul

from .base import KernelCall, Op, apply_float_activation, batch_shape, exact_matmul, register
from .conv import (
    f32_fields,
    f32_kernel,
    finish_f32,
    finish_int,
    quantize_weighted,
    quantize_weighted_f32,
    quantized_fields,
    weighted_kernel,
)


@register
class FullyConnected(Op):
    name = "fully_connected"
    fuses_activation = True

    def run_float(self, node, graph, xs):
        x, w = xs[0], xs[1]
        y = x.reshape(-1, w.shape[1]) @ w.T
        if len(xs) > 2:
            y = y + xs[2]
        return apply_float_activation(node, y).reshape(batch_shape(node, graph, x)).astype(np.float32)

    def quantize(self, node, graph):
        quantize_weighted(node, graph)

    def run_int(self, node, graph, xs):
        w = graph.const(node.q["weights"])
        x = xs[0].astype(np.int64).reshape(-1, w.shape[1]) + node.q["input_offset"]
        y = finish_int(node, graph, exact_matmul(x, w.T))
        return y.reshape(batch_shape(node, graph, xs[0]))

    def kernel_calls(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        w = graph.tensors[node.q["weights"]]
        q = node.q
        return [KernelCall(weighted_kernel(node, graph, "fully_connected"), dict(
            rows=x.size // w.shape[1], input_size=w.shape[1], output_size=w.shape[0],
            **quantized_fields(q)), [x.name, y.name])]

    weight_only = True

    def quantize_f32(self, node, graph):
        quantize_weighted_f32(node, graph)

    def run_f32(self, node, graph, xs):
        w = graph.const(node.q["weights"]).astype(F32)
        x = xs[0].astype(F32, copy=False).reshape(-1, w.shape[1])
        y = finish_f32(node, graph, ordered_matmul(x, w.T))
        return y.reshape(batch_shape(node, graph, xs[0]))

    def kernel_calls_f32(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        w = graph.tensors[node.q["weights"]]
        return [KernelCall(f32_kernel(node, "fully_connected"), dict(
            rows=x.size // w.shape[1], input_size=w.shape[1], output_size=w.shape[0], **f32_fields(node)),
            [x.name, y.name])]

    def macs(self, node, graph):
        w = graph.tensors[node.inputs[1]]
        return graph.tensors[node.outputs[0]].size * int(w.shape[1])
