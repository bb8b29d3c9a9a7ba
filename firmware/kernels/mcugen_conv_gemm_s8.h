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
 * and one SMLAD does two MACs: 3-4 loads, 8 unpacks and 8 SMLADs per 16 MACs. The tail n % 4 is scalar
 * (the im2col kernel pads its rows so it has none). A layer whose n is a multiple of 4 and whose
 * weights are word-aligned takes mcugen_gemm_2x2_aligned_s8 (LDRD, no per-call tests), and a whole
 * block of a layer clamped to int8's own range is requantized by the assembly of
 * mcugen_gemm_store_2x2_folded (8 instructions per output, mcugen_gemm_fast_t).
 * Portable core (M0, M3, host): the same block in plain C, one byte load per 2 MACs.
 * The caller keeps every partial sum within int32 (mcugen checks |bias| + 128 * sum|w| < 2^31).
 */
#ifndef MCUGEN_CONV_GEMM_S8_H
#define MCUGEN_CONV_GEMM_S8_H

#include <stdint.h>

#include "mcugen_dsp.h"
#include "mcugen_fixedpoint.h"

#if MCUGEN_HAS_DSP
/* One 4-deep block of the 2 x 2 product, at input offset k (weights at 2 * k): 4 loads,
 * 8 SXTB16, 8 SMLAD: the 0 or 1 block the assembly loop below leaves. */
#define MCUGEN_GEMM_2X2_BLOCK(k)                                                              \
    do {                                                                                      \
        const uint32_t wa_ = mcugen_read_s8x4(w + 2 * (k)), wb_ = mcugen_read_s8x4(w + 2 * (k) + 4); \
        const uint32_t wa02_ = mcugen_sxtb16(wa_), wa13_ = mcugen_sxtb16_ror8(wa_);           \
        const uint32_t wb02_ = mcugen_sxtb16(wb_), wb13_ = mcugen_sxtb16_ror8(wb_);           \
        uint32_t x_ = mcugen_read_s8x4(x0 + (k));                                             \
        uint32_t x02_ = mcugen_sxtb16(x_), x13_ = mcugen_sxtb16_ror8(x_);                     \
        a00 = mcugen_smlad(x13_, wa13_, mcugen_smlad(x02_, wa02_, a00));                      \
        a01 = mcugen_smlad(x13_, wb13_, mcugen_smlad(x02_, wb02_, a01));                      \
        x_ = mcugen_read_s8x4(x1 + (k));                                                      \
        x02_ = mcugen_sxtb16(x_);                                                             \
        x13_ = mcugen_sxtb16_ror8(x_);                                                        \
        a10 = mcugen_smlad(x13_, wa13_, mcugen_smlad(x02_, wa02_, a10));                      \
        a11 = mcugen_smlad(x13_, wb13_, mcugen_smlad(x02_, wb02_, a11));                      \
    } while (0)
#else
/* Step i of a block on a core without DSP: 4 byte loads, 4 MACs. */
#define MCUGEN_GEMM_2X2_STEP(i)                                                \
    do {                                                                       \
        const int32_t xa_ = x0[i], xb_ = x1[i], wa_ = w[i], wb_ = w[4 + (i)]; \
        a00 += xa_ * wa_;                                                      \
        a01 += xa_ * wb_;                                                      \
        a10 += xb_ * wa_;                                                      \
        a11 += xb_ * wb_;                                                      \
    } while (0)
#endif

#if MCUGEN_HAS_DSP && defined(__GNUC__)
/* One 4-deep block of the 2 x 2 product in assembly (t0 = u[0..3], t1 = v[0..3] once LOAD_W has run):
 * 3 loads, 6 SXTB16, 8 SMLAD. */
#define MCUGEN_GEMM_2X2_ASM_BLOCK(LOAD_W) \
    LOAD_W \
    "ldr %[t2], [%[x0]], #4\n\t" \
    "sxtb16 %[t3], %[t0]\n\t" \
    "sxtb16 %[t0], %[t0], ror #8\n\t" \
    "sxtb16 %[t4], %[t1]\n\t" \
    "sxtb16 %[t1], %[t1], ror #8\n\t" \
    "sxtb16 %[t5], %[t2]\n\t" \
    "sxtb16 %[t2], %[t2], ror #8\n\t" \
    "smlad %[a00], %[t5], %[t3], %[a00]\n\t" \
    "smlad %[a00], %[t2], %[t0], %[a00]\n\t" \
    "smlad %[a01], %[t5], %[t4], %[a01]\n\t" \
    "smlad %[a01], %[t2], %[t1], %[a01]\n\t" \
    "ldr %[t2], [%[x1]], #4\n\t" \
    "sxtb16 %[t5], %[t2]\n\t" \
    "sxtb16 %[t2], %[t2], ror #8\n\t" \
    "smlad %[a10], %[t5], %[t3], %[a10]\n\t" \
    "smlad %[a10], %[t2], %[t0], %[a10]\n\t" \
    "smlad %[a11], %[t5], %[t4], %[a11]\n\t" \
    "smlad %[a11], %[t2], %[t1], %[a11]\n\t"
