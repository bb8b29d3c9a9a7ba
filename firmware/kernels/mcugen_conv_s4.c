/*
 * mcugen_conv_s4.c — 2-D convolution, NHWC input/output, OHWI weights, groups >= 1,
 * int8 activations and int4 weights.
 *
 *   acc = bias[oc] + sum over (ky, kx, ic in the group of oc) of
 *         (input[iy][ix][ic] + input_offset) * weights[oc][ky][kx][ic - group_start]
 *   output = clamp(requantize(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 *
 * The weights are int4 codes (-8..7) packed two per byte, low nibble first, in the row-major
 * order of the unpacked [output_c][kernel_h][kernel_w][input_c / groups] array: code i is in
 * byte i / 2 (the low nibble when i is even) and is sign-extended from 4 bits. Otherwise this
 * is mcugen_conv_s8: window positions in the padding are skipped, accumulation is int32.
 * Numpy twin: codegen/ops/conv.py.
 */
#include "mcugen_conv_s4.h"
#include "mcugen_fixedpoint.h"
#include "mcugen_int4.h"

void mcugen_conv_s4(const mcugen_conv_s4_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t group_in = p->input_c / p->groups;
    const int32_t group_out = p->output_c / p->groups;
    int32_t oy, ox, oc, ky, kx;

    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            for (oc = 0; oc < p->output_c; ++oc) {
                const int32_t first_ic = (oc / group_out) * group_in;
                const int32_t filter = oc * p->kernel_h * p->kernel_w * group_in;
                int32_t acc = p->bias[oc];
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = in_y0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= p->input_h) continue;
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t ix = in_x0 + kx * p->dilation_w;
                        const int8_t *in_px;
                        int32_t w_px;
                        if (ix < 0 || ix >= p->input_w) continue;
                        in_px = input + ((int32_t)iy * p->input_w + ix) * p->input_c + first_ic;
                        w_px = filter + (ky * p->kernel_w + kx) * group_in;
                        acc += mcugen_int4_dot(in_px, p->weights, w_px, group_in, p->input_offset);
                    }
                }
                acc = mcugen_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                *output++ = mcugen_clamp_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}
