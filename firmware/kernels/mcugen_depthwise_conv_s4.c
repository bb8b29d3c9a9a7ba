/*
 * mcugen_depthwise_conv_s4.c — depthwise 2-D convolution, NHWC, weights [KH][KW][C_out],
 * int8 activations and int4 weights.
 *
 *   acc = bias[oc] + sum over (ky, kx) of
 *         (input[iy][ix][oc / depth_multiplier] + input_offset) * weights[ky][kx][oc]
 *   output = clamp(requantize(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 *
 * The weights are int4 codes (-8..7) packed two per byte, low nibble first, in the row-major
 * order of the unpacked [kernel_h][kernel_w][output_c] array: code i is in byte i / 2 (the low
 * nibble when i is even) and is sign-extended from 4 bits. Otherwise this is
 * mcugen_depthwise_conv_s8: padding positions are skipped, accumulation is int32.
 * Numpy twin: codegen/ops/depthwise_conv.py.
 */
#include "mcugen_depthwise_conv_s4.h"
#include "mcugen_fixedpoint.h"
#include "mcugen_int4.h"

void mcugen_depthwise_conv_s4(const mcugen_depthwise_conv_s4_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t oy, ox, oc, ky, kx;

    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            for (oc = 0; oc < p->output_c; ++oc) {
                const int32_t ic = oc / p->depth_multiplier;
                int32_t acc = p->bias[oc];
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = in_y0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= p->input_h) continue;
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t ix = in_x0 + kx * p->dilation_w;
                        int32_t x;
                        if (ix < 0 || ix >= p->input_w) continue;
                        x = input[((int32_t)iy * p->input_w + ix) * p->input_c + ic];
                        acc += (x + p->input_offset) *
                               mcugen_int4_code(p->weights, (ky * p->kernel_w + kx) * p->output_c + oc);
                    }
                }
                acc = mcugen_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                *output++ = mcugen_clamp_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}
