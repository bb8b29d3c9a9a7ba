/*
 * mcugen_transpose_f32.c — float32 transpose: walks the output in order and gathers
 *
 *   output[i0][i1][i2][i3] = input[i0 * strides[0] + i1 * strides[1] + i2 * strides[2] + i3 * strides[3]]
 *
 * Not safe in place. Numpy twin: codegen/ops/transpose.py (run_f32).
 */
#include "mcugen_transpose_f32.h"

void mcugen_transpose_f32(const mcugen_transpose_f32_params_t *p, const float *input, float *output)
{
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->dims[0]; ++i0) {
        for (i1 = 0; i1 < p->dims[1]; ++i1) {
            for (i2 = 0; i2 < p->dims[2]; ++i2) {
                const float *row = input + i0 * p->strides[0] + i1 * p->strides[1] + i2 * p->strides[2];
                for (i3 = 0; i3 < p->dims[3]; ++i3) {
                    *output++ = row[i3 * p->strides[3]];
                }
            }
        }
    }
}
