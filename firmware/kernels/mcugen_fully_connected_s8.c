/*
 * mcugen_fully_connected_s8.c — int8 fully connected layer.
 *
 *   acc[o] = bias[o] + sum_i (input[i] + input_offset) * weights[o][i]
 *   output[o] = clamp(requantize(acc[o], multiplier[o], shift[o]) + output_offset, act_min, act_max)
 *
 * Numpy twin: codegen/ops/fully_connected.py.
 */
#include "mcugen_fully_connected_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_fully_connected_s8(const mcugen_fully_connected_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t r, o, i;

    for (r = 0; r < p->rows; ++r) {
        const int8_t *w = p->weights;
        for (o = 0; o < p->output_size; ++o) {
            int32_t acc = p->bias[o];
            for (i = 0; i < p->input_size; ++i) {
                acc += ((int32_t)input[i] + p->input_offset) * (int32_t)w[i];
            }
            w += p->input_size;
            acc = mcugen_requantize(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
            *output++ = mcugen_clamp_s8(acc, p->act_min, p->act_max);
        }
        input += p->input_size;
    }
}
