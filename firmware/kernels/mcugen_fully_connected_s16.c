/*
 * mcugen_fully_connected_s16.c — fully connected layer, int16 activations (the 16x8 scheme:
 * symmetric, zero point 0) and int8 weights.
 *
 *   acc[o] = bias[o] + sum_i input[i] * weights[o][i]
 *   output[o] = clamp(requantize_s64(acc[o], multiplier[o], shift[o]) + output_offset, act_min, act_max)
 * (requantize_s64's Q15 multiplier and total shift computed at compile time),
 *
 * The spec's sum_i (input[i] - zp_in) * w[o][i] is the same integer: mcugen folds -zp_in * sum_i
 * w[o][i] into bias[o] at compile time (zp_in is 0 for int16 activations anyway). The bias and
 * the accumulator are int64; requantize_s64 rounds the Q31 multiplier to Q15 and shifts right by
 * 15 - shift (see mcugen_fixedpoint.h). Rows are taken two at a time so each input word pair
 * feeds both; on a DSP core a weight word splits (SXTB16, SXTB16 ROR 8) into int16 pairs that
 * meet two int16 inputs each in SMLALD (64-bit accumulate): four MACs for one weight load, two
 * unpacks and two multiplies. The weights are laid out for that (see the header).
 * Numpy twin: codegen/ops/fully_connected.py (run_int).
 */
#include "mcugen_fully_connected_s16.h"
#include "mcugen_dsp.h"
#include "mcugen_fixedpoint.h"

/* Two int16 inputs as one word, input i in the low half; zero past the end of the input. */
static inline uint32_t fc16_pair(const int16_t *x, int32_t i, int32_t size)
{
    const uint32_t lo = i < size ? (uint16_t)x[i] : 0u;
    const uint32_t hi = i + 1 < size ? (uint16_t)x[i + 1] : 0u;
    return lo | (hi << 16);
}

#if MCUGEN_HAS_DSP
/* acc + the four products of inputs (x01, x23) and weight word w (bytes: w0, w2, w1, w3). */
#define FC16_MAC4(acc, x01, x23, w) \
    ((acc) = mcugen_smlald((x23), mcugen_sxtb16_ror8(w), mcugen_smlald((x01), mcugen_sxtb16(w), (acc))))
#else
#define FC16_W(w, k) ((int64_t)(int8_t)((w) >> (8 * (k))))
#define FC16_X(x, k) ((int64_t)(int16_t)((x) >> (16 * (k))))
#define FC16_MAC4(acc, x01, x23, w)                                                           \
    ((acc) += FC16_X(x01, 0) * FC16_W(w, 0) + FC16_X(x01, 1) * FC16_W(w, 2) +                \
              FC16_X(x23, 0) * FC16_W(w, 1) + FC16_X(x23, 1) * FC16_W(w, 3))
#endif

#if MCUGEN_HAS_DSP && defined(__GNUC__)
/* Four inputs (x, then x += 4) times the next weight word of rows o and o + 1 (w, then w += 2):
 * acc0, acc1 += 8 products in 11 instructions (two input loads, one LDRD, four SXTB16, four
 * SMLALD). One asm statement so that GCC cannot schedule the unpacks away from the multiplies
 * and spill (its code for the C took 2.1 instructions per MAC). */
