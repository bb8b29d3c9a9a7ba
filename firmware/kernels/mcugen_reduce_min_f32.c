/*
 * mcugen_reduce_min_f32.c — float32 ReduceMin (weight-only models):
 *
 *   best = the first reduced element, replaced by every later one that is smaller (v < best),
 *   visiting the reduced elements in row-major order of the reduced axes
 *
 * Numpy twin: codegen/ops/reduce.py (run_f32).
 */
#include "mcugen_reduce_min_f32.h"

void mcugen_reduce_min_f32(const mcugen_reduce_min_f32_params_t *p, const float *input, float *output)
{
    const int32_t *s = p->strides, *r = p->reduce_dims;
    int32_t o0, o1, o2, o3, r0, r1, r2, r3;
    for (o0 = 0; o0 < p->out_dims[0]; ++o0) {
        for (o1 = 0; o1 < p->out_dims[1]; ++o1) {
            for (o2 = 0; o2 < p->out_dims[2]; ++o2) {
                for (o3 = 0; o3 < p->out_dims[3]; ++o3) {
                    const float *base = input + o0 * s[0] + o1 * s[1] + o2 * s[2] + o3 * s[3];
                    float best = *base;
                    for (r0 = 0; r0 < r[0]; ++r0) {
                        for (r1 = 0; r1 < r[1]; ++r1) {
                            for (r2 = 0; r2 < r[2]; ++r2) {
                                const float *x = base + r0 * s[0] + r1 * s[1] + r2 * s[2];
                                for (r3 = 0; r3 < r[3]; ++r3, x += s[3]) {
                                    if (*x < best) best = *x;
                                }
                            }
                        }
                    }
                    *output++ = best;
                }
            }
        }
    }
}
