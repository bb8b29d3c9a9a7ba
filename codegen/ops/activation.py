"""Element-wise activations through a 256-entry lookup table: the twin of mcugen_lut_s8.c.

Every int8 input code x maps to one output code, so any unary function f is exact as a table:
  lut[x + 128] = clamp(round(f(s_in * (x - zp_in)) / s_out) + zp_out, act_min, act_max)
The table is computed here at compile time; the kernel only indexes it. Relu, Clip, LeakyRelu,
Sigmoid, Tanh, HardSigmoid and HardSwish all take this path when they cannot be fused, and so does
SiLU, x * sigmoid(x) (EfficientNet's activation, exported as Sigmoid and Mul of its input; the
passes make the pair one table: one rounding of the output instead of the sigmoid's 1/256 step and
the product's requantization).

Weight-only mode (float32, activation_f32.c): the function itself, in float32, then the clamp:
  relu, clip: y = x (clamped to the function's bounds)     leaky_relu: x >= 0 ? x : alpha * x
  sigmoid: 1 / (1 + exp_f32(-x))                            hard_sigmoid: clamp(alpha * x + beta, 0, 1)
  hard_swish: x * clamp(x * (1/6) + 0.5, 0, 1)              silu: x * (1 / (1 + exp_f32(-x)))
  tanh: |x| < 0.3: x + ((((T11 x2 + T9) x2 + T7) x2 + T5) x2 + T3) x2 * x  (Taylor, x2 = x * x),
        else t = (1 - e) / (1 + e), e = exp_f32(-2|x|), and y = -t for x < 0
"""

from __future__ import annotations

import numpy as np

from mcugen.ops.float32 import F32, F32_MAX, clamp_f32, exp_f32

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
    "silu": lambda x, a: x / (1.0 + np.exp(-x)),
}

# Functions with a known output range get the TFLite convention's fixed output quantization.
FIXED_OUTPUT = {"sigmoid": (1.0 / 256, -128), "hard_sigmoid": (1.0 / 256, -128), "tanh": (1.0 / 128, 0)}


F32_CODES = {"relu": 0, "clip": 0, "leaky_relu": 1, "sigmoid": 2, "tanh": 3, "hard_sigmoid": 4, "hard_swish": 5,
             "silu": 6}
TANH_SMALL = F32(float.fromhex("0x1.333334p-2"))  # 0.3: below, the Taylor polynomial
TANH_TAYLOR = [F32(float.fromhex(h)) for h in ("-0x1.226e36p-7", "0x1.664f48p-6", "-0x1.ba1ba2p-5",
                                                "0x1.111112p-3", "-0x1.555556p-2")]  # x^11 ... x^3


def tanh_f32(x: np.ndarray) -> np.ndarray:
    a = np.where(x < 0, -x, x)
    x2 = x * x
    p = np.full_like(x, TANH_TAYLOR[0])
    for c in TANH_TAYLOR[1:]:
        p = p * x2 + c
    small = x + (p * x2) * x
    e = exp_f32(a * F32(-2.0))
    t = (F32(1.0) - e) / (F32(1.0) + e)
    return np.where(a < TANH_SMALL, small, np.where(x < 0, -t, t))


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

    weight_only = True

    def quantize_f32(self, node, graph):
        fn, a = node.attrs["fn"], node.attrs
        lo, hi = -F32_MAX, F32_MAX
        if fn == "relu":
            lo = F32(0.0)
        elif fn == "clip":
            lo = F32(max(a.get("min", -np.inf), -F32_MAX))
            hi = F32(min(a.get("max", np.inf), F32_MAX))
        act_lo, act_hi = a.get("act", (-np.inf, np.inf))
        lo, hi = max(lo, F32(max(act_lo, -F32_MAX))), min(hi, F32(min(act_hi, F32_MAX)))
        alpha, beta = {"leaky_relu": (a.get("alpha", 0.01), 0.0), "hard_sigmoid": (a.get("alpha", 0.2),
                                                                                 a.get("beta", 0.5)),
                       "hard_swish": (1.0 / 6.0, 0.5)}.get(fn, (0.0, 0.0))
        node.q.update(fn=F32_CODES[fn], alpha=float(F32(alpha)), beta=float(F32(beta)),
                      act_min=float(lo), act_max=float(hi))

    def run_f32(self, node, graph, xs):
        q = node.q
        x = xs[0].astype(F32, copy=False)
        alpha, beta, one, zero = F32(q["alpha"]), F32(q["beta"]), F32(1.0), F32(0.0)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if q["fn"] == 1:
                y = np.where(x >= 0, x, alpha * x)
            elif q["fn"] == 2:
                y = one / (one + exp_f32(-x))
            elif q["fn"] == 3:
                y = tanh_f32(x)
            elif q["fn"] == 4:
                y = clamp_f32(alpha * x + beta, zero, one)
            elif q["fn"] == 5:
                y = x * clamp_f32(x * alpha + beta, zero, one)
            elif q["fn"] == 6:
                y = x * (one / (one + exp_f32(-x)))
            else:
                y = x
        return clamp_f32(y.astype(F32), q["act_min"], q["act_max"])

    def kernel_calls_f32(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        q = node.q
        return [KernelCall("activation_f32", dict(size=x.size, fn=q["fn"], alpha=q["alpha"], beta=q["beta"],
                                                  act_min=q["act_min"], act_max=q["act_max"]),
                           [x.name, y.name])]
