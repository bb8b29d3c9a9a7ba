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
    const int8_t *const weights = p->weights;
    const int32_t *const bias = p->bias;
    const mcugen_gemm_output_t out = {p->multiplier, p->shift, p->output_offset, p->act_min, p->act_max};
    int32_t pixel, oc;

    for (pixel = 0; pixel < pixels; pixel += 2) {
        const int two_pixels = pixel + 1 < pixels;
        const int8_t *x0 = pixel_row(p, input, pixel);
        const int8_t *x1 = two_pixels ? pixel_row(p, input, pixel + 1) : x0;
        int8_t *out0 = output + pixel * channels;
        int8_t *out1 = out0 + channels;
        for (oc = 0; oc < channels; oc += 2) {
            const int two_channels = oc + 1 < channels;
            int32_t acc[4];
            if (two_channels) {
                acc[0] = acc[2] = bias[oc];
                acc[1] = acc[3] = bias[oc + 1];
                mcugen_gemm_2x2_s8(x0, x1, weights + oc * n, n, acc);
            } else {
                acc[0] = acc[1] = bias[oc];
                mcugen_gemm_2x1_s8(x0, x1, weights + oc * n, n, acc);
                acc[2] = acc[1];
            }
            mcugen_gemm_store_2x2_s8(&out, acc, out0, out1, oc, two_channels, two_pixels);
        }
    }
}
