"""Resize (and Upsample) over H and W, int8: the twins of firmware/kernels/mcugen_resize_nearest_s8.c
and mcugen_resize_bilinear_s8.c.

Each output coordinate o of an axis (input size n, output size m, scale s: the `scales` value, or
m / n when `sizes` is given) maps to a source coordinate, computed in float32 as ONNX Runtime does:
  half_pixel (o + 0.5) / s - 0.5;  pytorch_half_pixel the same, or 0 when m = 1;
  align_corners o * (n - 1) / (m - 1), or 0 when m = 1;  asymmetric o / s.
Nearest: the index is ceil(x - 0.5) (round_prefer_floor), floor(x + 0.5) (round_prefer_ceil), floor(x)
or ceil(x), clamped to [0, n - 1]; the output copies that input pixel (same scale and zero point).
Linear: x is clamped to [0, n - 1] (ONNX's edge padding gives the same values), i0 = floor(x),
i1 = min(i0 + 1, n - 1), and the weight of i1 is w1 = floor((x - i0) * 2^11 + 0.5), that of i0 is
2^11 - w1: fractions of 1/2048, fixed at compile time. The int8 output keeps the input's scale and
zero point (a convex combination stays in the input's range), and with one rounding
  y = floor((wy0 * (wx0 * (a + 128) + wx1 * (b + 128)) + wy1 * (wx0 * (c + 128) + wx1 * (d + 128))
             + 2^21) / 2^22) - 128
where a, b (row i0) and c, d (row i1) are the four neighbours' codes. The weights of an output sum
to 2^22 exactly, so the zero point passes through unchanged, and the +128 keeps every sum
non-negative (at most 255 * 2^22 < 2^30, int32). The float reference interpolates with the exact
fractions (x - i0), so the int8 result differs from it by the weights' rounding (at most 2^-12 of
the neighbours' difference per axis) plus the final half step.
"""

from __future__ import annotations

import numpy as np

from .base import ConstRef, KernelCall, Op, register

FRACTION_BITS = 11
ONE = 1 << FRACTION_BITS
F32 = np.float32


def source_coordinates(m: int, n: int, scale: float, mode: str) -> np.ndarray:
    """The float32 source coordinate of each of the m outputs of an axis of n inputs."""
    o = np.arange(m, dtype=F32)
    s = F32(scale)
    half = F32(0.5)
    if mode in ("half_pixel", "pytorch_half_pixel"):
        x = (o + half) / s - half
        if mode == "pytorch_half_pixel" and m == 1:
            x = np.zeros(1, F32)
    elif mode == "align_corners":
        x = o * F32(n - 1) / F32(m - 1) if m > 1 else np.zeros(1, F32)
    elif mode == "asymmetric":
        x = o / s
    else:  # the reader refuses every other mode by name
        raise ValueError(mode)
    return x.astype(F32)


def nearest_indices(m: int, n: int, scale: float, mode: str, rounding: str) -> np.ndarray:
    x = source_coordinates(m, n, scale, mode).astype(np.float64)
    index = {"round_prefer_floor": np.ceil(x - 0.5), "round_prefer_ceil": np.floor(x + 0.5),
             "floor": np.floor(x), "ceil": np.ceil(x)}[rounding]
    return np.clip(index, 0, n - 1).astype(np.int64)


