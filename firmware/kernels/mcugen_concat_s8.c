/*
 * mcugen_concat_s8.c — one input of a concatenation, copied into its slice of the output:
 *
 *   output[o][output_start + i] = input[o][i]                          (same quantization), or
 *   output[o][output_start + i] = clamp(requantize(input[o][i] + input_offset, multiplier, shift)
 *                                       + output_offset, -128, 127)    (different quantization)
 *
 * Numpy twin: codegen/ops/concat.py.
 */
#include "mcugen_concat_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_concat_s8(const mcugen_concat_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t o, i;
    for (o = 0; o < p->outer; ++o) {
        int8_t *dst = output + o * p->output_chunk + p->output_start;
        const int8_t *src = input + o * p->input_chunk;
        for (i = 0; i < p->input_chunk; ++i) {
            if (p->requantize) {
                const int32_t v = mcugen_requantize((int32_t)src[i] + p->input_offset, p->multiplier, p->shift);
                dst[i] = mcugen_clamp_s8(v + p->output_offset, -128, 127);
            } else {
                dst[i] = src[i];
            }
        }
    }
}
