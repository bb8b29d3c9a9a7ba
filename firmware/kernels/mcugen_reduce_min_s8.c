/*
 * mcugen_reduce_min_s8.c — int8 ReduceMin over any of the four axes.
 *
 *   for every output element (the input's index with 0 on each reduced axis):
 *     output = min over the reduced elements of input
 *   Exact: the output keeps the input's scale and zero point.
 *
 * Numpy twin: codegen/ops/reduce.py.
 */
#include "mcugen_reduce_min_s8.h"

void mcugen_reduce_min_s8(const mcugen_reduce_min_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t *s = p->strides, *r = p->reduce_dims;
    int32_t o0, o1, o2, o3, r0, r1, r2, r3;
    for (o0 = 0; o0 < p->out_dims[0]; ++o0) {
        for (o1 = 0; o1 < p->out_dims[1]; ++o1) {
            for (o2 = 0; o2 < p->out_dims[2]; ++o2) {
                for (o3 = 0; o3 < p->out_dims[3]; ++o3) {
                    const int8_t *base = input + o0 * s[0] + o1 * s[1] + o2 * s[2] + o3 * s[3];
                    int8_t best = 127;
                    for (r0 = 0; r0 < r[0]; ++r0) {
                        for (r1 = 0; r1 < r[1]; ++r1) {
                            for (r2 = 0; r2 < r[2]; ++r2) {
                                const int8_t *x = base + r0 * s[0] + r1 * s[1] + r2 * s[2];
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
