/*
 * mcugen_fully_connected_s16.c — fully connected layer, int16 activations (the 16x8 scheme:
 * symmetric, zero point 0) and int8 weights.
 *
 *   acc[o] = bias[o] + sum_i (input[i] + input_offset) * weights[o][i]
 *   output[o] = clamp(requantize_s64(acc[o], multiplier[o], shift[o]) + output_offset, act_min, act_max)
 *
 * The bias and the accumulator are int64; requantize_s64 rounds the Q31 multiplier to Q15 and
 * shifts right by 15 - shift (see mcugen_fixedpoint.h). Numpy twin: codegen/ops/fully_connected.py.
 */
#include "mcugen_fully_connected_s16.h"
#include "mcugen_fixedpoint.h"

void mcugen_fully_connected_s16(const mcugen_fully_connected_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t r, o, i;

    for (r = 0; r < p->rows; ++r) {
        const int8_t *w = p->weights;
        for (o = 0; o < p->output_size; ++o) {
            int64_t acc = p->bias[o];
            int32_t y;
            for (i = 0; i < p->input_size; ++i) {
                acc += (int64_t)((int32_t)input[i] + p->input_offset) * (int32_t)w[i];
            }
            w += p->input_size;
            y = mcugen_requantize_s64(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
            *output++ = mcugen_clamp_s16(y, p->act_min, p->act_max);
        }
        input += p->input_size;
    }
}
