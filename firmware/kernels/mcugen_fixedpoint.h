/*
 * mcugen_fixedpoint.h — integer arithmetic of the TFLite int8 quantization spec.
 *
 * A real multiplier M is stored as a Q31 integer m and a shift s with M = m * 2^(s - 31).
 * mcugen_requantize(acc, m, s) computes round(acc * M) exactly as gemmlowp/TFLite do:
 *   left shift by max(s, 0) (saturating), saturating rounding doubling high multiply by m,
 *   rounding right shift by max(-s, 0) with ties away from zero.
 * Numpy twin: codegen/fixedpoint.py. Every kernel's result depends on these three lines being
 * identical on host and target, so they use only int32/int64 arithmetic.
 */
#ifndef MCUGEN_FIXEDPOINT_H
#define MCUGEN_FIXEDPOINT_H

#include <stdint.h>

static inline int32_t mcugen_saturate_int32(int64_t x)
{
    if (x > INT32_MAX) return INT32_MAX;
    if (x < INT32_MIN) return INT32_MIN;
    return (int32_t)x;
}

static inline int32_t mcugen_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudge;
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static inline int32_t mcugen_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t mcugen_requantize_general(int32_t acc, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t shifted = mcugen_saturate_int32((int64_t)acc * ((int64_t)1 << left));
    return mcugen_rounding_divide_by_pot(mcugen_sat_rounding_doubling_high_mul(shifted, multiplier), right);
}

/* The fast paths of mcugen_requantize (multiplier >= 0, shift <= 0; a left shift takes the general path).
 * For a right shift of at least 2 (shift <= -2, every layer whose
 * output scale is at least 4x its input scale times its weight scale: nearly all of them), with
 * multiplier >= 0 (always: it is the Q31 mantissa of a positive scale ratio).
 * The doubling high multiply is x = floor((acc*m + 2^30) / 2^31) for every sign (C's truncating
 * division with gemmlowp's negative nudge equals this floor), and rounding x / 2^r half away from
 * zero is floor((x + 2^(r-1) - [x < 0]) / 2^r). floor(floor(a/b)/c) = floor(a/(bc)) merges the
 * two roundings into one 64-bit sum shifted by 31 + r; its low word only carries into the high
 * word, so the result is (high word of acc*m + nudge) + 2^(r-2), shifted right by r - 1, where
 * nudge = 2^30 - 2^31*[acc < 0] (one SMLAL on a DSP core or an M3). [acc < 0] may differ from
 * [x < 0] only when x = 0, where both give 0 for r >= 2. Bit-exact with the general path and
 * with codegen/fixedpoint.py requantize; tests/test_conv_variants.py sweeps it. */
static inline int32_t mcugen_requantize_right(int32_t acc, int32_t multiplier, int32_t right)
{
    /* nudge = 2^30 - 2^31 [acc < 0] as 64 bits: high word = acc >> 31 (0 or -1), low word =
     * 0x40000000 or 0xC0000000 = acc's sign bit | 2^30. Three instructions, no branch. */
    const uint32_t sign_word = (uint32_t)(acc >> 31);
    const int64_t nudge = (int64_t)(((uint64_t)sign_word << 32) | ((uint32_t)acc & 0x80000000u) | 0x40000000u);
    const int32_t high = (int32_t)(((int64_t)acc * multiplier + nudge) >> 32);
    return (high + (int32_t)((uint32_t)1 << (right - 2))) >> (right - 1);
}

/* mcugen_requantize_right with the output offset riding along, for kernels that add it anyway:
 * adding offset << right1 before the shift adds exactly offset after it, and for shift in
 * [-23, -2] the sum stays within int32 (|high| <= 2^30, the rest below 2^30). The caller computes
 * once per channel right1 = -shift - 1 and round = 2^(-shift - 2) + (offset << right1); the result
 * is requantize(acc, multiplier, shift) + offset. */
static inline int32_t mcugen_requantize_offset_right(int32_t acc, int32_t multiplier, int32_t round, int32_t right1)
{
    const uint32_t negative = (uint32_t)(acc >> 31); /* all ones when acc < 0 */
    const uint64_t start = ((uint64_t)negative << 32) | (0x40000000u | (negative << 31)); /* +/- 2^30 */
    const uint64_t rounded = start + (uint64_t)((int64_t)acc * multiplier);
    return ((int32_t)(uint32_t)(rounded >> 32) + round) >> right1;
}

/* The same for shift = -1 and shift = 0 (no left shift; element-wise Add's input rescaling uses
 * these). Right shift 1: floor((P + 2^30 + 2^31 - 2^31 [acc < 0]) / 2^32) with P = acc * m, the
 * high word of one SMLAL (the x = 0 case is again the same either way). Right shift 0: the
 * doubling high multiply alone, floor((P + 2^30) / 2^31). */
static inline int32_t mcugen_requantize_right1(int32_t acc, int32_t multiplier)
{
    const int64_t nudge = (int64_t)((~(uint32_t)acc & 0x80000000u) | 0x40000000u);  /* 3 * 2^30 or 2^30 */
    return (int32_t)(((int64_t)acc * multiplier + nudge) >> 32);
}

static inline int32_t mcugen_requantize_right0(int32_t acc, int32_t multiplier)
{
    return (int32_t)(((int64_t)acc * multiplier + ((int64_t)1 << 30)) >> 31);
}

static inline int32_t mcugen_requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
#if defined(__GNUC__)
    if (__builtin_expect(shift <= -2, 1)) return mcugen_requantize_right(acc, multiplier, -shift);  /* inline, no jump */
#else
    if (shift <= -2) return mcugen_requantize_right(acc, multiplier, -shift);
#endif
    if (shift == -1) return mcugen_requantize_right1(acc, multiplier);
    if (shift == 0) return mcugen_requantize_right0(acc, multiplier);
    return mcugen_requantize_general(acc, multiplier, shift);
}

/* The 16-bit-activation variant (64-bit accumulators): the Q31 multiplier is rounded to Q15 so
 * acc * multiplier fits in int64 for |acc| < 2^47, then shifted right by 15 - shift rounding
 * ties toward +infinity. mcugen guarantees shift <= 14 for these layers. */
static inline int32_t mcugen_requantize_s64(int64_t acc, int32_t multiplier, int32_t shift)
{
    const int64_t reduced = multiplier < 0x7FFF0000 ? ((int64_t)multiplier + (1 << 15)) >> 16 : 0x7FFF;
    const int32_t total_shift = 15 - shift;
    const int64_t rounded = (acc * reduced + ((int64_t)1 << (total_shift - 1))) >> total_shift;
    return mcugen_saturate_int32(rounded);
}

/* acc * m * 2^(s - 31) rounded once, half away from zero (mcugen_requantize rounds twice, which
 * turns 15.25 into 16 when m is a power of two). Average pooling divides by the window size
 * through m, so it uses this to get round(acc / n) exactly. Needs |acc * m| < 2^62. */
static inline int32_t mcugen_requantize_round_once(int32_t acc, int32_t multiplier, int32_t shift)
{
    const int64_t product = (int64_t)acc * (int64_t)multiplier;
    const int32_t total_shift = 31 - shift;
    const int64_t half = (int64_t)1 << (total_shift - 1);
    return mcugen_saturate_int32((product + (product >= 0 ? half : half - 1)) >> total_shift);
}

static inline int16_t mcugen_clamp_s16(int32_t x, int32_t lo, int32_t hi)
{
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return (int16_t)x;
}

static inline int8_t mcugen_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return (int8_t)x;
}

#endif /* MCUGEN_FIXEDPOINT_H */
