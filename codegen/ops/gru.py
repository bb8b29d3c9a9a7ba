"""GRU (ONNX, one direction, batch 1), int8 with int16 gates: the twin of
firmware/kernels/mcugen_gru_s8.c. Same integer design as ops/lstm.py (whose docstring defines
requantize, rdp, sat16, the Q3.12 gates and the SIGMOID / TANH tables).

Float (ONNX, gate order z, r, n; W [3H][in], R [3H][H], biases Wb, Rb):
  z = sigmoid(W_z x + R_z h + Wb_z + Rb_z);  r likewise
  n = tanh(W_n x + Wb_n + r * (R_n h + Rb_n))          linear_before_reset = 1 (PyTorch)
  n = tanh(W_n x + R_n (r * h) + Wb_n + Rb_n)          linear_before_reset = 0
  h = (1 - z) * n + z * h

Integers (x int8 (s_x, z_x), h int8 (s_h, z_h) from every step's calibrated h, weights int8 per row):
  z, r = SIGMOID(sat16(requantize(bx + Wq (x - z_x), s_x s_W 2^12) + requantize(Rq (h - z_h), s_h s_R 2^12)))
        with bx = round((Wb + Rb) / (s_x s_W))
  gx   = requantize(bx_n + Wq_n (x - z_x), s_x s_W 2^12),  bx_n = round((Wb_n [+ Rb_n if lbr = 0]) / (s_x s_W))
  lbr = 1: hn = sat16(requantize(bh_n + Rq_n (h - z_h), s_h s_R 2^12)), bh_n = round(Rb_n / (s_h s_R))
           n  = TANH(sat16(gx + rdp(r * hn, 15)))
  lbr = 0: rh = rdp(r * (h - z_h), 15)   (h's offset codes scaled by r, in [-255, 255])
           n  = TANH(sat16(gx + requantize(Rq_n rh, s_h s_R 2^12)))
  h15  = clamp(requantize(h - z_h, s_h 2^15), -32767, 32767)        (h in Q0.15; GRU states lie in [-1, 1])
  h    = clamp(z_h + requantize((32768 - z) n + z h15, 2^-30 / s_h), -128, 127)
Every product fits int32: |(32768 - z) n + z h15| <= 32768 * 32767.
Outputs: Y (every step's h) or Y_h (the last h).
"""

from __future__ import annotations

import numpy as np

from mcugen.ir import Node

from .base import ConstRef, KernelCall, batch_shape, exact_matmul, quantize_array, register
from .fixedpoint import quantize_multiplier, requantize, rounding_divide_by_pot
from .lstm import (
    OUTPUT_CODES,
    RecurrentOp,
    _sigmoid,
    folded,
    gate_note,
    gate_preactivations,
    hidden_qparams,
    quantize_gates,
    recurrent_scratch,
    sat16,
    table_lookup,
    time_order,
)


