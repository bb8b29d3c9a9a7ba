/*
 * mcugen_conv_s16.c — 2-D convolution, NHWC input/output, OHWI weights, groups >= 1,
 * int16 activations (the 16x8 scheme: symmetric, zero point 0) and int8 weights.
 *
 *   acc = bias[oc] + sum over (ky, kx, ic in the group of oc) of
 *         (input[iy][ix][ic] + input_offset) * weights[oc][ky][kx][ic - group_start]
 *   output = clamp(requantize_s64(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 *
 * The bias and the accumulator are int64; requantize_s64 rounds the Q31 multiplier to Q15 and
 * shifts right by 15 - shift (see mcugen_fixedpoint.h). Window positions in the padding are
 * skipped (they are the real value zero). Numpy twin: codegen/ops/conv.py.
 */
#include "mcugen_conv_s16.h"
#include "mcugen_fixedpoint.h"

void mcugen_conv_s16(const mcugen_conv_s16_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t group_in = p->input_c / p->groups;
    const int32_t group_out = p->output_c / p->groups;
    int32_t oy, ox, oc, ky, kx, ic;

    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            for (oc = 0; oc < p->output_c; ++oc) {
                const int32_t first_ic = (oc / group_out) * group_in;
                const int8_t *filter = p->weights + (int32_t)oc * p->kernel_h * p->kernel_w * group_in;
                int64_t acc = p->bias[oc];
                int32_t y;
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = in_y0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= p->input_h) continue;
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t ix = in_x0 + kx * p->dilation_w;
                        const int16_t *in_px;
                        const int8_t *w_px;
                        if (ix < 0 || ix >= p->input_w) continue;
                        in_px = input + ((int32_t)iy * p->input_w + ix) * p->input_c + first_ic;
                        w_px = filter + (ky * p->kernel_w + kx) * group_in;
                        for (ic = 0; ic < group_in; ++ic) {
                            acc += (int64_t)((int32_t)in_px[ic] + p->input_offset) * (int32_t)w_px[ic];
                        }
                    }
                }
                y = mcugen_requantize_s64(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                *output++ = mcugen_clamp_s16(y, p->act_min, p->act_max);
            }
        }
    }
}
