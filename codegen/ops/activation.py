"""Element-wise activations through a 256-entry lookup table: the twin of mcugen_lut_s8.c.

Every int8 input code x maps to one output code, so any unary function f is exact as a table:
  lut[x + 128] = clamp(round(f(s_in * (x - zp_in)) / s_out) + zp_out, act_min, act_max)
The table is computed here at compile time; the kernel only indexes it. Relu, Clip, LeakyRelu,
Sigmoid, Tanh, HardSigmoid and HardSwish all take this path when they cannot be fused.
"""

from __future__ import annotations

import numpy as np

from .base import (
    QMAX,
    QMIN,
    ConstRef,
    KernelCall,
    Op,
    activation_bounds,
    apply_float_activation,
    register,
)


def _hard_sigmoid(x: np.ndarray, attrs: dict) -> np.ndarray:
    return np.clip(attrs.get("alpha", 0.2) * x + attrs.get("beta", 0.5), 0.0, 1.0)


FUNCTIONS = {
    "relu": lambda x, a: np.maximum(x, 0.0),
    "clip": lambda x, a: np.clip(x, a.get("min", -np.inf), a.get("max", np.inf)),
    "leaky_relu": lambda x, a: np.where(x >= 0, x, a.get("alpha", 0.01) * x),
    "sigmoid": lambda x, a: 1.0 / (1.0 + np.exp(-x)),
    "tanh": lambda x, a: np.tanh(x),
    "hard_sigmoid": _hard_sigmoid,
    "hard_swish": lambda x, a: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0),
}

# Functions with a known output range get the TFLite convention's fixed output quantization.
FIXED_OUTPUT = {"sigmoid": (1.0 / 256, -128), "hard_sigmoid": (1.0 / 256, -128), "tanh": (1.0 / 128, 0)}


@register
class Activation(Op):
    name = "activation"

    def run_float(self, node, graph, xs):
        x = xs[0].astype(np.float64)
        return apply_float_activation(node, FUNCTIONS[node.attrs["fn"]](x, node.attrs)).astype(np.float32)

    def output_qparams(self, node, graph, lo, hi):
        if node.attrs["fn"] in FIXED_OUTPUT and "act" not in node.attrs:
            return FIXED_OUTPUT[node.attrs["fn"]]
        return super().output_qparams(node, graph, lo, hi)

    def quantize(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        codes = np.arange(QMIN, QMAX + 1, dtype=np.float64)
        real = self.run_float(node, graph, [(codes - x.zero_point) * x.scale]).astype(np.float64)
        lo, hi = activation_bounds(node, y.scale, y.zero_point)
        table = np.clip(np.round(real / y.scale) + y.zero_point, lo, hi).astype(np.int8)
        node.q["table"] = graph.add_constant(f"{node.name}_table", table).name

    def run_int(self, node, graph, xs):
        return graph.const(node.q["table"])[xs[0].astype(np.int64) - QMIN]

    def kernel_calls(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        return [KernelCall("lut_s8", dict(size=x.size, table=ConstRef(node.q["table"])), [x.name, y.name])]

    def inplace_input(self, node, graph):
        return 0