#define FC16_WORD_ROWS2(x, w, acc0, acc1)                                                  \
    do {                                                                                   \
        uint32_t x01_, x23_, w0_, w1_, t_;                                                 \
        __asm__("ldr    %[x01], [%[x]], #4\n\t"                                            \
                "ldr    %[x23], [%[x]], #4\n\t"                                            \
                "ldrd   %[w0], %[w1], [%[w]], #8\n\t"                                      \
                "sxtb16 %[t], %[w0]\n\t"                                                   \
                "smlald %Q[a0], %R[a0], %[x01], %[t]\n\t"                                  \
                "sxtb16 %[w0], %[w0], ror #8\n\t"                                          \
                "smlald %Q[a0], %R[a0], %[x23], %[w0]\n\t"                                 \
                "sxtb16 %[t], %[w1]\n\t"                                                   \
                "smlald %Q[a1], %R[a1], %[x01], %[t]\n\t"                                  \
                "sxtb16 %[w1], %[w1], ror #8\n\t"                                          \
                "smlald %Q[a1], %R[a1], %[x23], %[w1]"                                       \
                : [a0] "+r"(acc0), [a1] "+r"(acc1), [x] "+r"(x), [w] "+r"(w),              \
                  [x01] "=&r"(x01_), [x23] "=&r"(x23_), [w0] "=&r"(w0_), [w1] "=&r"(w1_),  \
                  [t] "=&r"(t_)                                                            \
                :                                                                          \
                : "memory");                                                               \
    } while (0)
#define FC16_ASM 1
#else
#define FC16_ASM 0
#endif

/* mcugen_requantize_s64(acc, multiplier, shift) with its Q15 multiplier and shift from the
 * compiler: (acc * reduced + 2^(right - 1)) >> right, saturated to int32. */
static inline int16_t fc16_output(const mcugen_fully_connected_s16_params_t *p, int64_t acc, int32_t o)
{
    const int32_t right = p->right[o];
    const int64_t rounded = (acc * p->reduced[o] + ((int64_t)1 << (right - 1))) >> right;
    const int32_t y = mcugen_saturate_int32(rounded) + p->output_offset;
    return mcugen_clamp_s16(y, p->act_min, p->act_max);
}

void mcugen_fully_connected_s16(const mcugen_fully_connected_s16_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t n = p->input_size, words = (n + 3) / 4, full = n / 4;
    int32_t r, o, k;

    for (r = 0; r < p->rows; ++r) {
        const int32_t *w = p->weights;
        for (o = 0; o + 2 <= p->output_size; o += 2) { /* rows o, o + 1: each input pair feeds both */
            int64_t acc0 = p->bias[o], acc1 = p->bias[o + 1];
#if FC16_ASM
            const int16_t *x = input, *const pairs_end = input + 8 * (full / 2);
            while (x != pairs_end) { /* eight inputs a pass: half the loop's compare and branch */
                FC16_WORD_ROWS2(x, w, acc0, acc1);
                FC16_WORD_ROWS2(x, w, acc0, acc1);
            }
            if (full % 2) FC16_WORD_ROWS2(x, w, acc0, acc1);
#else
            for (k = 0; k < full; ++k, w += 2) {
                uint32_t x01, x23;
                memcpy(&x01, input + 4 * k, sizeof x01);
                memcpy(&x23, input + 4 * k + 2, sizeof x23);
                FC16_MAC4(acc0, x01, x23, (uint32_t)w[0]);
                FC16_MAC4(acc1, x01, x23, (uint32_t)w[1]);
            }
#endif
            if (full < words) { /* the last 1..3 inputs, zero above */
                const uint32_t x01 = fc16_pair(input, 4 * full, n), x23 = fc16_pair(input, 4 * full + 2, n);
                FC16_MAC4(acc0, x01, x23, (uint32_t)w[0]);
                FC16_MAC4(acc1, x01, x23, (uint32_t)w[1]);
                w += 2;
            }
            output[o] = fc16_output(p, acc0, o);
            output[o + 1] = fc16_output(p, acc1, o + 1);
        }
        if (o < p->output_size) { /* an odd last row */
            int64_t acc = p->bias[o];
            for (k = 0; k < words; ++k, ++w) {
                const uint32_t x01 = fc16_pair(input, 4 * k, n), x23 = fc16_pair(input, 4 * k + 2, n);
                FC16_MAC4(acc, x01, x23, (uint32_t)w[0]);
            }
            output[o] = fc16_output(p, acc, o);
        }
        input += n;
        output += p->output_size;
    }
}
