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

/* The int4 code at index i of a packed array, sign-extended. */
static inline int32_t mcugen_fully_connected_s4_weight(const uint8_t *packed, int32_t i)
{
    const int32_t byte = packed[i >> 1];
    const int32_t nibble = (i & 1) ? (byte >> 4) : (byte & 0x0F);
    return nibble - ((nibble & 0x08) << 1);
}

void mcugen_fully_connected_s4(const mcugen_fully_connected_s4_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t r, o, i;

    for (r = 0; r < p->rows; ++r) {
        int32_t w = 0; /* index of the row's first code */
        for (o = 0; o < p->output_size; ++o) {
            int32_t acc = p->bias[o];
            for (i = 0; i < p->input_size; ++i) {
                acc += ((int32_t)input[i] + p->input_offset) * mcugen_fully_connected_s4_weight(p->weights, w + i);
            }
            w += p->input_size;
            acc = mcugen_requantize(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
            *output++ = mcugen_clamp_s8(acc, p->act_min, p->act_max);
        }
        input += p->input_size;
    }
}
