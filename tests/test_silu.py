"""SiLU (x * sigmoid(x), EfficientNet's activation) as torch exports it — Sigmoid, then Mul by the
sigmoid's own input — becomes one int8 table (graph.passes.fuse_silu): one rounding of the output
instead of the sigmoid's fixed 1/256 step and the product's requantization."""

from __future__ import annotations

import numpy as np
from onnx import helper

from helpers import make_model
from mcugen.compiler import compile_model
from mcugen.ops.activation import FUNCTIONS
from mcugen.ops.base import QMAX, QMIN


def _silu_model(tmp_path, outputs):
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["s", "x"], ["y"])]
    return make_model(tmp_path / "silu.onnx", nodes, {"x": [1, 4, 6, 6]}, outputs, {})


def test_sigmoid_times_its_input_is_one_table_exact_to_the_output_rounding(tmp_path):
    compiled = compile_model(_silu_model(tmp_path, {"y": None}), None, "net")
    graph = compiled.graph
    assert [(n.op, n.attrs.get("fn")) for n in graph.nodes] == [("activation", "silu")]
    node = graph.nodes[0]
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    real = (np.arange(QMIN, QMAX + 1) - x.zero_point) * x.scale
    table = graph.const(node.q["table"]).astype(np.float64)
    error = np.abs((table - y.zero_point) * y.scale - FUNCTIONS["silu"](real, {}))
    inside = (real / (1 + np.exp(-real)) >= (QMIN - y.zero_point) * y.scale) & \
             (real / (1 + np.exp(-real)) <= (QMAX - y.zero_point) * y.scale)
    assert error[inside].max() <= y.scale / 2 + 1e-9  # every code within half an output step of SiLU


def test_sigmoid_with_another_use_stays_apart(tmp_path):
    compiled = compile_model(_silu_model(tmp_path, {"y": None, "s": None}), None, "net")
    assert sorted(n.op for n in compiled.graph.nodes) == ["activation", "mul"]
    assert [n.attrs.get("fn") for n in compiled.graph.nodes if n.op == "activation"] == ["sigmoid"]
