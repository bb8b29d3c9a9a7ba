"""MatMul of two activations (batched, broadcast over the leading axes), int8: the twin of
firmware/kernels/mcugen_matmul_s8.c; TFLite's int8 BATCH_MATMUL arithmetic.

For every batch index (the leading axes, a size-1 axis broadcast) and every output (m, n):
  acc = sum over k = 0..K-1 of (a[m, k] - zp_a) * (b[k, n] - zp_b)          (int32)
  y = clamp(zp_out + requantize(acc, m_out, e_out), act_min, act_max),  m_out * 2**(e_out - 31) = s_a * s_b / s_out
|acc| <= K * 255 * 255 stays inside int32 for K <= 33025; a longer K is refused.
Both operands are row-major in their logical (ONNX) axes: the layout pass leaves NHWC around it.
A MatMul with a constant 2-D right-hand side is a fully connected layer instead (ops/fully_connected.py);
a constant stack of matrices (rank 3 or more) is quantized per tensor, like a binary operator's constant.
Weight-only mode (float32, matmul_f32): acc = 0.0f, then acc += a[m, k] * b[k, n] for k = 0, 1, ...,
one rounding per multiply and per add, then the float clamp.
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError
from mcugen.ops.fixedpoint import quantize_multiplier, requantize
from mcugen.ops.float32 import F32, clamp_f32

from .add import quantize_binary_f32, quantize_constant_operands
from .base import KernelCall, Op, activation_bounds, apply_float_activation, rank4, register

MAX_DEPTH = (2**31 - 1) // (255 * 255)


def matmul_shapes(node, graph) -> dict:
    """Rank-4 shapes: batch strides (0 where an operand broadcasts), M, K, N."""
    a, b = (graph.tensors[n] for n in node.q.get("operands", node.inputs))
    y = graph.tensors[node.outputs[0]]
    da, db, dy = rank4(a.shape), rank4(b.shape), rank4(y.shape)
    m, k, n = dy[2], da[3], dy[3]
    def strides(d: list[int], size: int) -> list[int]:  # size: one matrix's elements
        return [d[1] * size if d[0] == dy[0] != 1 else 0, size if d[1] == dy[1] != 1 else 0]

    return dict(batch=dy[:2], strides_a=strides(da, m * k), strides_b=strides(db, k * n), rows=m, depth=k, cols=n)


def ordered_batch_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 a @ b over the last two axes, summed as the kernel sums (k = 0, 1, ...)."""
    a, b = a.astype(F32, copy=False), b.astype(F32, copy=False)
    acc = np.zeros(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]), F32)
    for k in range(a.shape[-1]):
        acc = acc + a[..., :, k:k + 1] * b[..., k:k + 1, :]
    return acc


@register
class MatMul(Op):
    name = "matmul"
    fuses_activation = True

    def run_float(self, node, graph, xs):
        return apply_float_activation(node, np.matmul(xs[0], xs[1])).astype(np.float32)

    def quantize(self, node, graph):
        operands = quantize_constant_operands(node, graph)  # a constant stack of matrices: per-tensor int8
        a, b = (graph.tensors[n] for n in operands)
        y = graph.tensors[node.outputs[0]]
        if a.shape[-1] > MAX_DEPTH:
            raise McugenError(f"MatMul {node.name!r} sums {a.shape[-1]} products per output; the int8 kernel's "
                              f"int32 sum holds at most {MAX_DEPTH}")
        m, e = quantize_multiplier(a.scale * b.scale / y.scale)
        act_min, act_max = activation_bounds(node, y.scale, y.zero_point)
        node.q.update(operands=operands, input_a_offset=-a.zero_point, input_b_offset=-b.zero_point,
                      output_multiplier=m, output_shift=e, output_offset=y.zero_point, act_min=act_min, act_max=act_max)

    def run_int(self, node, graph, xs):
        q = node.q
        acc = np.matmul(xs[0].astype(np.int64) + q["input_a_offset"], xs[1].astype(np.int64) + q["input_b_offset"])
        y = requantize(acc, q["output_multiplier"], q["output_shift"]) + q["output_offset"]
        return np.clip(y, q["act_min"], q["act_max"]).astype(np.int8)

    def kernel_calls(self, node, graph):
        params = matmul_shapes(node, graph)
        params.update({k: node.q[k] for k in ("input_a_offset", "input_b_offset", "output_multiplier",
                                              "output_shift", "output_offset", "act_min", "act_max")})
        return [KernelCall("matmul_s8", params, [*node.q["operands"], node.outputs[0]])]

    def macs(self, node, graph):
        p = matmul_shapes(node, graph)
        return int(p["batch"][0] * p["batch"][1] * p["rows"] * p["depth"] * p["cols"])

    weight_only = True

    def quantize_f32(self, node, graph):
        quantize_binary_f32(node, graph)

    def run_f32(self, node, graph, xs):
        return clamp_f32(ordered_batch_matmul(xs[0], xs[1]), node.q["act_min"], node.q["act_max"])

    def kernel_calls_f32(self, node, graph):
        params = matmul_shapes(node, graph)
        params.update(act_min=node.q["act_min"], act_max=node.q["act_max"])
        return [KernelCall("matmul_f32", params, [*node.q["operands"], node.outputs[0]])]
