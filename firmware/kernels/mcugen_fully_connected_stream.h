/*
 * mcugen_fully_connected_stream.h — what the int8-activation fully connected kernels
 * (mcugen_fully_connected_s8.c, mcugen_fully_connected_s4.c) share: the input's tail word and
 * the epilogue that reads a block's requantize words from the compile-time stream.
 *
 * A block of n rows ends with n Q31 multipliers and one word of n shift bytes
 * (codegen/ops/fully_connected.py::stream_blocks). With the fast path (every shift of the layer
 * in [-23, -2]; p->fast) the byte is b = -shift - 2, and requantize(acc) + output_offset is
 *   ((H >> b) + 2 * output_offset + 1) >> 1,  H = high word of acc * m + 2^30 - 2^31 [acc < 0]
 * (fc_requantize_fast: one SMLAL and three instructions, the offset included); otherwise the
 * byte is the shift and the kernel takes mcugen_requantize plus the offset. Then the clamp to
 * [act_min, act_max].
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
    int32_t odd_offset;   /* 2 * output_offset + 1 */
    int fast, full_range; /* every shift in [-23, -2]; act_min = -128 and act_max = 127 */
} fc_finish_t;

static inline void fc_finish_init(fc_finish_t *f, int32_t output_offset, int32_t act_min, int32_t act_max, int32_t fast)
{
    f->output_offset = output_offset, f->act_min = act_min, f->act_max = act_max;
    f->odd_offset = 2 * output_offset + 1;
    f->fast = fast, f->full_range = act_min == -128 && act_max == 127;
}

/* requantize(acc, m, shift) + offset for shift = -b - 2 in [-23, -2], odd_offset = 2 * offset + 1.
 * mcugen_requantize_right's one rounding: (H + 2^b + offset * 2^(b+1)) >> (b + 1), H the high
 * word below; and floor((H + 2^b * t) / 2^(b+1)) = floor((floor(H / 2^b) + t) / 2) for integer
 * t = 2 * offset + 1, so the offset and the rounding bit ride in one add. |H| <= 2^30: no overflow. */
static inline int32_t fc_requantize_fast(int32_t acc, int32_t multiplier, int32_t b, int32_t odd_offset)
{
    const uint32_t negative = (uint32_t)(acc >> 31); /* all ones when acc < 0 */
    const uint64_t start = ((uint64_t)negative << 32) | (0x40000000u | (negative << 31)); /* +/- 2^30 */
    const uint64_t rounded = start + (uint64_t)((int64_t)acc * multiplier);
    return (((int32_t)(uint32_t)(rounded >> 32) >> b) + odd_offset) >> 1;
}

/* The rare case (a real multiplier of 1/4 or more, or below 2^-23): out of line, call sites stay small. */
static FC_NOINLINE int32_t fc_requantize_general(int32_t acc, int32_t multiplier, int32_t shift, int32_t offset)
{
    return mcugen_requantize(acc, multiplier, shift) + offset;
}

/* Output j of a block of n rows whose requantize words start at q: the multiplier at q[j], the
 * shift byte (b = -shift - 2 when fast) at byte j of q[n]. */
static FC_ALWAYS_INLINE inline int32_t fc_output(const fc_finish_t *f, int32_t acc, const int32_t *q, int32_t n,
                                                 int32_t j)
{
    const int32_t shift = ((const int8_t *)(q + n))[j];
    const int32_t y = f->fast ? fc_requantize_fast(acc, q[j], shift, f->odd_offset)
                              : fc_requantize_general(acc, q[j], shift, f->output_offset);
#if MCUGEN_HAS_DSP
    if (f->full_range) return mcugen_ssat8(y); /* the clamp is int8's own: one SSAT */
#endif
    return mcugen_clamp_s8(y, f->act_min, f->act_max);
}

/* fc_output for a fast layer clamped to int8's own bounds, in a block of four rows. */
static FC_ALWAYS_INLINE inline int32_t fc_output_fast(const fc_finish_t *f, int32_t acc, const int32_t *q, int32_t j)
{
    const int32_t y = fc_requantize_fast(acc, q[j], ((const int8_t *)(q + 4))[j], f->odd_offset);
#if MCUGEN_HAS_DSP
    return mcugen_ssat8(y);
#elif defined(__ARM_FEATURE_SAT) && defined(__GNUC__)
    return __builtin_arm_ssat(y, 8); /* SSAT is in ARMv7-M without the DSP extension */
#else
    return y < -128 ? -128 : y > 127 ? 127 : y;
#endif
}

#endif /* MCUGEN_FULLY_CONNECTED_STREAM_H */
