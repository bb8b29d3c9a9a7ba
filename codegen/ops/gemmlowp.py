"""gemmlowp's fixed-point transcendentals, in numpy: the twin of firmware/kernels/mcugen_gemmlowp.h.

TensorFlow Lite's reference int8 softmax (and logistic/tanh) compute exp and 1/x on Q-format int32
values with gemmlowp's FixedPoint<int32, I> (I integer bits, 31 - I fractional bits). Written here
from gemmlowp's documented algorithms, operation for operation, on int64 arrays holding int32 values:
- a product of two FixedPoints is the saturating rounding doubling high multiply of their raws;
  a sum is the plain int32 sum (the ranges below never overflow it);
- Rescale from I to J integer bits is a saturating left shift by I - J (I > J) or a rounding right
  shift by J - I (ties away from zero);
- exp_on_negative_values(a), a <= 0 with 5 integer bits: exp on [-1/4, 0) by a Taylor polynomial
  around -1/8 on the fractional part a mod 1/4, then one multiply by exp(-2**k) per set bit k of
  the rest (a barrel shifter over k = -2..4); exp(0) is exactly the largest raw (1 - 2**-31);
- one_over_one_plus_x_for_x_in_0_1(a): 1 / (1 + a) by three Newton-Raphson steps on the half
  denominator from the initial guess 48/17 - 32/17 * d, in Q2.
"""

from __future__ import annotations

import numpy as np

from .fixedpoint import INT32_MAX, INT32_MIN, rounding_divide_by_pot
from .fixedpoint import saturating_rounding_doubling_high_mul as mul

# round(2**31 * exp(-2**k)) for k = -2 .. 4: the barrel shifter's multipliers (0 integer bits)
EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
              (3, 720401), (4, 242))
EXP_MINUS_ONE_EIGHTH = 1895147668  # exp(-1/8), 0 integer bits
ONE_THIRD = 715827883
FORTY_EIGHT_OVER_17 = 1515870810  # Q2
MINUS_32_OVER_17 = -1010580540  # Q2


def sat_shift_left(x: np.ndarray, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT with a positive exponent: x * 2**exponent, saturated to int32."""
    return np.clip(np.asarray(x, np.int64) << exponent, INT32_MIN, INT32_MAX)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), both with 0 integer bits."""
    x = np.asarray(a, np.int64) + (1 << 28)  # a + 1/8
    x2 = mul(x, x)
    x3 = mul(x2, x)
    x4 = mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(mul(x4_over_4 + x3, ONE_THIRD) + x2, 1)
    return EXP_MINUS_ONE_EIGHTH + mul(EXP_MINUS_ONE_EIGHTH, x + poly)


def exp_on_negative_values(a: np.ndarray, integer_bits: int = 5) -> np.ndarray:
    """exp(a) for a <= 0 with `integer_bits` integer bits (at most 5 here); the result has 0."""
    assert integer_bits <= 5
    a = np.asarray(a, np.int64)
    fractional = 31 - integer_bits
    quarter = 1 << (fractional - 2)
    a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        sat_shift_left(a_mod_quarter_minus_quarter, integer_bits))
    remainder = a_mod_quarter_minus_quarter - a
    for exponent, multiplier in EXP_BARREL:
        if integer_bits > exponent:
            bit = (remainder & (1 << (fractional + exponent))) != 0
            result = np.where(bit, mul(result, multiplier), result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """1 / (1 + a) for a in [0, 1), 0 integer bits in and out."""
    a = np.asarray(a, np.int64)
    total = a + INT32_MAX  # RoundingHalfSum(a, One): (sum + sign) / 2, truncating
    half_denominator = np.where(total >= 0, (total + 1) // 2, -((-(total - 1)) // 2))
    x = FORTY_EIGHT_OVER_17 + mul(half_denominator, MINUS_32_OVER_17)
    for _ in range(3):
        one_minus = (1 << 29) - mul(half_denominator, x)
        x = x + sat_shift_left(mul(x, one_minus), 2)
    return sat_shift_left(x, 1)


def count_leading_zeros(x: np.ndarray) -> np.ndarray:
    """Leading zero bits of x as a uint32 (x > 0)."""
    x = np.asarray(x, np.int64)
    bits = np.zeros(x.shape, np.int64)
    for b in range(32):
        bits = np.where((x >> b) & 1 != 0, b + 1, bits)
    return 32 - bits


def reciprocal(x: np.ndarray, integer_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's GetReciprocal: for x > 0 with `integer_bits` integer bits, (s, n) with
    1 / x = s * 2**-n, s with 0 integer bits: x is normalised to 1 + f, f in [0, 1), s = 1 / (1 + f)."""
    x = np.asarray(x, np.int64)
    headroom_plus_one = count_leading_zeros(x)
    bits_over_unit = integer_bits - headroom_plus_one
    shifted_minus_one = ((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), bits_over_unit


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """(1 - a) / (1 + a) for a in [0, 1), 0 integer bits: the same Newton-Raphson 2 / (1 + a), minus 1."""
    a = np.asarray(a, np.int64)
    total = a + INT32_MAX
    half_denominator = (total + 1) // 2
    x = FORTY_EIGHT_OVER_17 + mul(half_denominator, MINUS_32_OVER_17)
    for _ in range(3):
        one_minus = (1 << 29) - mul(half_denominator, x)
        x = x + sat_shift_left(mul(x, one_minus), 2)
    return sat_shift_left(x - (1 << 29), 2)


def logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp::logistic: 1 / (1 + exp(-a)) with 0 integer bits; 1/2 at 0, 1 - f(|a|) below it."""
    a = np.asarray(a, np.int64)
    positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-np.abs(a), integer_bits))
    return np.where(a == 0, 1 << 30, np.where(a > 0, positive, INT32_MAX - positive))


def tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp::tanh: (1 - e) / (1 + e), e = exp(-2|a|) (the raw of -|a| read with one more integer
    bit), negated for a < 0; 0 at 0. 0 integer bits."""
    a = np.asarray(a, np.int64)
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-np.abs(a), integer_bits + 1))
    return np.where(a == 0, 0, np.where(a < 0, -t, t))
