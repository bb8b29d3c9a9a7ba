/*
 * mcugen_sub_s8.c — int8 element-wise subtraction with broadcasting (TFLite SUB arithmetic), for
 * the case the subtrahend has the larger scale (otherwise mcugen_add_s8 runs with a negated table).
 *
 * The spec: with twice_max = 2 * max(s1, s2),
 *   a = requantize((xa - zpa) << 20, ma, ea);  b = requantize((xb - zpb) << 20, mb, eb)
 *   y = clamp(requantize(a - b, output_multiplier, output_shift) + output_offset, act_min, act_max)
 * Input 1 is the subtrahend b, whose multiplier is exactly 1/2: b = (xb - zpb) << 19. Input 2 is
 * the minuend a, tabulated at compile time with its share and b's offset:
 *   a - b = share2[xa + 128] - (xb << 19),  share2[v + 128] = requantize((v - zpa) << 20, ma, ea) + (zpb << 19).
 *
 * Broadcasting walks the rank-4 output and reads each input through its strides (0 on axes it
 * is broadcast along). Safe in place when an input has the output's shape.
 * Numpy twin: codegen/ops/add.py (Sub.run_int).
 */
#include "mcugen_sub_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_sub_s8(const mcugen_sub_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int32_t *const share2 = p->share2 + 128;
    const int32_t multiplier = p->output_multiplier, shift = p->output_shift, offset = p->output_offset;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int fast = shift <= -2 && shift >= -23;
    const int32_t right1 = fast ? -shift - 1 : 0;
    const int32_t round = fast ? (1 << (-shift - 2)) + (int32_t)((uint32_t)offset << right1) : 0;
    const int32_t n = p->dims[3], step1 = p->strides1[3], step2 = p->strides2[3];
    int32_t i0, i1, i2, i3;

    for (i0 = 0; i0 < p->dims[0]; ++i0) {
        for (i1 = 0; i1 < p->dims[1]; ++i1) {
            for (i2 = 0; i2 < p->dims[2]; ++i2) {
                const int8_t *x1 = input1 + i0 * p->strides1[0] + i1 * p->strides1[1] + i2 * p->strides1[2];
                const int8_t *x2 = input2 + i0 * p->strides2[0] + i1 * p->strides2[1] + i2 * p->strides2[2];
                if (fast && step1 == 1 && step2 == 1) { /* the common case: both rows contiguous */
                    for (i3 = 0; i3 < n; ++i3) {
                        const int32_t sum = share2[x2[i3]] - (int32_t)((uint32_t)(int32_t)x1[i3] << 19);
                        output[i3] = mcugen_clamp_s8(mcugen_requantize_offset_right(sum, multiplier, round, right1),
                                                     act_min, act_max);
                    }
                } else {
                    for (i3 = 0; i3 < n; ++i3) {
                        const int32_t sum = share2[x2[i3 * step2]] - (int32_t)((uint32_t)(int32_t)x1[i3 * step1] << 19);
                        const int32_t y = mcugen_requantize(sum, multiplier, shift) + offset;
                        output[i3] = mcugen_clamp_s8(y, act_min, act_max);
                    }
                }
                output += n;
            }
        }
    }
}
