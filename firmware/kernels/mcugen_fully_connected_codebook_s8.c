/*
 * mcugen_fully_connected_codebook_s8.c — int8 fully connected layer whose weights are codebook levels.
 *
 *   w[o][i] = codebook[indices[o * input_size + i]]
 *   acc[o] = bias[o] + sum_i input[i] * w[o][i]
 *   output[o] = clamp(requantize(acc[o], multiplier[o], shift[o]) + output_offset, act_min, act_max)
 *
 * As mcugen_fully_connected_s8.c, with -zp_in * sum_i w[o][i] folded into bias[o] at compile time;
 * only the weights' storage differs (a 4- or 8-bit index per weight, one int8 level per index).
 * int32 accumulation; mcugen's bias clamp keeps every partial sum in range. Numpy twin:
 * codegen/ops/fully_connected.py (run_int on the levels); the levels: codegen/ops/codebook.py.
 */
#include "mcugen_fully_connected_codebook_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_fully_connected_codebook_s8(const mcugen_fully_connected_codebook_params_t *p, const int8_t *input,
                                        int8_t *output)
{
    const int32_t n = p->input_size;
    const int8_t *const levels = p->codebook;
    int32_t r, o, i;

    for (r = 0; r < p->rows; ++r) {
        for (o = 0; o < p->output_size; ++o) {
            int32_t acc = p->bias[o];
            const int32_t first = o * n;
            if (p->index_bits == 4) {
                for (i = 0; i < n; ++i) {
                    const int32_t e = first + i;
                    const uint32_t byte = p->indices[e >> 1];
                    acc += (int32_t)input[i] * levels[(e & 1) ? byte >> 4 : byte & 0x0Fu];
                }
            } else {
                const uint8_t *idx = p->indices + first;
                for (i = 0; i < n; ++i) acc += (int32_t)input[i] * levels[idx[i]];
            }
            output[o] = mcugen_clamp_s8(mcugen_requantize(acc, p->multiplier[o], p->shift[o]) + p->output_offset,
                                        p->act_min, p->act_max);
        }
        input += n;
        output += p->output_size;
    }
}
