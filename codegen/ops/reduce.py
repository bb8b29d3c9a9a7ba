"""ReduceMean, ReduceSum, ReduceMax and ReduceMin over any axes but the batch, int8: the twin of
firmware/kernels/mcugen_reduce_sum_s8.c, mcugen_reduce_max_s8.c and mcugen_reduce_min_s8.c.

The input is viewed as rank 4 (physical layout); the reduced axes are `axes` (physical, never 0).
With n the number of elements reduced into each output:
  sum / mean:  acc = sum over the reduced elements of (x - zp_in)            (int32, |acc| <= 255 n)
               y = clamp(zp_out + requantize_round_once(acc, m, e), -128, 127)
               m * 2**(e - 31) ~ s_in / s_out for sum, s_in / (s_out * n) for mean
  The mean's divide lives in the multiplier and the product is rounded once (half away from zero),
  as TFLite's integer Mean and mcugen's average pool do: equal scales give round(acc / n) exactly.
  max / min:   y = max (min) over the reduced elements of x; the output keeps the input's scale and zero
               point (the scale is positive, so the order of the codes is the order of the values).
(ReduceMean over the spatial axes of an image is imported as an average pool instead.)

Weight-only mode (float32, reduce_sum_f32 / reduce_max_f32 / reduce_min_f32), per output element, the reduced
elements visited in row-major order of the reduced axes:
  sum: acc = 0.0f; acc = acc + x;  mean: then acc / (float)n
  max: best = the first element, replaced by every later one that is greater (v > best)
  min: best = the first element, replaced by every later one that is smaller (v < best)
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError
from mcugen.ops.fixedpoint import quantize_multiplier, requantize_round_once
from mcugen.ops.float32 import F32

from .base import KernelCall, Op, batch_shape, rank4, register

FUNCTIONS = ("mean", "sum", "max", "min")
# the order statistics: their output is one of the inputs, codes and scale unchanged
SELECTING = ("max", "min")


def reduced_count(node, graph) -> int:
    """How many input elements make one output element."""
    x = graph.tensors[node.inputs[0]]
    return int(np.prod([x.shape[a] for a in node.attrs["axes"]], dtype=np.int64))


def _batched_axes(node) -> tuple[int, ...]:
    # axes index the physical shape, batch included; the stages' arrays carry a batch of any size there
    return tuple(node.attrs["axes"])


def _last_reduced(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """x with its reduced axes moved to one last axis, in row-major order of those axes: [..., n]."""
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = x.transpose(kept + list(axes))
    return moved.reshape(moved.shape[:len(kept)] + (-1,))


@register
class Reduce(Op):
    name = "reduce"

    def run_float(self, node, graph, xs):
        x = xs[0].astype(np.float64)
        fn = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min}[node.attrs["fn"]]
        return fn(x, axis=_batched_axes(node)).reshape(batch_shape(node, graph, x)).astype(np.float32)

    def output_qparams(self, node, graph, lo, hi):
        if node.attrs["fn"] in SELECTING:  # the maximum (minimum) is one of the inputs: same codes, same scale
            x = graph.tensors[node.inputs[0]]
            return x.scale, x.zero_point
        return super().output_qparams(node, graph, lo, hi)

    def quantize(self, node, graph):
        if node.attrs["fn"] in SELECTING:
            return
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        n = reduced_count(node, graph)
        if n * 255 > 2**31 - 1:  # |x - zp| <= 255 per element into an int32 accumulator
            raise McugenError(f"reduction {node.name!r} sums {n} values per output; the int8 kernel's "
                              "accumulator holds at most 8421504, so reduce in smaller steps")
        real = x.scale / (y.scale * (n if node.attrs["fn"] == "mean" else 1))
        m, e = quantize_multiplier(real)
        node.q.update(multiplier=m, shift=e, input_offset=-x.zero_point, output_offset=y.zero_point)

    def run_int(self, node, graph, xs):
        x = xs[0].astype(np.int64)
        shape = batch_shape(node, graph, x)
        if node.attrs["fn"] == "max":
            return x.max(axis=_batched_axes(node)).reshape(shape).astype(np.int8)
        if node.attrs["fn"] == "min":
            return x.min(axis=_batched_axes(node)).reshape(shape).astype(np.int8)
        q = node.q
        acc = (x + q["input_offset"]).sum(axis=_batched_axes(node))
        y = requantize_round_once(acc, q["multiplier"], q["shift"]) + q["output_offset"]
        return np.clip(y, -128, 127).reshape(shape).astype(np.int8)

    def _geometry(self, node, graph) -> dict:
        """The input as rank 4: the output's dims (1 on reduced axes), the reduced dims (1 elsewhere)
        and the input's element stride along every axis."""
        x = graph.tensors[node.inputs[0]]
        pad = 4 - len(x.shape)
        dims = rank4(x.shape)
        reduced = {a + pad for a in node.attrs["axes"]}
        strides = [int(np.prod(dims[a + 1:], dtype=np.int64)) for a in range(4)]
        return dict(out_dims=[1 if a in reduced else dims[a] for a in range(4)],
                    reduce_dims=[dims[a] if a in reduced else 1 for a in range(4)], strides=strides)

    def kernel_calls(self, node, graph):
        params = self._geometry(node, graph)
        args = [node.inputs[0], node.outputs[0]]
        if node.attrs["fn"] in SELECTING:
            return [KernelCall(f"reduce_{node.attrs['fn']}_s8", params, args)]
        q = node.q
        params.update(input_offset=q["input_offset"], output_offset=q["output_offset"],
                      multiplier=q["multiplier"], shift=q["shift"])
        return [KernelCall("reduce_sum_s8", params, args)]

    weight_only = True

    def run_f32(self, node, graph, xs):
        x = xs[0].astype(F32, copy=False)
        values = _last_reduced(x, _batched_axes(node))
        if node.attrs["fn"] in SELECTING:
            best = values[..., 0]
            for i in range(1, values.shape[-1]):
                better = values[..., i] > best if node.attrs["fn"] == "max" else values[..., i] < best
                best = np.where(better, values[..., i], best)
            y = best
        else:
            acc = np.zeros(values.shape[:-1], F32)
            for i in range(values.shape[-1]):
                acc = acc + values[..., i]
            y = acc / F32(values.shape[-1]) if node.attrs["fn"] == "mean" else acc
        return y.astype(F32).reshape(batch_shape(node, graph, x))

    def kernel_calls_f32(self, node, graph):
        params = self._geometry(node, graph)
        args = [node.inputs[0], node.outputs[0]]
        if node.attrs["fn"] in SELECTING:
            return [KernelCall(f"reduce_{node.attrs['fn']}_f32", params, args)]
        params["mean"] = int(node.attrs["fn"] == "mean")
        return [KernelCall("reduce_sum_f32", params, args)]

    def macs(self, node, graph):
        return graph.tensors[node.inputs[0]].size
