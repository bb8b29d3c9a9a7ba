"""Reshape (Flatten, Squeeze, Unsqueeze): the same bytes seen with another shape. No kernel runs.

The layout pass guarantees the input's memory order is already the output's row-major order, so
the planner lets the output share the input's buffer.
"""

from __future__ import annotations

from .base import Op, batch_shape, register


@register
class Reshape(Op):
    name = "reshape"

    def run_float(self, node, graph, xs):
        return xs[0].reshape(batch_shape(node, graph, xs[0]))

    def output_qparams(self, node, graph, lo, hi):
        x = graph.tensors[node.inputs[0]]
        return x.scale, x.zero_point

    def run_int(self, node, graph, xs):
        return xs[0].reshape(batch_shape(node, graph, xs[0]))

    def kernel_calls(self, node, graph):
        return []

    def aliases_input(self, node, graph):
        return True

    weight_only = True

    def run_f32(self, node, graph, xs):
        return self.run_int(node, graph, xs)

    def kernel_calls_f32(self, node, graph):
        return []
