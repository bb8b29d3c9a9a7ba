"""Depthwise Conv2D, int8: the twin of firmware/kernels/mcugen_depthwise_conv_s8.c.

A conv whose groups equal its input channels; output channel oc reads input channel
oc / depth_multiplier only:
  acc[oy,ox,oc] = bias[oc] + sum_{ky,kx} (x[iy,ix,oc/m] - zp_in) * w[ky,kx,oc]
  y = clamp(zp_out + requantize(acc, multiplier[oc], shift[oc]), act_min, act_max)
Weights are stored [KH][KW][C_out] so the inner loop walks contiguous channels.

Weight-only mode (float32 activations; depthwise_conv_f32_w8 / _w4), as conv.py's:
  acc = 0.0f; for ky, kx (padding skipped): acc += x[iy,ix,oc/m] * (float)w[ky,kx,oc]
  y = clamp(acc * scale[oc] + bias[oc], act_min, act_max)
"""

from __future__ import annotations

import numpy as np

from mcugen.float32 import F32

from .base import KernelCall, Op, apply_float_activation, register, window_patches
from .conv import (
    conv_geometry,
    conv_shape_fields,
    f32_fields,
    f32_kernel,
    finish_f32,
    finish_int,
    quantize_weighted,
    quantize_weighted_f32,
    quantized_fields,
    weighted_kernel,
)


def depthwise(patches: np.ndarray, w_hwo: np.ndarray, multiplier: int, mul) -> np.ndarray:
    """patches [N,OH,OW,KH,KW,C], weights [KH,KW,C*m] → [N,OH,OW,C*m]."""
    expanded = np.repeat(patches, multiplier, axis=-1) if multiplier > 1 else patches
    return mul(expanded, w_hwo).sum(axis=(3, 4))


@register
class DepthwiseConv(Op):
    name = "depthwise_conv"
    fuses_activation = True

    def run_float(self, node, graph, xs):
        x, w = xs[0], xs[1]  # w is OHWI with I = 1
        geo = conv_geometry(node)
        patches = window_patches(x, w.shape[1:3], geo["strides"], geo["dilations"], geo["pads"], 0.0)
        y = depthwise(patches, w[..., 0].transpose(1, 2, 0), w.shape[0] // x.shape[3], np.multiply)
        if len(xs) > 2:
            y = y + xs[2]
        return apply_float_activation(node, y).astype(np.float32)

    def quantize(self, node, graph):
        quantize_weighted(node, graph)
        w = graph.tensors[node.q["weights"]]
        w.data = np.ascontiguousarray(w.data[..., 0].transpose(1, 2, 0))  # OHW1 → HWO
        w.shape = w.data.shape

    def run_int(self, node, graph, xs):
        w = graph.const(node.q["weights"])
        geo = conv_geometry(node)
        x = xs[0].astype(np.int64) + node.q["input_offset"]
        patches = window_patches(x, w.shape[0:2], geo["strides"], geo["dilations"], geo["pads"], 0)
        mult = w.shape[2] // x.shape[3]
        acc = depthwise(patches, w.astype(np.int64), mult, np.multiply)
        return finish_int(node, graph, acc)

    def kernel_calls(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        w = graph.tensors[node.q["weights"]]
        return [KernelCall(weighted_kernel(node, graph, "depthwise_conv"), dict(
            **conv_shape_fields(node, graph, w.shape[0:2]), depth_multiplier=y.shape[3] // x.shape[3],
            **quantized_fields(node.q)), [x.name, y.name])]

    weight_only = True

    def quantize_f32(self, node, graph):
        quantize_weighted_f32(node, graph)
        w = graph.tensors[node.q["weights"]]
        w.data = np.ascontiguousarray(w.data[..., 0].transpose(1, 2, 0))  # OHW1 → HWO
        w.shape = w.data.shape

    def run_f32(self, node, graph, xs):
        w = graph.const(node.q["weights"]).astype(F32)  # [KH, KW, C_out]
        geo = conv_geometry(node)
        x = xs[0].astype(F32, copy=False)
        patches = window_patches(x, w.shape[0:2], geo["strides"], geo["dilations"], geo["pads"], 0.0)
        mult = w.shape[2] // x.shape[3]
        if mult > 1:
            patches = np.repeat(patches, mult, axis=-1)
        acc = np.zeros(patches.shape[:3] + (w.shape[2],), dtype=F32)
        for ky in range(w.shape[0]):
            for kx in range(w.shape[1]):
                acc = acc + patches[:, :, :, ky, kx, :] * w[ky, kx]
        return finish_f32(node, graph, acc)

    def kernel_calls_f32(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        w = graph.tensors[node.q["weights"]]
        return [KernelCall(f32_kernel(node, "depthwise_conv"), dict(
            **conv_shape_fields(node, graph, w.shape[0:2]), depth_multiplier=y.shape[3] // x.shape[3],
            **f32_fields(node)), [x.name, y.name])]

    def macs(self, node, graph):
        w = graph.tensors[node.inputs[1]]
        y = graph.tensors[node.outputs[0]]
        return int(np.prod(y.shape[1:])) * int(w.shape[1] * w.shape[2])
