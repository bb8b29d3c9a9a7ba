/*
 * mcugen_mul_s8.c — int8 element-wise multiplication with broadcasting (TFLite MUL arithmetic).
 *
 *   y = clamp(requantize((x1 + input1_offset) * (x2 + input2_offset), output_multiplier, output_shift)
 *             + output_offset, act_min, act_max)
 *
 * Broadcasting walks the rank-4 output and reads each input through its strides (0 on axes it
 * is broadcast along). Safe in place when an input has the output's shape.
 * Numpy twin: codegen/ops/mul.py.
 */
#include "mcugen_mul_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_mul_s8(const mcugen_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->dims[0]; ++i0) {
        for (i1 = 0; i1 < p->dims[1]; ++i1) {
            for (i2 = 0; i2 < p->dims[2]; ++i2) {
                const int8_t *row1 = input1 + i0 * p->strides1[0] + i1 * p->strides1[1] + i2 * p->strides1[2];
                const int8_t *row2 = input2 + i0 * p->strides2[0] + i1 * p->strides2[1] + i2 * p->strides2[2];
                for (i3 = 0; i3 < p->dims[3]; ++i3) {
                    const int8_t x1 = row1[i3 * p->strides1[3]];
                    const int8_t x2 = row2[i3 * p->strides2[3]];
            const int32_t y = mcugen_requantize(((int32_t)x1 + p->input1_offset) * ((int32_t)x2 + p->input2_offset),
                                                p->output_multiplier, p->output_shift) + p->output_offset;
                    *output++ = mcugen_clamp_s8(y, p->act_min, p->act_max);
                }
            }
        }
    }
}
