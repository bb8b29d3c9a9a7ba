"""LayerNormalization over the trailing axes, int8 in and out: the twin of
firmware/kernels/mcugen_layer_norm_s8.c.

Float: y = (x - mean) / sqrt(var + eps) * gamma + beta over the N values of each row (the axes from
`axis` on; gamma and beta have one value per element of a row).

Integer arithmetic, per row of N int8 codes x (the input zero point cancels in x - mean):
  s = sum x (int32), ss = sum x^2 (int64), V = N * ss - s^2 = N^2 * var in codes^2 (int64, >= 0)
  D = V + E, E = min(round(eps * N^2 / s_in^2), 2^61) the epsilon in the same units; D = 1 if 0
  k = the smallest k >= 0 with D * 4^k >= 2^60 (D < 2^62 always, as N <= 2^14), D' = D * 4^k
  S = floor(sqrt(D'))  in [2^30, 2^31): sqrt(D) * 2^k to 31 bits
  m = floor((2^61 - 1) / S)  in [2^30, 2^31): 2^61 / S
  for each element: d = N * x - s = N * (x - mean) (int32), the normalised value in Q16
    n = floor((d * m + 2^(44 - k)) / 2^(45 - k))    (|n| <= sqrt(N - 1) * 2^16 + 1 < 2^24)
  y = clamp(zp_out + floor((n * G[i] + B[i] + 2^(P - 1)) / 2^P), -128, 127)
with the per-element constants G[i] = round(gamma[i] / s_out * 2^(P - 16)) (int32) and
B[i] = round(beta[i] / s_out * 2^P) (int64, saturated at +/-2^60, where the output saturates
anyway), and P <= 44 the largest shift that keeps every |G| below 2^31. Every product fits int64:
|d * m| < 2^53, |n * G| < 2^55. The square root and the division are exact integer operations
(the C uses digit-by-digit loops, no libgcc division). Relative error of 1 / sqrt(var + eps):
below 2^-29 before the Q16 rounding of n.
"""

from __future__ import annotations

import math

import numpy as np

from mcugen.errors import McugenError

from .base import ConstRef, KernelCall, Op, register

MAX_ROW = 1 << 14
NORM_BITS = 16
MAX_SHIFT = 44
BETA_LIMIT = 1 << 60


def row_size(node, graph) -> int:
    x = graph.tensors[node.inputs[0]]
    return int(np.prod(x.shape[node.attrs["axis"]:]))


def row_factors(d_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, from D = V + E: the reciprocal m = floor((2^61 - 1) / isqrt(D * 4^k)) and k."""
    ms, ks = [], []
    for value in d_values.tolist():
        value = max(int(value), 1)
        k = 0
        while value << (2 * k) < 1 << 60:
            k += 1
        ms.append(((1 << 61) - 1) // math.isqrt(value << (2 * k)))
        ks.append(k)
    return np.array(ms, dtype=np.int64), np.array(ks, dtype=np.int64)


@register
class LayerNorm(Op):
    name = "layer_norm"

    def run_float(self, node, graph, xs):
        x, gamma, beta = (v.astype(np.float64) for v in xs[:3])
        axes = tuple(range(node.attrs["axis"], x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
        return ((x - mean) / np.sqrt(var + node.attrs["epsilon"]) * gamma + beta).astype(np.float32)

    def quantize(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        n = row_size(node, graph)
        if n > MAX_ROW:
            raise McugenError(f"layer normalization {node.name!r} normalises {n} values per row; the int8 kernel "
                              f"takes at most {MAX_ROW} (its int64 statistics would overflow)")
        gamma = graph.const(node.inputs[1]).astype(np.float64).reshape(-1) / y.scale
        beta = graph.const(node.inputs[2]).astype(np.float64).reshape(-1) / y.scale
        largest = float(np.max(np.abs(gamma)))
        shift = MAX_SHIFT if largest == 0 else min(MAX_SHIFT, math.floor(math.log2((2**31 - 1) / largest)) + NORM_BITS)
        if shift < 1:
            raise McugenError(f"layer normalization {node.name!r}: its scale is {largest:.3g} output steps per "
                              "standard deviation, too large for the int8 kernel; check the model's weights")
        g = np.clip(np.round(gamma * 2.0 ** (shift - NORM_BITS)), -(2**31 - 1), 2**31 - 1).astype(np.int32)
        b = np.clip(np.round(beta * 2.0**shift), -BETA_LIMIT, BETA_LIMIT).astype(np.int64)
        eps_term = min(round(node.attrs["epsilon"] * n * n / float(x.scale) ** 2), 1 << 61)
        node.q.update(size=n, eps_term=int(eps_term), shift=shift, output_offset=y.zero_point,
                      gamma=graph.add_constant(f"{node.name}_gamma_q", g).name,
                      beta=graph.add_constant(f"{node.name}_beta_q", b).name)

    def run_int(self, node, graph, xs):
        q = node.q
        n = q["size"]
        x = xs[0].astype(np.int64).reshape(-1, n)
        s = x.sum(axis=1)
        v = n * (x * x).sum(axis=1) - s * s + q["eps_term"]
        m, k = row_factors(v)
        d = n * x - s[:, None]
        right = (45 - k)[:, None]
        normalised = (d * m[:, None] + (np.int64(1) << (right - 1))) >> right
        p = q["shift"]
        g, b = graph.const(q["gamma"]).astype(np.int64), graph.const(q["beta"]).astype(np.int64)
        out = (normalised * g + b + (np.int64(1) << (p - 1))) >> p
        return np.clip(out + q["output_offset"], -128, 127).astype(np.int8).reshape(xs[0].shape)

    def kernel_calls(self, node, graph):
        q = node.q
        x = graph.tensors[node.inputs[0]]
        return [KernelCall("layer_norm_s8", dict(
            rows=int(np.prod(x.shape[1:])) // q["size"], size=q["size"], eps_term=q["eps_term"], shift=q["shift"],
            output_offset=q["output_offset"], gamma=ConstRef(q["gamma"]), beta=ConstRef(q["beta"])),
            [node.inputs[0], node.outputs[0]])]
