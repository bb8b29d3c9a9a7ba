/*
 * mcugen_fully_connected_tflite_s8.c — int8 fully connected layer of an imported .tflite model:
 * the word-block weight layout of codegen/ops/fully_connected.py::packed_weights, the folded bias, and
 * TensorFlow Lite's fully connected rounding. TFLite requantizes its int8 fully connected through the int64
 * overload of MultiplyByQuantizedMultiplier, which rounds once, ties toward +infinity:
 *
 *   acc[o] = bias[o] + sum_i input[i] * weights[o][i]
 *   output[o] = clamp((acc[o] * multiplier[o] + 2^(30 - shift[o])) >> (31 - shift[o]) + output_offset,
 *                     act_min, act_max)
 *
 * where mcugen's own (and TFLite's conv) requantize rounds twice (gemmlowp): this file includes
 * mcugen_fixedpoint_single.h, whose mcugen_requantize rounds once, instead of mcugen_fixedpoint.h.
 * Numpy twin: codegen/ops/fully_connected.py (run_int with attrs["single_rounding"]).
 */
#include "mcugen_fully_connected_tflite_s8.h"
#include "mcugen_dsp.h"
#include "mcugen_fixedpoint_single.h"

/* The input's last input_size % 4 bytes as one word, zero above (its weights are zero there). */
static inline uint32_t fc_tail_word(const int8_t *x, int32_t count)
{
    uint32_t word = 0;
    int32_t i;
    for (i = count - 1; i >= 0; --i) word = (word << 8) | (uint8_t)x[i];
    return word;
}

#if MCUGEN_HAS_DSP && defined(__GNUC__) && !defined(__clang__)
#define FC_UNROLL2 _Pragma("GCC unroll 2")  /* halves the loop's compare and branch per MAC */
#else
#define FC_UNROLL2
#endif


static inline int8_t fc_output(const mcugen_fully_connected_tflite_params_t *p, int32_t acc, int32_t o, int full_range)
{
    const int32_t y = mcugen_requantize(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
#if MCUGEN_HAS_DSP
    if (full_range) return (int8_t)mcugen_ssat8(y); /* the clamp is int8's own: one SSAT */
#else
    (void)full_range;
#endif
    return mcugen_clamp_s8(y, p->act_min, p->act_max);
}

void mcugen_fully_connected_tflite_s8(const mcugen_fully_connected_tflite_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t full_words = p->input_size / 4, tail = p->input_size % 4;
    const int full_range = p->act_min == -128 && p->act_max == 127;
    int32_t r, o;

    for (r = 0; r < p->rows; ++r) {
        const int8_t *const words_end = input + 4 * full_words;
        const uint32_t last = fc_tail_word(words_end, tail);
        const int32_t *w = p->weights;
        for (o = 0; o + 4 <= p->output_size; o += 4) { /* rows o..o+3: each input word feeds all four */
            int32_t acc0 = p->bias[o], acc1 = p->bias[o + 1], acc2 = p->bias[o + 2], acc3 = p->bias[o + 3];
            const int8_t *x;
            uint32_t xa, xb;
            (void)xb;
            FC_UNROLL2
            for (x = input; x != words_end; x += 4, w += 4) {
                const uint32_t word = mcugen_read_s8x4(x);
                MCUGEN_SPLIT4_S8(word, xa, xb);
                MCUGEN_MAC4_S8(acc0, xa, xb, (uint32_t)w[0]);
                MCUGEN_MAC4_S8(acc1, xa, xb, (uint32_t)w[1]);
                MCUGEN_MAC4_S8(acc2, xa, xb, (uint32_t)w[2]);
                MCUGEN_MAC4_S8(acc3, xa, xb, (uint32_t)w[3]);
            }
            if (tail) {
                MCUGEN_SPLIT4_S8(last, xa, xb);
                MCUGEN_MAC4_S8(acc0, xa, xb, (uint32_t)w[0]);
                MCUGEN_MAC4_S8(acc1, xa, xb, (uint32_t)w[1]);
                MCUGEN_MAC4_S8(acc2, xa, xb, (uint32_t)w[2]);
                MCUGEN_MAC4_S8(acc3, xa, xb, (uint32_t)w[3]);
                w += 4;
            }
            {   /* all four before any store: an int8_t store may alias p, which would force reloads */
                const int8_t y0 = fc_output(p, acc0, o, full_range), y1 = fc_output(p, acc1, o + 1, full_range);
                const int8_t y2 = fc_output(p, acc2, o + 2, full_range), y3 = fc_output(p, acc3, o + 3, full_range);
                output[o] = y0, output[o + 1] = y1, output[o + 2] = y2, output[o + 3] = y3;
            }
        }
        for (; o < p->output_size; ++o) { /* the last output_size % 4 rows, one at a time */
            int32_t acc = p->bias[o];
            const int8_t *x;
            uint32_t xa, xb;
            (void)xb;
            for (x = input; x != words_end; x += 4, ++w) {
                const uint32_t word = mcugen_read_s8x4(x);
                MCUGEN_SPLIT4_S8(word, xa, xb);
                MCUGEN_MAC4_S8(acc, xa, xb, (uint32_t)w[0]);
            }
            if (tail) {
                MCUGEN_SPLIT4_S8(last, xa, xb);
                MCUGEN_MAC4_S8(acc, xa, xb, (uint32_t)w[0]);
                ++w;
            }
            output[o] = fc_output(p, acc, o, full_range);
        }
        input += p->input_size;
        output += p->output_size;
    }
}