def linear_taps(m: int, n: int, scale: float, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, exact fraction of i1) per output of an axis."""
    x = np.clip(source_coordinates(m, n, scale, mode).astype(np.float64), 0, n - 1)
    i0 = np.floor(x).astype(np.int64)
    return i0, np.minimum(i0 + 1, n - 1), x - i0


def fixed_weights(fraction: np.ndarray) -> np.ndarray:
    """The weight of i1 in 1/2048ths: floor(fraction * 2048 + 0.5)."""
    return np.floor(fraction * ONE + 0.5).astype(np.int64)


NEAREST_TABLES = ("rows", "cols")
LINEAR_TABLES = ("row0", "row1", "row_weight", "col0", "col1", "col_weight")


def _tables(node) -> tuple[str, ...]:
    return NEAREST_TABLES if node.attrs["mode"] == "nearest" else LINEAR_TABLES


def _axes(node, graph):
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    a = node.attrs
    return [(y.shape[1 + i], x.shape[1 + i], a["scales"][i]) for i in range(2)]  # NHWC: H, W


@register
class Resize(Op):
    name = "resize"

    def run_float(self, node, graph, xs):
        a = node.attrs
        (mh, nh, sh), (mw, nw, sw) = _axes(node, graph)
        x = xs[0]
        if a["mode"] == "nearest":
            rows = nearest_indices(mh, nh, sh, a["coordinate_mode"], a["nearest_mode"])
            cols = nearest_indices(mw, nw, sw, a["coordinate_mode"], a["nearest_mode"])
            return x[:, rows][:, :, cols]
        r0, r1, fy = linear_taps(mh, nh, sh, a["coordinate_mode"])
        c0, c1, fx = linear_taps(mw, nw, sw, a["coordinate_mode"])
        x = x.astype(np.float64)
        fx = fx[None, None, :, None]
        top = x[:, r0][:, :, c0] * (1 - fx) + x[:, r0][:, :, c1] * fx
        bottom = x[:, r1][:, :, c0] * (1 - fx) + x[:, r1][:, :, c1] * fx
        fy = fy[None, :, None, None]
        return (top * (1 - fy) + bottom * fy).astype(np.float32)

    def output_qparams(self, node, graph, lo, hi):
        x = graph.tensors[node.inputs[0]]
        return x.scale, x.zero_point

    def quantize(self, node, graph):
        a = node.attrs
        (mh, nh, sh), (mw, nw, sw) = _axes(node, graph)
        if a["mode"] == "nearest":
            tables = dict(rows=nearest_indices(mh, nh, sh, a["coordinate_mode"], a["nearest_mode"]),
                          cols=nearest_indices(mw, nw, sw, a["coordinate_mode"], a["nearest_mode"]))
        else:
            r0, r1, fy = linear_taps(mh, nh, sh, a["coordinate_mode"])
            c0, c1, fx = linear_taps(mw, nw, sw, a["coordinate_mode"])
            tables = dict(row0=r0, row1=r1, row_weight=fixed_weights(fy),
                          col0=c0, col1=c1, col_weight=fixed_weights(fx))
        for key, values in tables.items():
            node.q[key] = graph.add_constant(f"{node.name}_{key}", values.astype(np.int16)).name

    def run_int(self, node, graph, xs):
        q = node.q
        t = {k: graph.const(q[k]).astype(np.int64) for k in _tables(node)}
        x = xs[0]
        if node.attrs["mode"] == "nearest":
            return x[:, t["rows"]][:, :, t["cols"]]
        v = x.astype(np.int64) + 128
        wx1 = t["col_weight"][None, None, :, None]
        wx0 = ONE - wx1
        wy1 = t["row_weight"][None, :, None, None]
        wy0 = ONE - wy1
        top = wx0 * v[:, t["row0"]][:, :, t["col0"]] + wx1 * v[:, t["row0"]][:, :, t["col1"]]
        bottom = wx0 * v[:, t["row1"]][:, :, t["col0"]] + wx1 * v[:, t["row1"]][:, :, t["col1"]]
        acc = wy0 * top + wy1 * bottom
        shift = 2 * FRACTION_BITS
        return (((acc + (1 << (shift - 1))) >> shift) - 128).astype(np.int8)

    def kernel_calls(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        shape = dict(input_w=x.shape[2], channels=x.shape[3], output_h=y.shape[1], output_w=y.shape[2])
        tables = {k: ConstRef(node.q[k]) for k in _tables(node)}
        kernel = "resize_nearest_s8" if node.attrs["mode"] == "nearest" else "resize_bilinear_s8"
        return [KernelCall(kernel, dict(**shape, **tables), [x.name, y.name])]
