"""Integer arithmetic of the TFLite int8 spec, in numpy: the twin of firmware/kernels/mcugen_fixedpoint.h.

A real multiplier M (an output scale ratio) is stored as a Q31 integer and a power-of-two shift,
M = multiplier * 2**(shift - 31). Applying it to an int32 accumulator uses gemmlowp's rounding:
a saturating rounding doubling high multiply, then a rounding right shift (ties away from zero).
All functions take and return int64 numpy arrays holding int32 values.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Split a positive real multiplier into (Q31 multiplier, shift) with real = m * 2**(shift-31).

    The edges, each harmless or excluded at compile time (tests/test_overflow.py):
    - a mantissa that rounds up to 2**31 (real just below a power of two) becomes 2**30 with
      shift + 1, so m always fits int32 and m * 2**(shift-31) stays within 2**-31 of real;
    - real < 2**-32 gives (0, 0): for any int32 acc, |acc * real| < 0.5, so the exact result is 0
      as well; int16 layers (int64 acc up to 2**47) never get there, because
      ops/base.py::weight_scale_floor keeps their multipliers >= 2**-31 and
      ops/conv.py::check_weighted_constants refuses a fixed (pre-quantized) scale that would;
    - real >= 2**30 gives (2**31 - 1, 30): any nonzero acc saturates the output either way;
    - a real scale >= 1 is a positive shift, applied as a saturating left shift (requantize), and
      int16 layers, whose requantize_s64 needs shift <= 14, refuse larger ones.
    Shifts therefore lie in [-31, 30], so every C shift count is in range (0..31 right, 0..30 left)."""
    if real <= 0.0 or not math.isfinite(real):
        return 0, 0
    mantissa, shift = math.frexp(real)  # real = mantissa * 2**shift, mantissa in [0.5, 1)
    q = int(math.floor(mantissa * (1 << 31) + 0.5))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return INT32_MAX, 30
    return q, shift


def saturate_int32(x: np.ndarray) -> np.ndarray:
    return np.clip(x, INT32_MIN, INT32_MAX)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    total = ab + nudge
    # C's int64 division truncates toward zero; numpy's >> floors, so mirror negative values.
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def requantize(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, single_rounding: bool = False
               ) -> np.ndarray:
    """acc * multiplier * 2**(shift-31), rounded as TFLite's MultiplyByQuantizedMultiplier.

    A positive shift is applied first as a saturating left shift (TFLite leaves overflow there
    undefined; saturating keeps the C free of undefined behaviour and equal to this model).
    single_rounding: TFLite's TFLITE_SINGLE_ROUNDING build (ai-edge-litert's): one rounding, half
    toward +infinity, (acc * m + 2**(30 - shift)) >> (31 - shift), saturated to int32.
    """
    if single_rounding:
        total = 31 - np.asarray(shift, dtype=np.int64)
        product = np.asarray(acc, dtype=np.int64) * np.asarray(multiplier, dtype=np.int64)
        return saturate_int32((product + (np.int64(1) << (total - 1))) >> total)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = saturate_int32(np.asarray(acc, dtype=np.int64) * (np.int64(1) << left))
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def rounding_divide(numerator: np.ndarray, denominator: int | np.ndarray) -> np.ndarray:
    """Integer division rounding half away from zero, as `(n +/- d/2) / d` in C."""
    n = np.asarray(numerator, dtype=np.int64)
    d = np.asarray(denominator, dtype=np.int64)
    biased = np.where(n >= 0, n + d // 2, n - d // 2)
    return np.where(biased >= 0, biased // d, -((-biased) // d))


def requantize_s64(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """acc * multiplier * 2**(shift-31) for the 64-bit accumulators of 16-bit activations.

    The Q31 multiplier is first rounded to Q15 so that acc * multiplier fits in int64 for any
    |acc| < 2**47; then a rounding right shift by 15 - shift (ties toward +infinity), as the
    TFLite 16x8 reference does. Requires shift <= 14 (checked at quantization time).
    """
    m = np.asarray(multiplier, dtype=np.int64)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total_shift = 15 - np.asarray(shift, dtype=np.int64)
    product = np.asarray(acc, dtype=np.int64) * reduced
    rounded = (product + (np.int64(1) << (total_shift - 1))) >> total_shift
    return saturate_int32(rounded)


def requantize_round_once(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """acc * multiplier * 2**(shift-31) with a single rounding, half away from zero.

    requantize() rounds twice (in the doubling high multiply, then in the shift), which with a
    power-of-two multiplier turns 15.25 into 16. Average pooling divides by the window size
    through its multiplier, so it uses this: round(acc / n) exactly, as TFLite's average pool
    and ONNX Runtime compute it. Needs |acc * multiplier| < 2**62.
    """
    product = np.asarray(acc, dtype=np.int64) * np.asarray(multiplier, dtype=np.int64)
    total_shift = 31 - np.asarray(shift, dtype=np.int64)
    half = np.int64(1) << (total_shift - 1)
    return saturate_int32((product + np.where(product >= 0, half, half - 1)) >> total_shift)
