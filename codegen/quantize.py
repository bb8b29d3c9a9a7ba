"""Quantization: float graph + activation ranges → integer graph (TFLite int8 spec).

Each activation gets an asymmetric int8 (scale, zero point), chosen by its producer's operator
(calibrated range by default; pass-through operators keep their input's); then each operator
turns its float parameters into integer ones (weights, bias, multipliers, tables).
"""

from __future__ import annotations

from mcugen.ir import Graph
from mcugen.ops import op_for
from mcugen.ops.base import qparams_from_range


def quantize(graph: Graph, ranges: dict[str, tuple[float, float]]) -> Graph:
    q = graph.copy()
    for name in q.inputs:
        t = q.tensors[name]
        t.scale, t.zero_point = qparams_from_range(*ranges[name])
        t.dtype = "int8"
    for node in q.nodes:
        op = op_for(node)
        for name in node.outputs:
            t = q.tensors[name]
            t.scale, t.zero_point = op.output_qparams(node, q, *ranges.get(name, (0.0, 0.0)))
            t.dtype = "int8"
        op.quantize(node, q)
    return q
