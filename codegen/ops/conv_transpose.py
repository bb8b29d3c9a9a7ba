"""ConvTranspose 2-D (groups >= 1, depthwise included), int8: the twin of
firmware/kernels/mcugen_conv_transpose_s8.c.

ONNX defines it by scattering: every input pixel (iy, ix) adds x * w[ky, kx] to the output pixel
  oy = iy * stride_h - pad_top + ky * dilation_h,   ox = ix * stride_w - pad_left + kx * dilation_w.
The reader stores the weight as [out_c][in_c / group][kh][kw] (ONNX's [in_c][out_c / group][kh][kw]
regrouped, not flipped), and the layout pass makes it OHWI like Conv's. The integers are

  acc[oy,ox,oc] = bias[oc] + sum over (iy, ix, ky, kx, ic in the group of oc) with the relation above
                  of (x[iy,ix,ic] - zp_in) * w[oc,ky,kx,ic]
  y = clamp(zp_out + requantize(acc, multiplier[oc], shift[oc]), act_min, act_max)

with per-channel int8 weights and an int32 bias, exactly as Conv (quantize_weighted). An output
pixel sums at most kh * kw * in_c / group products, so Conv's accumulator bounds hold as they are.
This twin scatters (the definition); the C gathers (for each output pixel, the kernel taps whose
input position is a whole, in-range multiple of the stride): the same integer sum in another order,
so the two are equal bit for bit. Negative pads (an output_shape larger than the natural one) are
output pixels no input reaches: they hold the bias alone.
"""

from __future__ import annotations

import numpy as np

from .base import KernelCall, Op, apply_float_activation, register
from .conv import finish_int, quantize_weighted, quantized_fields


def scatter(x: np.ndarray, w: np.ndarray, node, out_hw: tuple[int, int], dtype) -> np.ndarray:
    """The ONNX definition: x [N,H,W,C] NHWC, w OHWI [O,KH,KW,C/group] → [N,OH,OW,O] (no bias)."""
    a = node.attrs
    n, h, wd, c = x.shape
    o, kh, kw, cg = w.shape
    groups = a["group"]
    og = o // groups
    (sh, sw), (dh, dw) = a["strides"], a["dilations"]
    top, left = a["pads"][0], a["pads"][1]
    oh, ow = out_hw
    # a buffer indexed by oy + pad_top (shifted when a pad is negative), cropped at the end
    off_h, off_w = max(0, -top), max(0, -left)
    bh = off_h + max((h - 1) * sh + (kh - 1) * dh + 1, top + oh)
    bw = off_w + max((wd - 1) * sw + (kw - 1) * dw + 1, left + ow)
    buf = np.zeros((n, bh, bw, o), dtype=dtype)
    for g in range(groups):
        xg = x[..., g * cg:(g + 1) * cg]
        for ky in range(kh):
            for kx in range(kw):
                contrib = np.einsum("nhwc,oc->nhwo", xg, w[g * og:(g + 1) * og, ky, kx, :])
                y0, x0 = off_h + ky * dh, off_w + kx * dw
                buf[:, y0:y0 + (h - 1) * sh + 1:sh, x0:x0 + (wd - 1) * sw + 1:sw, g * og:(g + 1) * og] += contrib
    return buf[:, off_h + top:off_h + top + oh, off_w + left:off_w + left + ow, :]


@register
class ConvTranspose(Op):
    name = "conv_transpose"
    fuses_activation = True

    def run_float(self, node, graph, xs):
        y_shape = graph.tensors[node.outputs[0]].shape
        y = scatter(xs[0].astype(np.float64), xs[1].astype(np.float64), node, y_shape[1:3], np.float64)
        if len(xs) > 2:
            y = y + xs[2]
        return apply_float_activation(node, y).astype(np.float32)

    def quantize(self, node, graph):
        quantize_weighted(node, graph)

    def run_int(self, node, graph, xs):
        w = graph.const(node.q["weights"]).astype(np.int64)
        x = xs[0].astype(np.int64) + node.q["input_offset"]
        y_shape = graph.tensors[node.outputs[0]].shape
        return finish_int(node, graph, scatter(x, w, node, y_shape[1:3], np.int64))

    def kernel_calls(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        w = graph.tensors[node.q["weights"]]
        a = node.attrs
        return [KernelCall("conv_transpose_s8", dict(
            input_h=x.shape[1], input_w=x.shape[2], input_c=x.shape[3],
            output_h=y.shape[1], output_w=y.shape[2], output_c=y.shape[3],
            kernel_h=w.shape[1], kernel_w=w.shape[2], stride_h=a["strides"][0], stride_w=a["strides"][1],
            dilation_h=a["dilations"][0], dilation_w=a["dilations"][1], pad_top=a["pads"][0],
            pad_left=a["pads"][1], groups=a["group"], **quantized_fields(node.q)),
            [node.inputs[0], node.outputs[0]])]

    def macs(self, node, graph):
        x, w = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        return int(np.prod(x.shape[1:3])) * int(np.prod(w.shape))  # every input pixel meets every weight
