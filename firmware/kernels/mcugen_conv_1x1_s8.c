/*
 * mcugen_conv_1x1_s8.c — int8 1x1 convolution as a matrix multiply over pixels, without im2col.
 *
 *   acc = bias[oc] + sum over ic of input[oy * stride_h][ox * stride_w][ic] * weights[oc][ic]
 *   output = clamp(requantize(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 *
 * bias already holds bias + input_offset * sum(weights[oc]) (folded at compile time), so this
 * equals the spec of mcugen_conv_s8.c for kernel 1x1, group 1, no padding. Numpy twin:
 * codegen/ops/conv.py (run_int). Pixels and output channels go two by two through
 * mcugen_gemm_2x2_s8 (weights of a channel pair interleaved, see mcugen_conv_gemm_s8.h); an odd
 * last channel goes through mcugen_gemm_2x1_s8 (a plain row), an odd last pixel repeats its
 * partner and drops the extra sums.
 */
#include "mcugen_conv_1x1_s8.h"
#include "mcugen_conv_gemm_s8.h"

static inline const int8_t *pixel_row(const mcugen_conv_1x1_params_t *p, const int8_t *input, int32_t pixel)
{
    if (p->stride_h == 1 && p->stride_w == 1 && p->input_w == p->output_w) {
        return input + pixel * p->input_c;
    } else {
        const int32_t oy = pixel / p->output_w;
        const int32_t ox = pixel - oy * p->output_w;
        return input + (oy * p->stride_h * p->input_w + ox * p->stride_w) * p->input_c;
    }
}

void mcugen_conv_1x1_s8(const mcugen_conv_1x1_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t pixels = p->output_h * p->output_w;
    const int32_t channels = p->output_c;
    const int32_t n = p->input_c;
    int32_t pixel, oc;

    for (pixel = 0; pixel < pixels; pixel += 2) {
        const int two_pixels = pixel + 1 < pixels;
        const int8_t *x0 = pixel_row(p, input, pixel);
        const int8_t *x1 = two_pixels ? pixel_row(p, input, pixel + 1) : x0;
        int8_t *out0 = output + pixel * channels;
        int8_t *out1 = out0 + channels;
        for (oc = 0; oc < channels; oc += 2) {
            const int two_channels = oc + 1 < channels;
            const int32_t oc1 = two_channels ? oc + 1 : oc;
            int32_t acc[4];
            acc[0] = acc[2] = p->bias[oc];
            acc[1] = acc[3] = p->bias[oc1];
            if (two_channels) {
                mcugen_gemm_2x2_s8(x0, x1, p->weights + oc * n, n, acc);
            } else {
                int32_t sums[2];
                sums[0] = sums[1] = p->bias[oc];
                mcugen_gemm_2x1_s8(x0, x1, p->weights + oc * n, n, sums);
                acc[0] = sums[0];
                acc[2] = sums[1];
            }
            out0[oc] = mcugen_gemm_output_s8(acc[0], p->multiplier[oc], p->shift[oc], p->output_offset,
                                             p->act_min, p->act_max);
            if (two_channels) {
                out0[oc1] = mcugen_gemm_output_s8(acc[1], p->multiplier[oc1], p->shift[oc1], p->output_offset,
                                                  p->act_min, p->act_max);
            }
            if (two_pixels) {
                out1[oc] = mcugen_gemm_output_s8(acc[2], p->multiplier[oc], p->shift[oc], p->output_offset,
                                                 p->act_min, p->act_max);
                if (two_channels) {
                    out1[oc1] = mcugen_gemm_output_s8(acc[3], p->multiplier[oc1], p->shift[oc1],
                                                      p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}
