/*
 * mcugen_gemmlowp.h — gemmlowp's fixed-point exp and reciprocal, as TensorFlow Lite's reference
 * int8 softmax uses them. Q-format int32 values (FixedPoint<int32, I>: I integer bits):
 * a product is the saturating rounding doubling high multiply of the raws, a sum the int32 sum,
 * a rescale to fewer integer bits a saturating left shift.
 *
 *   mcugen_exp_on_negative_values_5(a): exp(a), a <= 0 with 5 integer bits, result with 0:
 *     a Taylor polynomial around -1/8 on a mod 1/4 in [-1/4, 0), then one multiply by
 *     exp(-2^k) for each set bit k = -2..4 of the rest; exp(0) = INT32_MAX.
 *   mcugen_reciprocal(x, integer_bits, &n): 1 / x = result * 2^-n (TFLite's GetReciprocal):
 *     x normalised to 1 + f, f in [0, 1), then 1 / (1 + f) by three Newton-Raphson steps on the
 *     half denominator from 48/17 - 32/17 * d (Q2).
 * Numpy twin: codegen/ops/gemmlowp.py.
 */
#ifndef MCUGEN_GEMMLOWP_H
#define MCUGEN_GEMMLOWP_H

#include <stdint.h>
#include "mcugen_fixedpoint.h"

/* x * 2^exponent saturated to int32 (gemmlowp's SaturatingRoundingMultiplyByPOT, exponent > 0) */
static inline int32_t mcugen_sat_shift_left(int32_t x, int32_t exponent)
{
    return mcugen_saturate_int32((int64_t)x * ((int64_t)1 << exponent));
}

static inline int32_t mcugen_exp_on_interval_quarter(int32_t a)
{
    const int32_t x = a + (1 << 28); /* a + 1/8 */
    const int32_t x2 = mcugen_sat_rounding_doubling_high_mul(x, x);
    const int32_t x3 = mcugen_sat_rounding_doubling_high_mul(x2, x);
    const int32_t x4 = mcugen_sat_rounding_doubling_high_mul(x2, x2);
    const int32_t x4_over_4 = mcugen_rounding_divide_by_pot(x4, 2);
    const int32_t poly = mcugen_rounding_divide_by_pot(
        mcugen_sat_rounding_doubling_high_mul(x4_over_4 + x3, 715827883) + x2, 1);
    return 1895147668 + mcugen_sat_rounding_doubling_high_mul(1895147668, x + poly);
}

static inline int32_t mcugen_exp_on_negative_values_5(int32_t a)
{
    /* 5 integer bits, 26 fractional: 1/4 is 2^24 */
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t quarter = (int32_t)1 << 24;
    const int32_t a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter;
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    int32_t result = mcugen_exp_on_interval_quarter(mcugen_sat_shift_left(a_mod_quarter_minus_quarter, 5));
    int32_t k;
    if (a == 0) return INT32_MAX;
    for (k = 0; k < 7; ++k) {
        if (remainder & ((int32_t)1 << (24 + k))) result = mcugen_sat_rounding_doubling_high_mul(result, barrel[k]);
    }
    return result;
}

static inline int32_t mcugen_one_over_one_plus_x(int32_t a)
{
    /* RoundingHalfSum(a, One) for a >= 0 */
    const int32_t half_denominator = (int32_t)(((int64_t)a + INT32_MAX + 1) / 2);
    int32_t x = 1515870810 + mcugen_sat_rounding_doubling_high_mul(half_denominator, -1010580540);
    int32_t i;
    for (i = 0; i < 3; ++i) {
        const int32_t one_minus = (1 << 29) - mcugen_sat_rounding_doubling_high_mul(half_denominator, x);
        x = x + mcugen_sat_shift_left(mcugen_sat_rounding_doubling_high_mul(x, one_minus), 2);
    }
    return mcugen_sat_shift_left(x, 1);
}

static inline int32_t mcugen_reciprocal(int32_t x, int32_t integer_bits, int32_t *bits_over_unit)
{
    /* x > 0: headroom_plus_one = leading zeros of x as a uint32 */
    int32_t headroom_plus_one = 0;
    uint32_t u = (uint32_t)x;
    while (!(u & 0x80000000u)) {
        u <<= 1;
        ++headroom_plus_one;
    }
    *bits_over_unit = integer_bits - headroom_plus_one;
    return mcugen_one_over_one_plus_x((int32_t)(u - 0x80000000u));
}

/* RoundingDivideByPOT for exponents up to 62 (a softmax's 23 + bits over unit may pass 31) */
static inline int32_t mcugen_rounding_divide_by_pot_wide(int32_t x, int32_t exponent)
{
    const int64_t mask = ((int64_t)1 << exponent) - 1;
    const int64_t remainder = (int64_t)x & mask;
    const int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int32_t)(((int64_t)x >> exponent) + (remainder > threshold ? 1 : 0));
}

#endif /* MCUGEN_GEMMLOWP_H */
