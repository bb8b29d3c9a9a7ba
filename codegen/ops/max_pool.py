"""MaxPool, int8 or int16: the twin of firmware/kernels/mcugen_max_pool_{s8,s16}.c.

  y[oy,ox,c] = clamp(max over the window's valid positions of x[iy,ix,c], act_min, act_max)
The output keeps the input's type, scale and zero point, so no requantization is needed: a
16-bit layer's output is pooled as int16 (quantize.py lets max_pool follow its input's type).
With dilations the window's taps are dilations apart (the max_pool_dilated_{s8,s16,f32} variants).
Weight-only mode (float32, max_pool_f32): the first valid position, replaced by every later one
that is greater (v > best), then the float clamp; `run_f32` walks the window in the same order.
"""

from __future__ import annotations

import numpy as np

from mcugen.ops.float32 import F32, clamp_f32, float_bounds

from .base import INT_RANGES, KernelCall, Op, activation_bounds, apply_float_activation, register, window_patches


def pool_params(node, graph) -> dict:
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    a = node.attrs
    dilated = {} if not dilated_pool(node) else dict(dilation_h=a["dilations"][0], dilation_w=a["dilations"][1])
    return dict(input_h=x.shape[1], input_w=x.shape[2], channels=x.shape[3],
                output_h=y.shape[1], output_w=y.shape[2],
                kernel_h=a["kernel"][0], kernel_w=a["kernel"][1],
                stride_h=a["strides"][0], stride_w=a["strides"][1], **dilated,
                pad_top=a["pads"][0], pad_left=a["pads"][1])


def dilated_pool(node) -> bool:
    """A max pool with dilations runs the _dilated kernel variant (the others keep their kernel)."""
    return tuple(node.attrs.get("dilations", (1, 1))) != (1, 1)


def kernel_name(node, dtype: str) -> str:
    return f"max_pool{'_dilated' if dilated_pool(node) else ''}_{dtype}"


@register
class MaxPool(Op):
    name = "max_pool"
    fuses_activation = True

    def run_float(self, node, graph, xs):
        a = node.attrs
        p = window_patches(xs[0], a["kernel"], a["strides"], a.get("dilations", (1, 1)), a["pads"], -np.inf)
        return apply_float_activation(node, p.max(axis=(3, 4))).astype(np.float32)

    def output_qparams(self, node, graph, lo, hi):
        x = graph.tensors[node.inputs[0]]
        return x.scale, x.zero_point

    def quantize(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        if y.dtype == "int16":  # quantize() gave every int16 tensor a scale from its own range
            y.scale, y.zero_point = x.scale, x.zero_point
        node.q["act_min"], node.q["act_max"] = activation_bounds(node, y.scale, y.zero_point, y.dtype)

    def run_int(self, node, graph, xs):
        a = node.attrs
        dtype = graph.tensors[node.outputs[0]].dtype
        p = window_patches(xs[0].astype(np.int64), a["kernel"], a["strides"], a.get("dilations", (1, 1)), a["pads"],
                           INT_RANGES[dtype][0])
        return np.clip(p.max(axis=(3, 4)), node.q["act_min"], node.q["act_max"]).astype(dtype)

    def kernel_calls(self, node, graph):
        params = pool_params(node, graph)
        params.update(act_min=node.q["act_min"], act_max=node.q["act_max"])
        kernel = kernel_name(node, "s16" if graph.tensors[node.outputs[0]].dtype == "int16" else "s8")
        return [KernelCall(kernel, params, [node.inputs[0], node.outputs[0]])]

    weight_only = True

    def quantize_f32(self, node, graph):
        node.q["act_min"], node.q["act_max"] = float_bounds(node.attrs)

    def run_f32(self, node, graph, xs):
        a = node.attrs
        x = xs[0].astype(F32, copy=False)
        dilations = a.get("dilations", (1, 1))
        p = window_patches(x, a["kernel"], a["strides"], dilations, a["pads"], 0.0)
        valid = window_patches(np.ones((1,) + x.shape[1:3] + (1,), bool), a["kernel"], a["strides"], dilations,
                               a["pads"], False)
        best = np.zeros(p.shape[:3] + p.shape[5:], F32)
        seen = np.zeros(best.shape, bool)
        for ky in range(p.shape[3]):
            for kx in range(p.shape[4]):
                v, ok = p[:, :, :, ky, kx, :], valid[:, :, :, ky, kx, :]
                take = ok & (~seen | (v > best))
                best = np.where(take, v, best)
                seen = seen | ok
        return clamp_f32(best, node.q["act_min"], node.q["act_max"])

    def kernel_calls_f32(self, node, graph):
        params = pool_params(node, graph)
        params.update(act_min=node.q["act_min"], act_max=node.q["act_max"])
        return [KernelCall(kernel_name(node, "f32"), params, [node.inputs[0], node.outputs[0]])]
