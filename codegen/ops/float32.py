"""float32 arithmetic of the weight-only kernels: the numpy twin of firmware/kernels/mcugen_f32.h
and mcugen_exp_f32.h.

Every function here performs the same float32 operations as the C, in the same order, one
rounding per operation (numpy never fuses a multiply and an add; the C is compiled with
-ffp-contract=off). Sums are loops over the reduction axis, never np.sum (pairwise) or BLAS.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
F32_MAX = F32(float.fromhex("0x1.fffffep+127"))  # FLT_MAX, the clamp bound of an unbounded side

# mcugen_exp_f32.h, constant for constant (exact hex floats)
_EXP_HI = F32(float.fromhex("0x1.62e42ep+6"))  # 88.7228317: above, exp overflows
_EXP_LO = F32(float.fromhex("-0x1.5d58a0p+6"))  # -87.3365479: below, exp < FLT_MIN → 0
_LOG2E = F32(float.fromhex("0x1.715476p+0"))
_C1 = F32(float.fromhex("0x1.63p-1"))  # 0.693359375
_C2 = F32(float.fromhex("-0x1.bd0106p-13"))
_P = [F32(float.fromhex(h)) for h in ("0x1.a0d2cep-13", "0x1.6e879cp-10", "0x1.111210p-7",
                                     "0x1.555382p-5", "0x1.555554p-3", "0x1.000000p-1")]
_HALF, _ONE, _TWO = F32(0.5), F32(1.0), F32(2.0)


def exp_f32(x: np.ndarray) -> np.ndarray:
    """mcugen_exp_f32, element-wise, bit for bit."""
    x = np.asarray(x, dtype=F32)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        ok = (x <= _EXP_HI) & (x >= _EXP_LO)  # false for NaN too
        xs = np.where(ok, x, F32(0))
        k = xs * _LOG2E
        h = np.where(k >= 0, k + _HALF, k - _HALF)
        n = np.trunc(h).astype(np.int32)
        nf = n.astype(F32)
        f = xs - nf * _C1
        f = f - nf * _C2
        z = f * f
        p = np.full_like(f, _P[0])
        for c in _P[1:]:
            p = p * f + c
        p = p * z + f
        p = p + _ONE
        big = n > 127
        p = np.where(big, p * _TWO, p)
        n = np.where(big, 127, n)
        y = p * ((n + 127).astype(np.uint32) << np.uint32(23)).view(F32)
        y = np.where(x > _EXP_HI, F32(np.inf), np.where(x < _EXP_LO, F32(0), y))
        return np.where(np.isnan(x), x, y).astype(F32)


def clamp_f32(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """mcugen_clamp_f32: below lo → lo, above hi → hi, NaN passes."""
    lo, hi = F32(lo), F32(hi)
    return np.where(y < lo, lo, np.where(y > hi, hi, y)).astype(F32)


def float_bounds(node_attrs: dict) -> tuple[float, float]:
    """A fused activation's float32 clamp; an unbounded side clamps at -/+FLT_MAX."""
    lo, hi = node_attrs.get("act", (-np.inf, np.inf))
    lo = -F32_MAX if not np.isfinite(lo) else F32(lo)
    hi = F32_MAX if not np.isfinite(hi) else F32(hi)
    return float(lo), float(hi)


def ordered_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a [M, K] @ b [K, O] in float32 as the kernels sum: acc = 0, then acc += a[:, k] * b[k] for
    k = 0, 1, ..., each product and each sum rounded to float32."""
    a, b = a.astype(F32, copy=False), b.astype(F32, copy=False)
    acc = np.zeros((a.shape[0], b.shape[1]), dtype=F32)
    for k in range(a.shape[1]):
        acc = acc + a[:, k:k + 1] * b[k]
    return acc
