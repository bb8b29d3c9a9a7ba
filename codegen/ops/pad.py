"""Constant Pad of up to four axes, int8: the twin of firmware/kernels/mcugen_pad_s8.c.

The output keeps the input's scale and zero point; the pad value is quantized with them.
Weight-only mode (float32, pad_f32): the same copy with the float32 pad value.
"""

from __future__ import annotations

import numpy as np

from .base import KernelCall, Op, quantize_array, rank4, register


@register
class Pad(Op):
    name = "pad"

    def run_float(self, node, graph, xs):
        pads = node.attrs["pads"]  # [(before, after)] per axis
        return np.pad(xs[0], pads, constant_values=node.attrs.get("value", 0.0))

    def output_qparams(self, node, graph, lo, hi):
        x = graph.tensors[node.inputs[0]]
        return x.scale, x.zero_point

    def quantize(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        node.q["pad_value"] = int(quantize_array(np.array(node.attrs.get("value", 0.0)), x.scale, x.zero_point))

    def run_int(self, node, graph, xs):
        return np.pad(xs[0], node.attrs["pads"], constant_values=node.q["pad_value"])

    def kernel_calls(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        before = [0] * (4 - len(x.shape)) + [b for b, _ in node.attrs["pads"]]
        return [KernelCall("pad_s8", dict(input_dims=rank4(x.shape), output_dims=rank4(y.shape),
                                          before=before, pad_value=node.q["pad_value"]),
                           [x.name, y.name])]

    weight_only = True

    def quantize_f32(self, node, graph):
        node.q["pad_value"] = float(np.float32(node.attrs.get("value", 0.0)))

    def run_f32(self, node, graph, xs):
        return np.pad(xs[0].astype(np.float32, copy=False), node.attrs["pads"],
                      constant_values=np.float32(node.q["pad_value"]))

    def kernel_calls_f32(self, node, graph):
        call = self.kernel_calls(node, graph)[0]
        call.kernel = "pad_f32"
        return [call]