#define MCUGEN_GEMM_LOAD_W "ldr %[t0], [%[w]], #4\n\tldr %[t1], [%[w]], #4\n\t"
#define MCUGEN_GEMM_LOAD_W_ALIGNED "ldrd %[t0], %[t1], [%[w]], #8\n\t"
#define MCUGEN_GEMM_2X2_ASM_OUTPUTS                                                                       \
    [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [w] "+r"(w), [x0] "+r"(x0),       \
        [x1] "+r"(x1), [pairs] "+r"(block_pairs), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), \
        [t3] "=&r"(t3), [t4] "=&r"(t4), [t5] "=&r"(t5)
#endif

static inline void mcugen_gemm_2x2_s8(const int8_t *x0, const int8_t *x1, const int8_t *w, int32_t n,
                                      int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const int32_t tail = n & 3;
    int32_t i;
#if MCUGEN_HAS_DSP && defined(__GNUC__)
    int32_t block_pairs = n >> 3;
    if (block_pairs > 0) {
        /* Two blocks per pass, in assembly: all 14 free registers hold the 4 sums, 3 pointers, the
         * counter and 6 temporaries, so nothing spills (GCC 12's own schedule of this loop spills the
         * end pointer, and unrolled it spills sums): 40 + 2 instructions per 32 MACs. Word loads only:
         * w may be unaligned here (an odd n), and the usual aligned layer takes
         * mcugen_gemm_2x2_aligned_s8 and its LDRD instead. */
        uint32_t t0, t1, t2, t3, t4, t5;
        __asm__("1:\n\t" MCUGEN_GEMM_2X2_ASM_BLOCK(MCUGEN_GEMM_LOAD_W)
                MCUGEN_GEMM_2X2_ASM_BLOCK(MCUGEN_GEMM_LOAD_W) "subs %[pairs], %[pairs], #1\n\t"
                "bne 1b"
                : MCUGEN_GEMM_2X2_ASM_OUTPUTS : : "cc", "memory");
    }
    if (n & 4) {  /* the one block the pairs leave */
        MCUGEN_GEMM_2X2_BLOCK(0);
        w += 8;
        x0 += 4;
        x1 += 4;
    }
#else
    const int8_t *const w_blocks_end = w + 8 * (n >> 2);
    while (w < w_blocks_end) {
#if MCUGEN_HAS_DSP
        MCUGEN_GEMM_2X2_BLOCK(0);
#else
        /* Written out: GCC 12 keeps a 4-step loop here as a loop, 10 instructions per step. */
        MCUGEN_GEMM_2X2_STEP(0);
        MCUGEN_GEMM_2X2_STEP(1);
        MCUGEN_GEMM_2X2_STEP(2);
        MCUGEN_GEMM_2X2_STEP(3);
#endif
        w += 8;
        x0 += 4;
        x1 += 4;
    }
#endif
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

/* mcugen_gemm_2x2_s8 for n >= 8 a multiple of 4 and w word-aligned (a layer's usual case, checked
 * by the caller once per layer, mcugen_gemm_aligned): on a DSP core the assembly loop and at most
 * one 4-deep block, with none of the per-call tests for the scalar tail and the alignment. */
static inline void mcugen_gemm_2x2_aligned_s8(const int8_t *x0, const int8_t *x1, const int8_t *w, int32_t n,
                                              int32_t acc[4])
{
#if MCUGEN_HAS_DSP && defined(__GNUC__)
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t block_pairs = n >> 3;
    uint32_t t0, t1, t2, t3, t4, t5;
    __asm__("1:\n\t" MCUGEN_GEMM_2X2_ASM_BLOCK(MCUGEN_GEMM_LOAD_W_ALIGNED)
            MCUGEN_GEMM_2X2_ASM_BLOCK(MCUGEN_GEMM_LOAD_W_ALIGNED) "subs %[pairs], %[pairs], #1\n\t"
            "bne 1b"
            : MCUGEN_GEMM_2X2_ASM_OUTPUTS : : "cc", "memory");
    if (n & 4) MCUGEN_GEMM_2X2_BLOCK(0);
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
#else
    mcugen_gemm_2x2_s8(x0, x1, w, n, acc);
#endif
}

/* Whether the weights of a channel pair at w, n per channel, suit mcugen_gemm_2x2_aligned_s8. */
static inline int mcugen_gemm_aligned(const int8_t *w, int32_t n)
{
    return n >= 8 && (n & 3) == 0 && ((uintptr_t)w & 3u) == 0;
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
static inline int8_t mcugen_gemm_clamp_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                          int32_t act_min, int32_t act_max)
{
    return mcugen_clamp_s8(mcugen_requantize(acc, multiplier, shift) + output_offset, act_min, act_max);
}

/* The requantize of one output channel whose shift is in [-31, -2] (every layer's, but for
 * channels whose real multiplier is 1/4 or more): set up once per channel, then each output costs
 * one SMLAL and four ALU instructions before the clamp. For shift >= -23 (nearly all) the output
 * offset rides in the rounding term (mcugen_requantize_offset_right: it then fits in int32); below,
 * round is 2^(-shift - 2) alone and the offset is added after the shift (mcugen_requantize_right). */
typedef struct {
    int32_t multiplier, round, right1;
} mcugen_gemm_fast_t;

/* How a channel pair's outputs are requantized: through mcugen_requantize (a shift outside
 * [-31, -2]), with the offset folded (both shifts >= -23), or with the offset added after. */
enum { MCUGEN_GEMM_GENERAL, MCUGEN_GEMM_FOLDED, MCUGEN_GEMM_OFFSET_AFTER };

static inline void mcugen_gemm_fast_set(mcugen_gemm_fast_t *f, int32_t multiplier, int32_t shift, int32_t offset,
                                        int folded)
{
    f->multiplier = multiplier;
    f->right1 = -shift - 1;
    f->round = (1 << (-shift - 2)) + (folded ? (int32_t)((uint32_t)offset << (-shift - 1)) : 0);
}

/* Sets up f[0], f[1] for channels (multiplier0, shift0), (multiplier1, shift1) and returns the kind. */
static inline int mcugen_gemm_fast_pair(mcugen_gemm_fast_t f[2], int32_t multiplier0, int32_t shift0,
                                        int32_t multiplier1, int32_t shift1, int32_t offset)
{
    int folded;
    if (shift0 > -2 || shift1 > -2 || shift0 < -31 || shift1 < -31) return MCUGEN_GEMM_GENERAL;
    folded = shift0 >= -23 && shift1 >= -23;
    mcugen_gemm_fast_set(&f[0], multiplier0, shift0, offset, folded);
    mcugen_gemm_fast_set(&f[1], multiplier1, shift1, offset, folded);
    return folded ? MCUGEN_GEMM_FOLDED : MCUGEN_GEMM_OFFSET_AFTER;
}

/* requantize(acc) through the fast constants, not yet clamped: with the offset folded (kind
 * FOLDED) this already includes the output offset, otherwise (OFFSET_AFTER) the caller adds it. */
static inline int32_t mcugen_gemm_fast(int32_t acc, int32_t multiplier, int32_t round, int32_t right1)
{
    return mcugen_requantize_offset_right(acc, multiplier, round, right1);
}

/* The four outputs of a whole 2 x 2 block whose channels take the fast requantize with the offset
 * folded (kind FOLDED) and whose clamp is int8's own range [-128, 127] (the usual layer): out0[0],
 * out0[1], out1[0], out1[1] = ssat8(mcugen_gemm_fast(a00 / a01 / a10 / a11, f[0] / f[1] / f[0] /
 * f[1])) (f[0] = the constants of the first channel, f[1] of the second: six int32 words). On a
 * DSP core, 8 instructions per output and two loads per channel (GCC 12 spills the constants of
 * this epilogue and reloads them per output). */
static inline void mcugen_gemm_store_2x2_folded(int32_t a00, int32_t a01, int32_t a10, int32_t a11,
                                                const mcugen_gemm_fast_t f[2], int8_t *out0, int8_t *out1)
{
#if MCUGEN_HAS_DSP && defined(__GNUC__)
    int32_t m, round, right, lo, hi;
    /* y = (high word of acc * m + 2^30 - 2^31 [acc < 0]) + round, shifted right by right1, as
     * mcugen_requantize_offset_right; the low word of the start is acc's sign bit | 2^30. */
#define MCUGEN_GEMM_ASM_OUTPUT(acc, where)               \
    "asr %[hi], %[" acc "], #31\n\t"                    \
    "and %[lo], %[" acc "], #0x80000000\n\t"             \
    "orr %[lo], %[lo], #0x40000000\n\t"                  \
    "smlal %[lo], %[hi], %[" acc "], %[m]\n\t"           \
    "add %[hi], %[hi], %[round]\n\t"                     \
    "asr %[hi], %[hi], %[right]\n\t"                     \
    "ssat %[hi], #8, %[hi]\n\t"                          \
    "strb %[hi], " where "\n\t"
    __asm__ volatile("ldrd %[m], %[round], [%[k]]\n\t"
                     "ldr %[right], [%[k], #8]\n\t"
                     MCUGEN_GEMM_ASM_OUTPUT("a00", "[%[out0]]")
                     MCUGEN_GEMM_ASM_OUTPUT("a10", "[%[out1]]")
                     "ldrd %[m], %[round], [%[k], #12]\n\t"
                     "ldr %[right], [%[k], #20]\n\t"
                     MCUGEN_GEMM_ASM_OUTPUT("a01", "[%[out0], #1]")
                     MCUGEN_GEMM_ASM_OUTPUT("a11", "[%[out1], #1]")
                     : [m] "=&r"(m), [round] "=&r"(round), [right] "=&r"(right), [lo] "=&r"(lo), [hi] "=&r"(hi)
                     : [a00] "r"(a00), [a01] "r"(a01), [a10] "r"(a10), [a11] "r"(a11), [k] "r"(f),
                       [out0] "r"(out0), [out1] "r"(out1)
                     : "memory");
#undef MCUGEN_GEMM_ASM_OUTPUT
#else
    out0[0] = (int8_t)mcugen_ssat8(mcugen_gemm_fast(a00, f[0].multiplier, f[0].round, f[0].right1));
    out1[0] = (int8_t)mcugen_ssat8(mcugen_gemm_fast(a10, f[0].multiplier, f[0].round, f[0].right1));
    out0[1] = (int8_t)mcugen_ssat8(mcugen_gemm_fast(a01, f[1].multiplier, f[1].round, f[1].right1));
    out1[1] = (int8_t)mcugen_ssat8(mcugen_gemm_fast(a11, f[1].multiplier, f[1].round, f[1].right1));
#endif
}

/* The same for kind OFFSET_AFTER (a shift below -23: a channel whose weights nearly vanish), the
 * output offset added after the shift. It is rare: each kernel calls it through an out-of-line
 * wrapper of its own (static functions of different kernels must not share a name). */
static inline void mcugen_gemm_store_2x2_after(int32_t a00, int32_t a01, int32_t a10, int32_t a11,
                                               const mcugen_gemm_fast_t f[2], int32_t offset, int8_t *out0,
                                               int8_t *out1)
{
    out0[0] = (int8_t)mcugen_ssat8(mcugen_gemm_fast(a00, f[0].multiplier, f[0].round, f[0].right1) + offset);
    out0[1] = (int8_t)mcugen_ssat8(mcugen_gemm_fast(a01, f[1].multiplier, f[1].round, f[1].right1) + offset);
    out1[0] = (int8_t)mcugen_ssat8(mcugen_gemm_fast(a10, f[0].multiplier, f[0].round, f[0].right1) + offset);
    out1[1] = (int8_t)mcugen_ssat8(mcugen_gemm_fast(a11, f[1].multiplier, f[1].round, f[1].right1) + offset);
}

/* The output stage's constants, copied from the params struct into a local once per call: the
 * kernels store through int8_t pointers, which may alias anything, so fields read through p would be
 * reloaded after every store. */
typedef struct {
    const int32_t *multiplier;
    const int8_t *shift;
    int32_t output_offset, act_min, act_max;
} mcugen_gemm_output_t;

/* requantize(acc, multiplier[oc], shift[oc]) + output_offset, clamped: one int8 output. */
static inline int8_t mcugen_gemm_output_s8(const mcugen_gemm_output_t *o, int32_t acc, int32_t oc)
{
    return mcugen_clamp_s8(mcugen_requantize(acc, o->multiplier[oc], o->shift[oc]) + o->output_offset, o->act_min,
                           o->act_max);
}

/* The four outputs of a 2 x 2 block (acc as mcugen_gemm_2x2_s8 leaves it) at out0[oc], out0[oc1],
 * out1[oc], out1[oc1], leaving out the second channel or pixel when the block has only one. */
static inline void mcugen_gemm_store_2x2_s8(const mcugen_gemm_output_t *o, const int32_t acc[4], int8_t *out0,
                                            int8_t *out1, int32_t oc, int two_channels, int two_pixels)
{
    out0[oc] = mcugen_gemm_output_s8(o, acc[0], oc);
    if (two_channels) out0[oc + 1] = mcugen_gemm_output_s8(o, acc[1], oc + 1);
    if (two_pixels) {
        out1[oc] = mcugen_gemm_output_s8(o, acc[2], oc);
        if (two_channels) out1[oc + 1] = mcugen_gemm_output_s8(o, acc[3], oc + 1);
    }
}

#endif /* MCUGEN_CONV_GEMM_S8_H */
