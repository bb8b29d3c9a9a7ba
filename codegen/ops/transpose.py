"""Transpose of up to four axes, int8: the twin of firmware/kernels/mcugen_transpose_s8.c.

  output[i0][i1][i2][i3] = input[...], the input index being the output index permuted by perm.
Scale and zero point pass through unchanged. Weight-only mode: transpose_f32, the same gather.
"""

from __future__ import annotations

import numpy as np

from .base import KernelCall, Op, rank4, register


def collapse(shape: tuple[int, ...], perm: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The same transpose over fewer axes: axes of size 1 dropped, and input axes that stay next to
    each other, in order, in the output merged into one (a rank-5 channel shuffle becomes rank 3)."""
    kept = [a for a in perm if shape[a] != 1] or [perm[-1]]
    groups: list[list[int]] = []
    for a in kept:
        if groups and a == groups[-1][-1] + 1:
            groups[-1].append(a)
        else:
            groups.append([a])
    order = sorted(range(len(groups)), key=lambda g: groups[g][0])  # the groups in input order
    new_shape = tuple(int(np.prod([shape[a] for a in groups[g]])) for g in order)
    return new_shape, tuple(order.index(g) for g in range(len(groups)))


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
        in_shape, perm = tuple(x.shape), tuple(node.attrs["perm"])
        if len(in_shape) > 4:
            in_shape, perm = collapse(in_shape, perm)
        out_shape = tuple(in_shape[p] for p in perm)
        pad = 4 - len(in_shape)
        perm = list(range(pad)) + [p + pad for p in perm]
        in_dims = rank4(in_shape)
        in_strides = [int(np.prod(in_dims[a + 1:])) for a in range(4)]
        return [KernelCall("transpose_s8", dict(
            dims=rank4(out_shape), strides=[in_strides[p] for p in perm]), [x.name, y.name])]

    weight_only = True

    def run_f32(self, node, graph, xs):
        return self.run_int(node, graph, xs)

    def kernel_calls_f32(self, node, graph):
        call = self.kernel_calls(node, graph)[0]
        call.kernel = "transpose_f32"
        return [call]
