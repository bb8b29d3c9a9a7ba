/*
 * mcugen_exp_f32.h — a portable float32 exp(x) without libm, bit-identical on every IEEE-754
 * target (x86, Cortex-M4F/M7 FPU, soft-float Cortex-M0/M3) when compiled with -ffp-contract=off.
 *
 *   n = trunc(x * log2(e) +/- 0.5)                    (round half away from zero)
 *   f = (x - n * C1) - n * C2                         (Cody-Waite: C1 + C2 = ln 2, n * C1 exact)
 *   p = ((((((P0 f + P1) f + P2) f + P3) f + P4) f + P5) * f^2 + f) + 1   (Cephes expf, |f| <= ln2/2)
 *   exp(x) = p * 2^n                                  (2^n built from its bits)
 * x > 88.7228317 gives +inf, x < -87.3365479 (results below FLT_MIN) gives 0, NaN gives NaN.
 * Every step is one float32 operation, in this order; the constants are exact hex floats.
 * Numpy twin: codegen/float32.py (exp_f32). Relative error about 2e-7 (a few ulp).
 */
#ifndef MCUGEN_EXP_F32_H
#define MCUGEN_EXP_F32_H

#include <stdint.h>

static inline float mcugen_float_from_bits(uint32_t bits)
{
    union {
        uint32_t u;
        float f;
    } v;
    v.u = bits;
    return v.f;
}

static inline float mcugen_exp_f32(float x)
{
    float k, h, f, z, p;
    int32_t n;
    if (x != x) return x;
    if (x > 0x1.62e42ep+6f) return mcugen_float_from_bits(0x7f800000u);
    if (x < -0x1.5d58a0p+6f) return 0.0f;
    k = x * 0x1.715476p+0f;
    h = k >= 0.0f ? k + 0.5f : k - 0.5f;
    n = (int32_t)h;
    f = x - (float)n * 0x1.63p-1f;
    f = f - (float)n * -0x1.bd0106p-13f;
    z = f * f;
    p = 0x1.a0d2cep-13f;
    p = p * f + 0x1.6e879cp-10f;
    p = p * f + 0x1.111210p-7f;
    p = p * f + 0x1.555382p-5f;
    p = p * f + 0x1.555554p-3f;
    p = p * f + 0x1.000000p-1f;
    p = p * z + f;
    p = p + 1.0f;
    if (n > 127) {
        p = p * 2.0f;
        n = 127;
    }
    return p * mcugen_float_from_bits((uint32_t)(n + 127) << 23);
}

#endif /* MCUGEN_EXP_F32_H */
