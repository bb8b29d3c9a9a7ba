/*
 * mcugen_depthwise_conv_s16.c — depthwise 2-D convolution, NHWC, weights [KH][KW][C_out],
 * int16 activations (the 16x8 scheme: symmetric, zero point 0) and int8 weights.
 *
 *   acc = bias[oc] + sum over (ky, kx) of
 *         (input[iy][ix][oc / depth_multiplier] + input_offset) * weights[ky][kx][oc]
 *   output = clamp(requantize_s64(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 *
 * The bias and the accumulator are int64; requantize_s64 rounds the Q31 multiplier to Q15 and
 * shifts right by 15 - shift (see mcugen_fixedpoint.h). Padding positions are skipped.
 * Numpy twin: codegen/ops/depthwise_conv.py.
 */
#include "mcugen_depthwise_conv_s16.h"
#include "mcugen_fixedpoint.h"

void mcugen_depthwise_conv_s16(const mcugen_depthwise_conv_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t oy, ox, oc, ky, kx;

    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            for (oc = 0; oc < p->output_c; ++oc) {
                const int32_t ic = oc / p->depth_multiplier;
                int64_t acc = p->bias[oc];
                int32_t y;
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = in_y0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= p->input_h) continue;
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t ix = in_x0 + kx * p->dilation_w;
                        int32_t x;
                        if (ix < 0 || ix >= p->input_w) continue;
                        x = input[((int32_t)iy * p->input_w + ix) * p->input_c + ic];
                        acc += (int64_t)(x + p->input_offset) *
                               (int32_t)p->weights[(ky * p->kernel_w + kx) * p->output_c + oc];
                    }
                }
                y = mcugen_requantize_s64(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                *output++ = mcugen_clamp_s16(y, p->act_min, p->act_max);
            }
        }
    }
}
