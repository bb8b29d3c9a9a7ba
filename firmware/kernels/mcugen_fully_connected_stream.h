/*
 * mcugen_fully_connected_stream.h — what the int8-activation fully connected kernels
 * (mcugen_fully_connected_s8.c, mcugen_fully_connected_s4.c) share: the input's tail word and
 * the epilogue that reads a block's requantize words from the compile-time stream.
 *
 * A block of n rows ends with n Q31 multipliers, n rounding terms and one word of n shift
 * bytes (codegen/ops/fully_connected.py::stream_block). With the fast path (every shift of the
 * layer in [-23, -2]) the rounding term is 2^(-shift - 2) + (output_offset << (-shift - 1)), the
 * byte is right1 = -shift - 1, and requantize(acc) + output_offset is
 * mcugen_requantize_offset_right; otherwise the term is 0, the byte is the shift, and the kernel
 * takes mcugen_requantize plus the offset. Then the clamp to [act_min, act_max].
 */
#ifndef MCUGEN_FULLY_CONNECTED_STREAM_H
#define MCUGEN_FULLY_CONNECTED_STREAM_H

#include <stdint.h>
#include "mcugen_dsp.h"
#include "mcugen_fixedpoint.h"

/* The input's last input_size % 4 bytes as one word, zero above (its weights are zero there). */
static inline uint32_t fc_tail_word(const int8_t *x, int32_t count)
{
    uint32_t word = 0;
    int32_t i;
    for (i = count - 1; i >= 0; --i) word = (word << 8) | (uint8_t)x[i];
    return word;
}

#if defined(__GNUC__) || defined(__clang__)
#define FC_NOINLINE __attribute__((noinline))
#define FC_ALWAYS_INLINE __attribute__((always_inline))
#else
#define FC_NOINLINE
#define FC_ALWAYS_INLINE
#endif

typedef struct {
    int32_t output_offset, act_min, act_max;
    int fast, full_range; /* every shift in [-23, -2]; act_min = -128 and act_max = 127 */
} fc_finish_t;

/* The rare case (a real multiplier of 1/4 or more, or below 2^-23): out of line, call sites stay small. */
static FC_NOINLINE int32_t fc_requantize_general(int32_t acc, int32_t multiplier, int32_t shift, int32_t offset)
{
    return mcugen_requantize(acc, multiplier, shift) + offset;
}

/* Output j of a block of n rows whose requantize words start at q: the multiplier at q[j], the
 * rounding term at q[n + j], the shift byte (right1 = -shift - 1 when fast) at byte j of q[2n]. */
static FC_ALWAYS_INLINE inline int32_t fc_output(const fc_finish_t *f, int32_t acc, const int32_t *q, int32_t n,
                                                 int32_t j)
{
    const int32_t shift = ((const int8_t *)(q + 2 * n))[j];
    const int32_t y = f->fast ? mcugen_requantize_offset_right(acc, q[j], q[n + j], shift)
                              : fc_requantize_general(acc, q[j], shift, f->output_offset);
#if MCUGEN_HAS_DSP
    if (f->full_range) return mcugen_ssat8(y); /* the clamp is int8's own: one SSAT */
#endif
    return mcugen_clamp_s8(y, f->act_min, f->act_max);
}

/* fc_output for a fast layer clamped to int8's own bounds, in a block of four rows. */
static FC_ALWAYS_INLINE inline int32_t fc_output_fast(int32_t acc, const int32_t *q, int32_t j)
{
    const int32_t y = mcugen_requantize_offset_right(acc, q[j], q[4 + j], ((const int8_t *)(q + 8))[j]);
#if MCUGEN_HAS_DSP
    return mcugen_ssat8(y);
#elif defined(__ARM_FEATURE_SAT) && defined(__GNUC__)
    return __builtin_arm_ssat(y, 8); /* SSAT is in ARMv7-M without the DSP extension */
#else
    return y < -128 ? -128 : y > 127 ? 127 : y;
#endif
}

#endif /* MCUGEN_FULLY_CONNECTED_STREAM_H */
