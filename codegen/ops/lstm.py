"""LSTM (ONNX, one direction, batch 1), int8 with int16 gates and cell: the twin of
firmware/kernels/mcugen_lstm_s8.c. The integer design follows TFLite's integer LSTM (8-bit
activations and weights, 16-bit gates and cell state), written here from its arithmetic.

Float (ONNX, gate order i, o, f, c; W [4H][in], R [4H][H], Wb + Rb folded into one bias B):
  g = W x_t + R h + B;  i, o, f = sigmoid(g_i, g_o, g_f);  c~ = tanh(g_c)
  c = f * c + i * c~;   h = o * tanh(c)                     (t = 0 .. T-1, or T-1 .. 0 in reverse)

Integers. x int8 (s_x, z_x); h int8 (s_h, z_h, from the calibrated range of every step's h);
weights int8 symmetric, one scale per row (so per gate and per unit); the cell c int16 at the
power-of-two scale 2^-F (F the largest in [0, 15] with max|c| * 2^F <= 32767 over calibration).
Gate pre-activations are int16 Q3.12 (scale 2^-12, so [-8, 8)); gate outputs int16 Q0.15.
  ax[j] = bx[j] + sum_i Wq[j,i] (x_i - z_x)      bx = round(B / (s_x s_W[j]))   (int32)
  ah[j] = sum_i Rq[j,i] (h_i - z_h)
  g[j]  = sat16(requantize(ax[j], s_x s_W[j] 2^12) + requantize(ah[j], s_h s_R[j] 2^12))
  i, o, f = SIGMOID(g);  c~ = TANH(g)                            (Q0.15)
  c     = sat16(rdp(f * c, 15) + rdp(i * c~, 30 - F))            (rdp: rounding_divide_by_pot)
  h     = clamp(z_h + requantize(o * TANH(q12(c)), 2^-30 / s_h), -128, 127)
  q12(c) = rdp(c, F - 12) when F > 12, sat16(c * 2^(12 - F)) otherwise.
requantize is the TFLite Q31 multiplier and shift (ops/fixedpoint.py). SIGMOID and TANH read a
513-entry int16 table T of round(32767 f(v)) at v = (k * 128 - 32768) / 4096, k = 0..512, and
interpolate: u = g + 32768, k = u >> 7, r = u & 127, y = T[k] + ((T[k+1] - T[k]) r + 64) >> 7
(f increases, so the product is never negative). Outputs: Y (every step's h), Y_h (the last h)
or Y_c (the last c, requantized to int8 at its own calibrated scale by 2^-F / s_c).
initial_h is quantized at (s_h, z_h) and initial_c at 2^-F (saturated), zeros when absent.
"""

from __future__ import annotations

import math
from abc import abstractmethod

import numpy as np

from mcugen.errors import McugenError
from mcugen.ir import Graph, Node, Tensor

from .base import (
    ConstRef,
    KernelCall,
    Op,
    accumulator_safe_bias,
    batch_shape,
    exact_matmul,
    output_multipliers,
    per_channel_weights,
    qparams_from_range,
    quantize_array,
    register,
    saturating_round,
)
from .fixedpoint import quantize_multiplier, requantize, rounding_divide_by_pot

GATE_FRAC = 12  # gate pre-activations are Q3.12
TABLE_SIZE = 513
DEFAULT_CELL_FRAC = 11  # a cell range of +/-16 when calibration saw none (a pre-quantized model)
OUTPUT_CODES = {"Y": 0, "Y_h": 1, "Y_c": 2}


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def function_table(fn: str) -> np.ndarray:
    """round(32767 * f(v)) at the table's 513 points v = (k * 128 - 32768) / 4096 (Q3.12 grid)."""
    v = (np.arange(TABLE_SIZE, dtype=np.float64) * 128 - 32768) / 4096
    f = _sigmoid(v) if fn == "sigmoid" else np.tanh(v)
    return np.round(32767 * f).astype(np.int16)


