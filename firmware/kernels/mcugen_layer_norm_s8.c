/*
 * mcugen_layer_norm_s8.c — int8 layer normalization, statistics in integer arithmetic.
 *
 * Per row of N = size codes x (the input zero point cancels in x - mean):
 *   s = sum x (int32), ss = sum x^2 (int64), D = N * ss - s^2 + eps_term (D = 1 if it is 0)
 *   k = smallest k >= 0 with D * 4^k >= 2^60;  S = floor(sqrt(D * 4^k));  m = floor((2^61 - 1) / S)
 *   for each element i: d = N * x[i] - s
 *     n = floor((d * m + 2^(44 - k)) / 2^(45 - k))       the normalised value in Q16
 *     output[i] = clamp(output_offset + floor((n * gamma[i] + beta[i] + 2^(P - 1)) / 2^P), -128, 127)
 * S lies in [2^30, 2^31) and m in [2^30, 2^31); |d * m| < 2^53 and |n * gamma| < 2^55, so every
 * product fits int64. The square root and the division are digit-by-digit loops (no libgcc
 * division); right shifts of negative int64 values are arithmetic (floor), as on every target
 * mcugen builds for (mcugen_fixedpoint.h relies on the same). Numpy twin: codegen/ops/layer_norm.py.
 */
#include "mcugen_layer_norm_s8.h"

/* floor(sqrt(v)), digit by digit */
static uint32_t mcugen_layer_norm_isqrt(uint64_t v)
{
    uint64_t root = 0, bit = (uint64_t)1 << 62;
    while (bit > v) bit >>= 2;
    while (bit) {
        if (v >= root + bit) {
            v -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)root;
}

/* floor((2^61 - 1) / d) for d in [2^30, 2^31): restoring division, one quotient bit per step */
static uint32_t mcugen_layer_norm_reciprocal(uint32_t d)
{
    uint64_t rem = 0;
    uint32_t q = 0;
    int32_t i;
    for (i = 60; i >= 0; --i) {
        rem = (rem << 1) | 1u;
        q <<= 1;
        if (rem >= d) {
            rem -= d;
            q |= 1u;
        }
    }
    return q;
}

void mcugen_layer_norm_s8(const mcugen_layer_norm_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t size = p->size;
    const int64_t round = (int64_t)1 << (p->shift - 1);
    int32_t r, i;
    for (r = 0; r < p->rows; ++r, input += size, output += size) {
        int32_t s = 0, k = 0, right;
        int64_t ss = 0, half;
        uint64_t d2;
        uint32_t m;
        for (i = 0; i < size; ++i) {
            s += input[i];
            ss += (int32_t)input[i] * input[i];
        }
        d2 = (uint64_t)((int64_t)size * ss - (int64_t)s * s) + (uint64_t)p->eps_term;
        if (d2 == 0) d2 = 1;
        while (d2 < ((uint64_t)1 << 60)) {
            d2 <<= 2;
            ++k;
        }
        m = mcugen_layer_norm_reciprocal(mcugen_layer_norm_isqrt(d2));
        right = 45 - k;
        half = (int64_t)1 << (right - 1);
        for (i = 0; i < size; ++i) {
            const int32_t d = size * input[i] - s;
            const int32_t n = (int32_t)(((int64_t)d * m + half) >> right);
            const int64_t acc = (int64_t)n * p->gamma[i] + p->beta[i] + round;
            int64_t y = (acc >> p->shift) + p->output_offset;
            if (y < -128) y = -128;
            if (y > 127) y = 127;
            output[i] = (int8_t)y;
        }
    }
}
