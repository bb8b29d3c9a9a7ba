"""Run a graph in numpy: the float graph (for calibration) and the integer graph (the golden
reference every C build must equal bit for bit; a weight-only graph, whose activations are
float32, runs each operator's float32 twin `run_f32`). Arrays carry a leading batch axis of
samples, in physical layout.
"""

from __future__ import annotations

import numpy as np

from mcugen.data import to_physical
from mcugen.ir import Graph, Tensor
from mcugen.ops import op_for
from mcugen.ops.base import dequantize_array, quantize_array


def run_graph(graph: Graph, feeds: dict[str, np.ndarray], integer: bool, keep_all: bool = False
              ) -> dict[str, np.ndarray]:
    """Execute every node in order; return the graph outputs (or every activation with keep_all)."""
    values = dict(feeds)
    remaining = {}
    for node in graph.nodes:
        for name in node.q.get("operands", node.inputs) if integer else node.inputs:
            remaining[name] = remaining.get(name, 0) + 1
    for node in graph.nodes:
        op = op_for(node)
        names = node.q.get("operands", node.inputs) if integer else node.inputs
        xs = [values[n] if n in values else graph.tensors[n].data for n in names]
        if integer:
            out = op.run_golden(node, graph, xs)
        else:  # an overflow to inf is refused when its range is quantized, in one sentence, not a warning
            with np.errstate(over="ignore", invalid="ignore"):
                if keep_all:  # calibration: the values inside a recurrent layer too (Op.observed)
                    out, inner = op.run_float_observed(node, graph, xs)
                    values.update(inner)
                else:
                    out = op.run_float(node, graph, xs)
        values[node.outputs[0]] = out
        if not keep_all:  # free what no later node reads, so large batches fit in memory
            for n in names:
                remaining[n] -= 1
                if remaining[n] == 0 and n not in graph.outputs and n in values and n not in feeds:
                    del values[n]
    if keep_all:
        return values
    return {name: values[name] for name in graph.outputs}


def run_float(graph: Graph, feeds: dict[str, np.ndarray], keep_all: bool = False) -> dict[str, np.ndarray]:
    return run_graph(graph, feeds, integer=False, keep_all=keep_all)


def run_int(graph: Graph, feeds: dict[str, np.ndarray], keep_all: bool = False) -> dict[str, np.ndarray]:
    return run_graph(graph, feeds, integer=True, keep_all=keep_all)


def golden_feeds(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Samples in the model's own (ONNX) layout → what the quantized graph and the board take:
    int8 codes in physical layout, or float32 values for a weight-only model."""
    feeds = {}
    for name in graph.inputs:
        t, x = graph.tensors[name], to_physical(graph, name, inputs[name])
        feeds[name] = x.astype(np.float32) if t.dtype == "float32" else quantize_array(x, t.scale, t.zero_point)
    return feeds


def real_values(tensor: Tensor, values: np.ndarray) -> np.ndarray:
    """A quantized tensor's values as real numbers (a weight-only model's are already)."""
    return values if tensor.dtype == "float32" else dequantize_array(values, tensor.scale, tensor.zero_point)