def table_lookup(table: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The interpolated table value of Q3.12 inputs g (int16 values), as int64."""
    t = table.astype(np.int64)
    u = np.asarray(g, dtype=np.int64) + 32768
    k, r = u >> 7, u & 127
    return t[k] + (((t[np.minimum(k + 1, TABLE_SIZE - 1)] - t[k]) * r + 64) >> 7)


def sat16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -32768, 32767)


def shared_table(graph: Graph, fn: str) -> str:
    """One table constant per model and function, shared by every recurrent layer."""
    name = f"recurrent_{fn}_q15"
    if name not in graph.tensors:
        graph.add_tensor(Tensor(name, (TABLE_SIZE,), "int16", function_table(fn)))
    return name


def observed_names(node: Node) -> dict[str, str]:
    """The values inside a recurrent layer that calibration records: every step's hidden state
    h, every cell state c (LSTM) and every gate pre-activation (for the saturation note)."""
    roles = ("h", "c", "gates") if node.op == "lstm" else ("h", "gates")
    return {role: f"{node.outputs[0]}#{role}" for role in roles}


def hidden_qparams(node: Node) -> tuple[float, int]:
    """(s_h, z_h) of the hidden state: the calibrated range of every step's h (or [-1, 1])."""
    lo, hi = node.q.get("observed", {}).get("h", (-1.0, 1.0))
    return qparams_from_range(lo, hi)


def quantize_gates(node: Node, graph: Graph, x_scale: float, h_scale: float,
                   bias_x: np.ndarray, bias_h: np.ndarray) -> None:
    """Per-row int8 weights, int32 biases (bx at s_x s_W, bh at s_h s_R, both clamped so no order
    of summation overflows int32) and the Q31 multipliers into Q3.12, into node.q."""
    w, r = graph.const(node.inputs[1]), graph.const(node.inputs[2])
    wq, sw = per_channel_weights(w, axis=0)
    rq, sr = per_channel_weights(r, axis=0)
    for what, codes, reach in (("input", wq, w.shape[1]), ("recurrent", rq, r.shape[1])):
        if 256 * int(np.abs(codes.astype(np.int64)).sum(axis=1).max()) > 2**31 - 1:
            raise McugenError(f"{node.op} {node.name!r} has {reach} {what} weights per gate row, too many for "
                              "the int32 accumulator; use a smaller layer")
    q = node.q
    bx = saturating_round(bias_x / (x_scale * sw), -(2**31), 2**31 - 1).astype(np.int32)
    bh = saturating_round(bias_h / (h_scale * sr), -(2**31), 2**31 - 1).astype(np.int32)
    bx = accumulator_safe_bias(bx, np.abs(wq.astype(np.int64)).sum(axis=1), 32)
    bh = accumulator_safe_bias(bh, np.abs(rq.astype(np.int64)).sum(axis=1), 32)
    mx, shx = output_multipliers(x_scale, sw, 2.0**-GATE_FRAC)
    mh, shh = output_multipliers(h_scale, sr, 2.0**-GATE_FRAC)
    for key, value in (("w", wq), ("r", rq), ("bx", bx), ("bh", bh), ("mx", mx), ("sx", shx),
                       ("mh", mh), ("sh", shh)):
        q[key] = graph.add_constant(f"{node.name}_{key}", value).name
    q["sigmoid"] = shared_table(graph, "sigmoid")
    q["tanh"] = shared_table(graph, "tanh")


def gate_preactivations(node: Node, graph: Graph, x: np.ndarray, h: np.ndarray, rows: slice,
                        h_offset: int | None = None) -> np.ndarray:
    """requantize(ax) + requantize(ah) for the given rows, int64 (not yet saturated).
    x, h: [N, in] / [N, H] int64 codes; h_offset None means h already has its zero point removed."""
    q = node.q
    w, r = graph.const(q["w"])[rows], graph.const(q["r"])[rows]
    ax = graph.const(q["bx"])[rows].astype(np.int64) + exact_matmul(x + q["input_offset"], w.T)
    hh = h if h_offset is None else h + h_offset
    ah = graph.const(q["bh"])[rows].astype(np.int64) + exact_matmul(hh, r.T)
    return (requantize(ax, graph.const(q["mx"])[rows], graph.const(q["sx"])[rows])
            + requantize(ah, graph.const(q["mh"])[rows], graph.const(q["sh"])[rows]))


def gate_note(node: Node, graph: Graph) -> None:
    """Tell the user when calibration drove gate pre-activations far past the Q3.12 range: up to
    +/-16 saturating at 8 moves sigmoid and tanh by under 0.0004 (a twentieth of an int8 step),
    beyond that the float model is in a regime worth knowing about."""
    lo, hi = node.q.get("observed", {}).get("gates", (0.0, 0.0))
    if max(-lo, hi) > 16:
        graph.notes.append(f"{node.op} {node.name!r}: gate pre-activations reach {max(-lo, hi):.3g} in calibration; "
                           "the int16 gates saturate at +/-8 (sigmoid and tanh are within 0.0004 of their limits)")


def cell_frac(max_abs: float) -> int:
    """The largest F in [0, 15] with max_abs * 2^F <= 32767."""
    if not max_abs > 0:
        return 15
    return int(min(15, max(0, math.floor(math.log2(32767 / max_abs)))))


def time_order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def recurrent_scratch(node: Node, graph: Graph, size: int) -> str:
    """The layer's working bytes (gates, cell, hidden state), made on first use."""
    name = node.q.get("scratch") or graph.unique_name(f"{node.name}_state")
    node.q["scratch"] = name
    graph.add_tensor(Tensor(name, (size,), "int8"))
    return name


def lstm_float(node: Node, xs: list[np.ndarray], hidden: int, observe: bool = False
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """ONNX LSTM in float64 over a batch of samples: (output, {role: observed values})."""
    x = xs[0].astype(np.float64)
    n, steps = x.shape[0], node.attrs["steps"]
    x = x.reshape(n, steps, -1)
    w, r, b = (xs[k].astype(np.float64) for k in (1, 2, 3))
    b = b[:4 * hidden] + b[4 * hidden:]  # Wb + Rb
    h = np.broadcast_to(xs[4].astype(np.float64), (n, hidden)).copy()
    c = np.broadcast_to(xs[5].astype(np.float64), (n, hidden)).copy()
    ys, cs, gs = np.zeros((n, steps, hidden)), [c], []
    for t in time_order(steps, node.attrs["reverse"]):
        g = x[:, t] @ w.T + h @ r.T + b
        gs.append(g)
        i, o, f, cc = (g[:, k * hidden:(k + 1) * hidden] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(cc)
        h = _sigmoid(o) * np.tanh(c)
        ys[:, t] = h
        cs.append(c)
    out = {"Y": ys, "Y_h": h, "Y_c": c}[node.attrs["output"]]
    inner = {"h": ys, "c": np.stack(cs, 1), "gates": np.stack(gs, 1)} if observe else {}
    return out, inner


class RecurrentOp(Op):
    """What LSTM and GRU share: the float run and the internal values calibration observes
    (hidden states, gates, and the LSTM's cell), both from the op's own float recurrence."""

    @staticmethod
    @abstractmethod
    def float_forward(node: Node, xs: list[np.ndarray], hidden: int, observe: bool = False
                      ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The op's float recurrence: its output and, with observe, the internal values by role."""

    def run_float(self, node, graph, xs):
        y, _ = self.float_forward(node, xs, node.attrs["hidden"])
        return y.reshape(batch_shape(node, graph, xs[0])).astype(np.float32)

    def observed(self, node, graph):
        return observed_names(node)

    def run_float_observed(self, node, graph, xs):
        y, inner = self.float_forward(node, xs, node.attrs["hidden"], observe=True)
        names = observed_names(node)
        return (y.reshape(batch_shape(node, graph, xs[0])).astype(np.float32),
                {names[k]: v.astype(np.float32) for k, v in inner.items()})


@register
class Lstm(RecurrentOp):
    name = "lstm"
    float_forward = staticmethod(lstm_float)

    def output_qparams(self, node, graph, lo, hi):
        if node.attrs["output"] == "Y_c":
            return qparams_from_range(lo, hi)
        return hidden_qparams(node)

    def quantize(self, node, graph):
        hidden = node.attrs["hidden"]
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        s_h, z_h = hidden_qparams(node)
        observed = node.q.get("observed", {})
        c0 = graph.const(node.inputs[5]).astype(np.float64)
        if "c" in observed:
            lo, hi = observed["c"]
            frac = cell_frac(max(abs(lo), abs(hi), float(np.abs(c0).max(initial=0.0))))
        else:
            frac = DEFAULT_CELL_FRAC
        q = node.q
        q.update(input_offset=-int(x.zero_point), hidden_zp=int(z_h), cell_frac=frac)
        b = graph.const(node.inputs[3]).astype(np.float64)
        quantize_gates(node, graph, float(x.scale), s_h, b[:4 * hidden] + b[4 * hidden:], np.zeros(4 * hidden))
        q["mo"], q["so"] = quantize_multiplier(2.0**-30 / s_h)
        if node.attrs["output"] == "Y_c":
            q["mc"], q["sc"] = quantize_multiplier(2.0**-frac / float(y.scale))
            q["zc"] = int(y.zero_point)
        else:
            q["mc"], q["sc"], q["zc"] = 0, 0, 0
        h0 = quantize_array(graph.const(node.inputs[4]).astype(np.float64).reshape(-1), s_h, z_h)
        q["h0"] = graph.add_constant(f"{node.name}_h0", h0).name
        c0q = saturating_round(c0.reshape(-1) * 2.0**frac, -32768, 32767).astype(np.int16)
        q["c0"] = graph.add_constant(f"{node.name}_c0", c0q).name
        gate_note(node, graph)

    def run_int(self, node, graph, xs):
        q, hidden = node.q, node.attrs["hidden"]
        x = xs[0].astype(np.int64)
        n, steps = x.shape[0], node.attrs["steps"]
        x = x.reshape(n, steps, -1)
        sig, tanh = graph.const(q["sigmoid"]), graph.const(q["tanh"])
        frac = q["cell_frac"]
        h = np.broadcast_to(graph.const(q["h0"]).astype(np.int64), (n, hidden)).copy()
        c = np.broadcast_to(graph.const(q["c0"]).astype(np.int64), (n, hidden)).copy()
        ys = np.zeros((n, steps, hidden), np.int64)
        for t in time_order(steps, node.attrs["reverse"]):
            g = sat16(gate_preactivations(node, graph, x[:, t], h, slice(None), -q["hidden_zp"]))
            i, o, f = (table_lookup(sig, g[:, k * hidden:(k + 1) * hidden]) for k in range(3))
            cc = table_lookup(tanh, g[:, 3 * hidden:])
            c = sat16(rounding_divide_by_pot(f * c, 15) + rounding_divide_by_pot(i * cc, 30 - frac))
            if frac > GATE_FRAC:
                c12 = rounding_divide_by_pot(c, frac - GATE_FRAC)
            else:
                c12 = sat16(c * (1 << (GATE_FRAC - frac)))
            h = np.clip(q["hidden_zp"] + requantize(o * table_lookup(tanh, c12), q["mo"], q["so"]), -128, 127)
            ys[:, t] = h
        if node.attrs["output"] == "Y_c":
            out = np.clip(q["zc"] + requantize(c, q["mc"], q["sc"]), -128, 127)
        else:
            out = ys if node.attrs["output"] == "Y" else h
        return out.astype(np.int8).reshape(batch_shape(node, graph, xs[0]))

    def scratch(self, node, graph):
        if "w" not in node.q:
            return None
        return recurrent_scratch(node, graph, 11 * node.attrs["hidden"])

    def kernel_calls(self, node, graph):
        q, hidden = node.q, node.attrs["hidden"]
        return [KernelCall("lstm_s8", dict(
            steps=node.attrs["steps"], input_size=graph.tensors[q["w"]].shape[1], hidden_size=hidden,
            reverse=int(node.attrs["reverse"]), output_mode=OUTPUT_CODES[node.attrs["output"]],
            input_offset=q["input_offset"], hidden_zero_point=q["hidden_zp"], cell_frac=q["cell_frac"],
            hidden_multiplier=q["mo"], hidden_shift=q["so"], cell_multiplier=q["mc"], cell_shift=q["sc"],
            cell_zero_point=q["zc"],
            input_weights=ConstRef(q["w"]), recurrent_weights=ConstRef(q["r"]),
            input_bias=ConstRef(folded(graph, q["bx"], q["w"], q["input_offset"])),
            recurrent_bias=ConstRef(folded(graph, q["bh"], q["r"], -q["hidden_zp"])),
            input_multiplier=ConstRef(q["mx"]), input_shift=ConstRef(q["sx"]),
            recurrent_multiplier=ConstRef(q["mh"]), recurrent_shift=ConstRef(q["sh"]),
            initial_hidden=ConstRef(q["h0"]), initial_cell=ConstRef(q["c0"]),
            sigmoid_table=ConstRef(q["sigmoid"]), tanh_table=ConstRef(q["tanh"])),
            [node.inputs[0], node.outputs[0], recurrent_scratch(node, graph, 11 * hidden)])]

    def macs(self, node, graph):
        w, r = graph.tensors[node.inputs[1]], graph.tensors[node.inputs[2]]
        return node.attrs["steps"] * (w.size + r.size)


def folded(graph: Graph, bias: str, weights: str, offset: int, rows: slice | None = None) -> str:
    """bias[j] + offset * sum_i w[j,i] (only over `rows` when given; the others keep bias): the
    zero point's share of the sum, added once at compile time so the kernel multiplies raw codes.
    The same integers as the spec's sum (accumulator_safe_bias bounds every partial sum)."""
    name = f"{bias}_folded"
    if name not in graph.tensors:
        b = graph.const(bias).astype(np.int64)
        add = offset * graph.const(weights).astype(np.int64).sum(axis=1)
        if rows is not None:
            keep = np.zeros_like(add)
            keep[rows] = add[rows]
            add = keep
        graph.add_tensor(Tensor(name, b.shape, "int32", (b + add).astype(np.int32)))
    return name
