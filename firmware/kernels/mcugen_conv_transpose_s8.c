/*
 * mcugen_conv_transpose_s8.c — int8 2-D transposed convolution, NHWC input/output, OHWI weights
 * (not flipped), groups >= 1.
 *
 * ONNX scatters input pixel (iy, ix) through tap (ky, kx) to output pixel
 *   oy = iy * stride_h - pad_top + ky * dilation_h   (and likewise for ox).
 * This kernel gathers: for each output pixel and tap, t = oy + pad_top - ky * dilation_h must be
 * >= 0, a multiple of stride_h, and t / stride_h < input_h; then iy = t / stride_h. So
 *   acc = bias[oc] + sum over those (ky, kx) and ic in the group of oc of
 *         (input[iy][ix][ic] + input_offset) * weights[oc][ky][kx][ic - group_start]
 *   output = clamp(requantize(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 * Each output sums at most kernel_h * kernel_w * input_c / groups products, int32 accumulation
 * (the compiler bounded the bias so it cannot overflow, as for Conv). Numpy twin:
 * codegen/ops/conv_transpose.py (which scatters: the same integer sum in another order).
 */
#include "mcugen_conv_transpose_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_conv_transpose_s8(const mcugen_conv_transpose_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t group_in = p->input_c / p->groups;
    const int32_t group_out = p->output_c / p->groups;
    int32_t oy, ox, oc, ky, kx, ic;

    for (oy = 0; oy < p->output_h; ++oy) {
        for (ox = 0; ox < p->output_w; ++ox) {
            for (oc = 0; oc < p->output_c; ++oc) {
                const int32_t first_ic = (oc / group_out) * group_in;
                const int8_t *filter = p->weights + (int32_t)oc * p->kernel_h * p->kernel_w * group_in;
                int32_t acc = p->bias[oc];
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t ty = oy + p->pad_top - ky * p->dilation_h;
                    int32_t iy;
                    if (ty < 0) break; /* ty only falls as ky grows */
                    if (ty % p->stride_h) continue;
                    iy = ty / p->stride_h;
                    if (iy >= p->input_h) continue;
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t tx = ox + p->pad_left - kx * p->dilation_w;
                        const int8_t *in_px;
                        const int8_t *w_px;
                        int32_t ix;
                        if (tx < 0) break;
                        if (tx % p->stride_w) continue;
                        ix = tx / p->stride_w;
                        if (ix >= p->input_w) continue;
                        in_px = input + ((int32_t)iy * p->input_w + ix) * p->input_c + first_ic;
                        w_px = filter + (ky * p->kernel_w + kx) * group_in;
                        for (ic = 0; ic < group_in; ++ic) {
                            acc += ((int32_t)in_px[ic] + p->input_offset) * (int32_t)w_px[ic];
                        }
                    }
                }
                acc = mcugen_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                *output++ = mcugen_clamp_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}
