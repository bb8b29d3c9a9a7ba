/*
 * mcugen_fully_connected_s4.c — fully connected layer, int8 activations and int4 weights.
 *
 *   acc[o] = bias[o] + sum_i (input[i] + input_offset) * weights[o][i]
 *   output[o] = clamp(requantize(acc[o], multiplier[o], shift[o]) + output_offset, act_min, act_max)
 *
 * The weights are int4 codes (-8..7) packed two per byte, low nibble first, in the row-major
 * order of the unpacked [output_size][input_size] array: code i is in byte i / 2 (the low
 * nibble when i is even) and is sign-extended from 4 bits. With an odd input_size a row starts
 * in the middle of a byte. Accumulation is int32. Numpy twin: codegen/ops/fully_connected.py.
 */
#include "mcugen_fully_connected_s4.h"
#include "mcugen_fixedpoint.h"
#include "mcugen_int4.h"

void mcugen_fully_connected_s4(const mcugen_fully_connected_s4_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t r, o;

    for (r = 0; r < p->rows; ++r) {
        int32_t w = 0; /* index of the row's first code */
        for (o = 0; o < p->output_size; ++o) {
            int32_t acc = p->bias[o];
            acc += mcugen_int4_dot(input, p->weights, w, p->input_size, p->input_offset);
            w += p->input_size;
            acc = mcugen_requantize(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
            *output++ = mcugen_clamp_s8(acc, p->act_min, p->act_max);
        }
        input += p->input_size;
    }
}
