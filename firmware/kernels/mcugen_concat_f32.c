/*
 * mcugen_concat_f32.c — one float32 input of a concatenation, copied into its slice of the output:
 *
 *   output[o][output_start + i] = input[o][i]
 *
 * Numpy twin: codegen/ops/concat.py (run_f32).
 */
#include "mcugen_concat_f32.h"

void mcugen_concat_f32(const mcugen_concat_f32_params_t *p, const float *input, float *output)
{
    int32_t o, i;
    for (o = 0; o < p->outer; ++o) {
        float *dst = output + o * p->output_chunk + p->output_start;
        const float *src = input + o * p->input_chunk;
        for (i = 0; i < p->input_chunk; ++i) dst[i] = src[i];
    }
}
