/*
 * mcugen_sub_f32.c — float32 element-wise subtraction with broadcasting (weight-only models):
 *
 *   y = clamp(x1 - x2, act_min, act_max)
 *
 * Broadcasting walks the rank-4 output and reads each input through its strides (0 on axes it
 * is broadcast along). Safe in place when an input has the output's shape. Compile with -ffp-contract=off (see mcugen_f32.h).
 * Numpy twin: codegen/ops/add.py (Sub.run_f32).
 */
#include "mcugen_sub_f32.h"
#include "mcugen_f32.h"

void mcugen_sub_f32(const mcugen_sub_f32_params_t *p, const float *input1, const float *input2, float *output)
{
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->dims[0]; ++i0) {
        for (i1 = 0; i1 < p->dims[1]; ++i1) {
            for (i2 = 0; i2 < p->dims[2]; ++i2) {
                const float *row1 = input1 + i0 * p->strides1[0] + i1 * p->strides1[1] + i2 * p->strides1[2];
                const float *row2 = input2 + i0 * p->strides2[0] + i1 * p->strides2[1] + i2 * p->strides2[2];
                for (i3 = 0; i3 < p->dims[3]; ++i3) {
                    const float y = row1[i3 * p->strides1[3]] - row2[i3 * p->strides2[3]];
                    *output++ = mcugen_clamp_f32(y, p->act_min, p->act_max);
                }
            }
        }
    }
}