def gru_float(node: Node, xs: list[np.ndarray], hidden: int, observe: bool = False
              ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """ONNX GRU in float64 over a batch of samples: (output, {role: observed values})."""
    x = xs[0].astype(np.float64)
    n, steps = x.shape[0], node.attrs["steps"]
    x = x.reshape(n, steps, -1)
    w, r, b = (xs[k].astype(np.float64) for k in (1, 2, 3))
    wb, rb = b[:3 * hidden], b[3 * hidden:]
    h = np.broadcast_to(xs[4].astype(np.float64), (n, hidden)).copy()
    ys, gs = np.zeros((n, steps, hidden)), []
    two = slice(0, 2 * hidden)
    last = slice(2 * hidden, 3 * hidden)
    for t in time_order(steps, node.attrs["reverse"]):
        zr = x[:, t] @ w[two].T + h @ r[two].T + wb[two] + rb[two]
        z, rr = _sigmoid(zr[:, :hidden]), _sigmoid(zr[:, hidden:])
        if node.attrs["linear_before_reset"]:
            pre = x[:, t] @ w[last].T + wb[last] + rr * (h @ r[last].T + rb[last])
        else:
            pre = x[:, t] @ w[last].T + (rr * h) @ r[last].T + rb[last] + wb[last]
        gs.append(np.concatenate([zr, pre], axis=1))
        h = (1 - z) * np.tanh(pre) + z * h
        ys[:, t] = h
    out = ys if node.attrs["output"] == "Y" else h
    return out, ({"h": ys, "gates": np.stack(gs, 1)} if observe else {})


@register
class Gru(RecurrentOp):
    name = "gru"
    float_forward = staticmethod(gru_float)

    def output_qparams(self, node, graph, lo, hi):
        return hidden_qparams(node)

    def quantize(self, node, graph):
        hidden = node.attrs["hidden"]
        x = graph.tensors[node.inputs[0]]
        s_h, z_h = hidden_qparams(node)
        b = graph.const(node.inputs[3]).astype(np.float64)
        wb, rb = b[:3 * hidden], b[3 * hidden:]
        lbr = bool(node.attrs["linear_before_reset"])
        bias_x, bias_h = wb + rb, np.zeros(3 * hidden)
        if lbr:  # Rb_n stays inside r * (...)
            bias_x[2 * hidden:] = wb[2 * hidden:]
            bias_h[2 * hidden:] = rb[2 * hidden:]
        q = node.q
        q.update(input_offset=-int(x.zero_point), hidden_zp=int(z_h))
        quantize_gates(node, graph, float(x.scale), s_h, bias_x, bias_h)
        q["mo"], q["so"] = quantize_multiplier(2.0**-30 / s_h)
        q["mq"], q["sq"] = quantize_multiplier(s_h * 2.0**15)
        h0 = quantize_array(graph.const(node.inputs[4]).astype(np.float64).reshape(-1), s_h, z_h)
        q["h0"] = graph.add_constant(f"{node.name}_h0", h0).name
        gate_note(node, graph)

    def run_int(self, node, graph, xs):
        q, hidden = node.q, node.attrs["hidden"]
        x = xs[0].astype(np.int64)
        n, steps = x.shape[0], node.attrs["steps"]
        x = x.reshape(n, steps, -1)
        sig, tanh = graph.const(q["sigmoid"]), graph.const(q["tanh"])
        zp = q["hidden_zp"]
        last = slice(2 * hidden, 3 * hidden)
        h = np.broadcast_to(graph.const(q["h0"]).astype(np.int64), (n, hidden)).copy()
        ys = np.zeros((n, steps, hidden), np.int64)
        w_n, r_n = graph.const(q["w"])[last], graph.const(q["r"])[last]
        for t in time_order(steps, node.attrs["reverse"]):
            zr = table_lookup(sig, sat16(gate_preactivations(node, graph, x[:, t], h, slice(0, 2 * hidden), -zp)))
            z, r = zr[:, :hidden], zr[:, hidden:]
            ax = graph.const(q["bx"])[last].astype(np.int64) + exact_matmul(x[:, t] + q["input_offset"], w_n.T)
            gx = requantize(ax, graph.const(q["mx"])[last], graph.const(q["sx"])[last])
            mh, sh = graph.const(q["mh"])[last], graph.const(q["sh"])[last]
            bh = graph.const(q["bh"])[last].astype(np.int64)
            if node.attrs["linear_before_reset"]:
                hn = sat16(requantize(bh + exact_matmul(h - zp, r_n.T), mh, sh))
                pre = gx + rounding_divide_by_pot(r * hn, 15)
            else:
                rh = rounding_divide_by_pot(r * (h - zp), 15)
                pre = gx + requantize(bh + exact_matmul(rh, r_n.T), mh, sh)
            nn = table_lookup(tanh, sat16(pre))
            h15 = np.clip(requantize(h - zp, q["mq"], q["sq"]), -32767, 32767)
            h = np.clip(zp + requantize((32768 - z) * nn + z * h15, q["mo"], q["so"]), -128, 127)
            ys[:, t] = h
        out = ys if node.attrs["output"] == "Y" else h
        return out.astype(np.int8).reshape(batch_shape(node, graph, xs[0]))

    def scratch(self, node, graph):
        if "w" not in node.q:
            return None
        return recurrent_scratch(node, graph, 9 * node.attrs["hidden"])

    def kernel_calls(self, node, graph):
        q, hidden = node.q, node.attrs["hidden"]
        lbr = int(node.attrs["linear_before_reset"])
        # the recurrent sums that read h - z_h get the zero point folded in: z and r always, n with lbr = 1
        rows = slice(0, (3 if lbr else 2) * hidden)
        return [KernelCall("gru_s8", dict(
            steps=node.attrs["steps"], input_size=graph.tensors[q["w"]].shape[1], hidden_size=hidden,
            reverse=int(node.attrs["reverse"]), output_mode=OUTPUT_CODES[node.attrs["output"]],
            linear_before_reset=lbr, input_offset=q["input_offset"], hidden_zero_point=q["hidden_zp"],
            hidden_multiplier=q["mo"], hidden_shift=q["so"], q15_multiplier=q["mq"], q15_shift=q["sq"],
            input_weights=ConstRef(q["w"]), recurrent_weights=ConstRef(q["r"]),
            input_bias=ConstRef(folded(graph, q["bx"], q["w"], q["input_offset"])),
            recurrent_bias=ConstRef(folded(graph, q["bh"], q["r"], -q["hidden_zp"], rows)),
            input_multiplier=ConstRef(q["mx"]), input_shift=ConstRef(q["sx"]),
            recurrent_multiplier=ConstRef(q["mh"]), recurrent_shift=ConstRef(q["sh"]),
            initial_hidden=ConstRef(q["h0"]),
            sigmoid_table=ConstRef(q["sigmoid"]), tanh_table=ConstRef(q["tanh"])),
            [node.inputs[0], node.outputs[0], recurrent_scratch(node, graph, 9 * hidden)])]

    def macs(self, node, graph):
        w, r = graph.tensors[node.inputs[1]], graph.tensors[node.inputs[2]]
        return node.attrs["steps"] * (w.size + r.size)

