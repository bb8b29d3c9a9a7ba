"""Depthwise Conv2D, int8: the twin of firmware/kernels/mcugen_depthwise_conv_s8.c.

A conv whose groups equal its input channels; output channel oc reads input channel
oc / depth_multiplier only:
  acc[oy,ox,oc] = bias[oc] + sum_{ky,kx} (x[iy,ix,oc/m] - zp_in) * w[ky,kx,oc]
  y = clamp(zp_out + requantize(acc, multiplier[oc], shift[oc]), act_min, act_max)
Weights are stored [KH][KW][C_out] so the inner loop walks contiguous channels.
A 3x3 layer with multiplier 1 (int8) runs depthwise_conv_3x3_s8 instead, which computes the same
integers as acc = folded_bias[oc] + sum over all 9 taps of x' * w, x' = x inside the image and
zp_in in the padding, folded_bias = bias - zp_in * sum of the 9 weights (`folded_bias_3x3`), with
its weights rearranged (`packed_weights_3x3`).

Weight-only mode (float32 activations; depthwise_conv_f32_w8 / _w4), as conv.py's:
  acc = 0.0f; for ky, kx (padding skipped): acc += x[iy,ix,oc/m] * (float)w[ky,kx,oc]
  y = clamp(acc * scale[oc] + bias[oc], act_min, act_max)
"""

from __future__ import annotations

import numpy as np

from mcugen.ir import Graph, Node
from mcugen.ops.float32 import F32

from .base import ConstRef, KernelCall, Op, apply_float_activation, register, window_patches
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
from .fully_connected import derived_constant


def depthwise(patches: np.ndarray, w_hwo: np.ndarray, multiplier: int, mul) -> np.ndarray:
    """patches [N,OH,OW,KH,KW,C], weights [KH,KW,C*m] → [N,OH,OW,C*m]."""
    expanded = np.repeat(patches, multiplier, axis=-1) if multiplier > 1 else patches
    return mul(expanded, w_hwo).sum(axis=(3, 4))


def packed_weights_3x3(w_hwc: np.ndarray) -> np.ndarray:
    """[3][3][C] int8 → the int32 words mcugen_depthwise_conv_3x3_s8 reads. Channels in groups of
    4; per group, per tap (ky, kx) in row-major order, two words of int16 halves (low half first):
    (w[c], w[c+2]) and (w[c+1], w[c+3]), the order SXTB16 / SXTB16 ROR 8 split an input word into.
    Then each of the last C % 4 channels: its 9 taps, one sign-extended weight per word."""
    taps = w_hwc.reshape(9, -1).astype(np.int64)  # [tap][C]
    groups = taps.shape[1] // 4
    g = taps[:, :4 * groups].reshape(9, groups, 4).transpose(1, 0, 2)  # [group][tap][4]
    even = (g[..., 0] & 0xFFFF) | ((g[..., 2] & 0xFFFF) << 16)
    odd = (g[..., 1] & 0xFFFF) | ((g[..., 3] & 0xFFFF) << 16)
    words = np.stack([even, odd], axis=-1).reshape(-1)  # [group][tap][even, odd]
    tail = taps[:, 4 * groups:].T.reshape(-1)  # [channel][tap]
    return np.concatenate([words, tail & 0xFFFFFFFF]).astype(np.uint32).view(np.int32)


def folded_bias_3x3(bias: np.ndarray, w_hwc: np.ndarray, input_offset: int) -> np.ndarray:
    """bias[c] + input_offset * (the sum of channel c's 9 weights): the kernel multiplies the raw
    input, and a tap in the padding multiplies the zero point, cancelling its share. Exact: the
    final sum is the spec's, and the bias clamp keeps every partial sum within int32."""
    folded = bias.astype(np.int64) + input_offset * w_hwc.astype(np.int64).reshape(9, -1).sum(axis=0)
    return folded.astype(np.int32)


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
        kernel = weighted_kernel(node, graph, "depthwise_conv")
        if kernel == "depthwise_conv_s8" and w.shape[0:2] == (3, 3) and y.shape[3] == x.shape[3]:
            return [self.call_3x3(node, graph)]
        return [KernelCall(kernel, dict(
            **conv_shape_fields(node, graph, w.shape[0:2]), depth_multiplier=y.shape[3] // x.shape[3],
            **quantized_fields(node.q)), [x.name, y.name])]

    def call_3x3(self, node: Node, graph: Graph) -> KernelCall:
        """depthwise_conv_3x3_s8: its weight layout and folded bias, derived once per layer."""
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        q, a = node.q, node.attrs
        w = graph.const(q["weights"])
        packed = derived_constant(graph, q["weights"], "packed3x3", lambda: packed_weights_3x3(w))
        folded = derived_constant(graph, q["bias"], "folded3x3", lambda: folded_bias_3x3(
            graph.const(q["bias"]), w, q["input_offset"]))
        return KernelCall("depthwise_conv_3x3_s8", dict(
            input_h=x.shape[1], input_w=x.shape[2], output_h=y.shape[1], output_w=y.shape[2], channels=y.shape[3],
            stride_h=a["strides"][0], stride_w=a["strides"][1], dilation_h=a["dilations"][0],
            dilation_w=a["dilations"][1], pad_top=a["pads"][0], pad_left=a["pads"][1],
            input_zero_point=-q["input_offset"], output_offset=q["output_offset"], act_min=q["act_min"],
            act_max=q["act_max"], weights=ConstRef(packed), bias=ConstRef(folded),
            multiplier=ConstRef(q["multiplier"]), shift=ConstRef(q["shift"])), [x.name, y.name])

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
