/*
 * mcugen_conv_gemm_s8.h — the int8 matrix-multiply core of the fast conv kernels (1x1 and im2col).
 *
 * One pass computes a 2 x 2 block: two pixels (rows x0, x1 of n int8 input values) times two
 * output channels (weight rows u, v of n int8 each), four int32 sums
 *   acc[0] += x0 . u   acc[1] += x0 . v   acc[2] += x1 . u   acc[3] += x1 . v
 * Each loaded value is used twice, so the loop does 1 load per 2 MACs instead of 2.
 * Weight layout of a channel pair (arranged at compile time, codegen/ops/conv.py pair_rows):
 *   u[0..3] v[0..3] u[4..7] v[4..7] ... then the n % 4 tail u[..] v[..]
 * so one pointer walks both channels and a block is two adjacent words (one LDRD).
 * The input offset is not added here: the kernels fold input_offset * sum(w) into the bias at
 * compile time (codegen/ops/conv.py), so a sum is plain x . w.
 *
 * DSP core: four int8 values are one word; SXTB16 gives bytes (0, 2) and SXTB16 ROR 8 bytes (1, 3)
 * as int16 pairs, for inputs and weights alike, so the pairs line up without any weight reordering
 * and one SMLAD does two MACs: 3-4 loads, 8 unpacks and 8 SMLADs per 16 MACs. The tail n % 4 is scalar.
 * Portable core (M0, M3, host): the same block in plain C, one byte load per 2 MACs.
 * The caller keeps every partial sum within int32 (mcugen checks |bias| + 128 * sum|w| < 2^31).
 */
#ifndef MCUGEN_CONV_GEMM_S8_H
#define MCUGEN_CONV_GEMM_S8_H

#include <stdint.h>

#include "mcugen_dsp.h"
#include "mcugen_fixedpoint.h"

static inline void mcugen_gemm_2x2_s8(const int8_t *x0, const int8_t *x1, const int8_t *w, int32_t n,
                                      int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const int8_t *const w_blocks_end = w + 8 * (n >> 2);
    const int32_t tail = n & 3;
    int32_t i;
    while (w < w_blocks_end) {
#if MCUGEN_HAS_DSP
        const uint32_t wa = mcugen_read_s8x4(w), wb = mcugen_read_s8x4(w + 4);
        const uint32_t wa02 = mcugen_sxtb16(wa), wa13 = mcugen_sxtb16_ror8(wa);
        const uint32_t wb02 = mcugen_sxtb16(wb), wb13 = mcugen_sxtb16_ror8(wb);
        uint32_t x = mcugen_read_s8x4(x0);
        uint32_t x02 = mcugen_sxtb16(x), x13 = mcugen_sxtb16_ror8(x);
        a00 = mcugen_smlad(x02, wa02, a00);
        a00 = mcugen_smlad(x13, wa13, a00);
        a01 = mcugen_smlad(x02, wb02, a01);
        a01 = mcugen_smlad(x13, wb13, a01);
        x = mcugen_read_s8x4(x1);
        x02 = mcugen_sxtb16(x);
        x13 = mcugen_sxtb16_ror8(x);
        a10 = mcugen_smlad(x02, wa02, a10);
        a10 = mcugen_smlad(x13, wa13, a10);
        a11 = mcugen_smlad(x02, wb02, a11);
        a11 = mcugen_smlad(x13, wb13, a11);
#else
        for (i = 0; i < 4; ++i) {
            const int32_t xa = x0[i], xb = x1[i], wa = w[i], wb = w[4 + i];
            a00 += xa * wa;
            a01 += xa * wb;
            a10 += xb * wa;
            a11 += xb * wb;
        }
#endif
        w += 8;
        x0 += 4;
        x1 += 4;
    }
    for (i = 0; i < tail; ++i) {  /* the tail: the first channel's n % 4 weights, then the second's */
        const int32_t xa = x0[i], xb = x1[i], wa = w[i], wb = w[tail + i];
        a00 += xa * wa;
        a01 += xa * wb;
        a10 += xb * wa;
        a11 += xb * wb;
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* Two pixels times one output channel (the odd last channel of a group): a row of n plain weights. */
static inline void mcugen_gemm_2x1_s8(const int8_t *x0, const int8_t *x1, const int8_t *w, int32_t n,
                                      int32_t acc[2])
{
    int32_t a0 = acc[0], a1 = acc[1];
#if MCUGEN_HAS_DSP
    const int8_t *const w_words_end = w + 4 * (n >> 2);
    n &= 3;
    while (w < w_words_end) {
        const uint32_t wv = mcugen_read_s8x4(w);
        const uint32_t w02 = mcugen_sxtb16(wv), w13 = mcugen_sxtb16_ror8(wv);
        uint32_t x = mcugen_read_s8x4(x0);
        a0 = mcugen_smlad(mcugen_sxtb16(x), w02, a0);
        a0 = mcugen_smlad(mcugen_sxtb16_ror8(x), w13, a0);
        x = mcugen_read_s8x4(x1);
        a1 = mcugen_smlad(mcugen_sxtb16(x), w02, a1);
        a1 = mcugen_smlad(mcugen_sxtb16_ror8(x), w13, a1);
        w += 4;
        x0 += 4;
        x1 += 4;
    }
#endif
    while (n-- > 0) {
        const int32_t wv = *w++;
        a0 += *x0++ * wv;
        a1 += *x1++ * wv;
    }
    acc[0] = a0;
    acc[1] = a1;
}

/* requantize(acc, multiplier, shift) + output_offset, clamped: one int8 output. */
static inline int8_t mcugen_gemm_output_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                           int32_t act_min, int32_t act_max)
{
    return mcugen_clamp_s8(mcugen_requantize(acc, multiplier, shift) + output_offset, act_min, act_max);
}

#endif /* MCUGEN_CONV_GEMM_S8_H */
