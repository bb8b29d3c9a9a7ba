/*
 * mcugen_softmax_f32.c — float32 softmax over the innermost axis (weight-only models), per row:
 *
 *   m = input[0], then m = input[i] wherever input[i] > m
 *   e[i] = mcugen_exp_f32(input[i] - m);  s = 0.0f; s = s + e[i] for i = 0, 1, ...
 *   output[i] = e[i] / s
 *
 * Compile with -ffp-contract=off (see mcugen_f32.h). Numpy twin: codegen/ops/softmax.py (run_f32).
 */
#include "mcugen_softmax_f32.h"
#include "mcugen_exp_f32.h"

void mcugen_softmax_f32(const mcugen_softmax_f32_params_t *p, const float *input, float *output)
{
    int32_t r, i;
    for (r = 0; r < p->rows; ++r) {
        float m = input[0];
        float s = 0.0f;
        for (i = 1; i < p->depth; ++i) {
            if (input[i] > m) m = input[i];
        }
        for (i = 0; i < p->depth; ++i) {
            const float e = mcugen_exp_f32(input[i] - m);
            output[i] = e;
            s = s + e;
        }
        for (i = 0; i < p->depth; ++i) {
            output[i] = output[i] / s;
        }
        input += p->depth;
        output += p->depth;
    }
}
