/*
 * mcugen_fixedpoint_single.h — TensorFlow Lite's single-rounding requantize, for the kernels of an
 * imported .tflite model whose TFLite kernel rounds once (its int8 fully connected requantizes through
 * the int64 overload of MultiplyByQuantizedMultiplier):
 *
 *   mcugen_requantize(acc, m, s) = (acc * m + 2^(30 - s)) >> (31 - s), saturated to int32,
 *
 * acc * m * 2^(s - 31) rounded once, ties toward +infinity (s in [-31, 30], so the shift is 1..62).
 * mcugen_fixedpoint.h's mcugen_requantize rounds twice (gemmlowp), as TFLite's conv does; a kernel
 * includes one of the two headers, never both. Numpy twin: codegen/ops/fixedpoint.py
 * requantize(..., single_rounding=True).
 */
#ifndef MCUGEN_FIXEDPOINT_SINGLE_H
#define MCUGEN_FIXEDPOINT_SINGLE_H

#include <stdint.h>

static inline int32_t mcugen_saturate_int32(int64_t x)
{
    if (x > INT32_MAX) return INT32_MAX;
    if (x < INT32_MIN) return INT32_MIN;
    return (int32_t)x;
}

static inline int32_t mcugen_requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
    /* shift = -r, r >= 2 (nearly every layer): floor((P + 2^(30+r)) / 2^(31+r)) with P = acc * m is
     * floor((floor(P / 2^32) + 2^(r-2)) / 2^(r-1)): the high word of one 32x32 multiply, no
     * 64-bit shift (|high| <= 2^30, so the sum stays in int32). */
    const int32_t total = 31 - shift;
    if (shift <= -2) {
        const int32_t high = (int32_t)(((int64_t)acc * multiplier) >> 32);
        return (high + (int32_t)((uint32_t)1 << (-shift - 2))) >> (-shift - 1);
    }
    return mcugen_saturate_int32(((int64_t)acc * multiplier + ((int64_t)1 << (total - 1))) >> total);
}

static inline int8_t mcugen_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return (int8_t)x;
}

#endif /* MCUGEN_FIXEDPOINT_SINGLE_H */
