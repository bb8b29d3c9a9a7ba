"""Concat, int8: the twin of firmware/kernels/mcugen_concat_s8.c, called once per input.

Each input is copied into its slice of the output; an input whose scale or zero point differs
from the output's is requantized on the way:
  y = clamp(zp_out + requantize(x - zp_in, m, e), -128, 127),  m * 2**(e - 31) = s_in / s_out
Weight-only mode (float32, concat_f32): a plain copy of each input into its slice.
"""

from __future__ import annotations

import numpy as np

from mcugen.ops.fixedpoint import quantize_multiplier, requantize

from .base import KernelCall, Op, register


@register
class Concat(Op):
    name = "concat"

    def run_float(self, node, graph, xs):
        return np.concatenate(xs, axis=node.attrs["axis"])

    def quantize(self, node, graph):
        y = graph.tensors[node.outputs[0]]
        slots = []
        for name in node.inputs:
            x = graph.tensors[name]
            m, e = quantize_multiplier(x.scale / y.scale)
            same = np.isclose(x.scale, y.scale, rtol=0, atol=0) and x.zero_point == y.zero_point
            slots.append(dict(requantize=int(not same), input_offset=-x.zero_point, multiplier=m, shift=e))
        node.q["slots"] = slots

    def run_int(self, node, graph, xs):
        y = graph.tensors[node.outputs[0]]
        parts = []
        for x, slot in zip(xs, node.q["slots"]):
            if slot["requantize"]:
                x = requantize(x.astype(np.int64) + slot["input_offset"], slot["multiplier"], slot["shift"])
                x = np.clip(x + y.zero_point, -128, 127)
            parts.append(x.astype(np.int8))
        return np.concatenate(parts, axis=node.attrs["axis"])

    weight_only = True

    def run_f32(self, node, graph, xs):
        return np.concatenate([x.astype(np.float32, copy=False) for x in xs], axis=node.attrs["axis"])

    def kernel_calls_f32(self, node, graph):
        y = graph.tensors[node.outputs[0]]
        axis = node.attrs["axis"]
        outer, inner = int(np.prod(y.shape[:axis])), int(np.prod(y.shape[axis + 1:]))
        calls, offset = [], 0
        for name in node.inputs:
            chunk = graph.tensors[name].shape[axis] * inner
            calls.append(KernelCall("concat_f32", dict(outer=outer, input_chunk=chunk,
                                                       output_chunk=y.shape[axis] * inner, output_start=offset),
                                    [name, y.name]))
            offset += chunk
        return calls

    def kernel_calls(self, node, graph):
        y = graph.tensors[node.outputs[0]]
        axis = node.attrs["axis"]
        outer = int(np.prod(y.shape[:axis]))
        inner = int(np.prod(y.shape[axis + 1:]))
        calls, offset = [], 0
        for name, slot in zip(node.inputs, node.q["slots"]):
            x = graph.tensors[name]
            chunk = x.shape[axis] * inner
            calls.append(KernelCall("concat_s8", dict(
                outer=outer, input_chunk=chunk, output_chunk=y.shape[axis] * inner, output_start=offset,
                requantize=slot["requantize"], input_offset=slot["input_offset"],
                multiplier=slot["multiplier"], shift=slot["shift"], output_offset=y.zero_point),
                [name, y.name]))
            offset += chunk
        return calls
