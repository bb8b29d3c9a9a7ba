"""Transpose of up to four axes, int8: the twin of firmware/kernels/mcugen_transpose_s8.c.

  output[i0][i1][i2][i3] = input[...], the input index being the output index permuted by perm.
Scale and zero point pass through unchanged. Weight-only mode: transpose_f32, the same gather.
"""

from __future__ import annotations

import numpy as np

from .base import KernelCall, Op, rank4, register


@register
class Transpose(Op):
    name = "transpose"

    def run_float(self, node, graph, xs):
        return np.ascontiguousarray(xs[0].transpose(node.attrs["perm"]))

    def output_qparams(self, node, graph, lo, hi):
        x = graph.tensors[node.inputs[0]]
        return x.scale, x.zero_point

    def run_int(self, node, graph, xs):
        return np.ascontiguousarray(xs[0].transpose(node.attrs["perm"]))

    def kernel_calls(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        pad = 4 - len(x.shape)
        perm = list(range(pad)) + [p + pad for p in node.attrs["perm"]]
        in_dims = rank4(x.shape)
        in_strides = [int(np.prod(in_dims[a + 1:])) for a in range(4)]
        return [KernelCall("transpose_s8", dict(
            dims=rank4(y.shape), strides=[in_strides[p] for p in perm]), [x.name, y.name])]

    weight_only = True

    def run_f32(self, node, graph, xs):
        return self.run_int(node, graph, xs)

    def kernel_calls_f32(self, node, graph):
        call = self.kernel_calls(node, graph)[0]
        call.kernel = "transpose_f32"
        return [call]
