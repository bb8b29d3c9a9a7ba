/*
 * mcugen_conv_1x1_s8.c — int8 1x1 convolution as a matrix multiply over pixels, without im2col.
 *
 *   acc = bias[oc] + sum over ic of input[oy * stride_h][ox * stride_w][ic] * weights[oc][ic]
 *   output = clamp(requantize(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 *
 * bias already holds bias + input_offset * sum(weights[oc]) (folded at compile time), so this
 * equals the spec of mcugen_conv_s8.c for kernel 1x1, group 1, no padding. Numpy twin:
 * codegen/ops/conv.py (run_int). Output channels and pixels go two by two through
 * mcugen_gemm_2x2_s8 (weights of a channel pair interleaved, see mcugen_conv_gemm_s8.h); an odd
 * last channel goes through mcugen_gemm_2x1_s8 (a plain row), an odd last pixel repeats its
 * partner and drops the extra sums.
 */
#include "mcugen_conv_1x1_s8.h"
#include "mcugen_conv_gemm_s8.h"

/* The input row of output pixel `pixel` (strided, or not: the caller hoists the contiguous case). */
static const int8_t *strided_row(const mcugen_conv_1x1_params_t *p, const int8_t *input, int32_t pixel)
{
    const int32_t oy = pixel / p->output_w;
    const int32_t ox = pixel - oy * p->output_w;
    return input + (oy * p->stride_h * p->input_w + ox * p->stride_w) * p->input_c;
}

void mcugen_conv_1x1_s8(const mcugen_conv_1x1_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t pixels = p->output_h * p->output_w;
    const int32_t channels = p->output_c;
    const int32_t n = p->input_c;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int contiguous = p->stride_h == 1 && p->stride_w == 1 && p->input_w == p->output_w;
    int32_t pixel, oc;

    /* Channel pairs outside, pixel pairs inside: a pair's bias, multipliers and shifts are loop
     * constants of the pixel loop, so the requantize of each output does not reload or re-derive them. */
    for (oc = 0; oc < channels; oc += 2) {
        const int two_channels = oc + 1 < channels;
        const int32_t oc1 = two_channels ? oc + 1 : oc;
        const int8_t *const w = p->weights + oc * n;
        const int32_t bias0 = p->bias[oc], bias1 = p->bias[oc1];
        const int32_t multiplier0 = p->multiplier[oc], multiplier1 = p->multiplier[oc1];
        const int32_t shift0 = p->shift[oc], shift1 = p->shift[oc1];
        for (pixel = 0; pixel < pixels; pixel += 2) {
            const int two_pixels = pixel + 1 < pixels;
            const int8_t *x0 = contiguous ? input + pixel * n : strided_row(p, input, pixel);
            const int8_t *x1 = !two_pixels ? x0 : contiguous ? x0 + n : strided_row(p, input, pixel + 1);
            int8_t *out0 = output + pixel * channels + oc;
            int32_t acc[4];
            if (two_channels) {
                acc[0] = acc[2] = bias0;
                acc[1] = acc[3] = bias1;
                mcugen_gemm_2x2_s8(x0, x1, w, n, acc);
            } else {
                acc[0] = acc[1] = bias0;
                mcugen_gemm_2x1_s8(x0, x1, w, n, acc);
                acc[2] = acc[1];
            }
            out0[0] = mcugen_gemm_clamp_s8(acc[0], multiplier0, shift0, output_offset, act_min, act_max);
            if (two_channels) out0[1] = mcugen_gemm_clamp_s8(acc[1], multiplier1, shift1, output_offset, act_min, act_max);
            if (two_pixels) {
                out0[channels] = mcugen_gemm_clamp_s8(acc[2], multiplier0, shift0, output_offset, act_min, act_max);
                if (two_channels) {
                    out0[channels + 1] = mcugen_gemm_clamp_s8(acc[3], multiplier1, shift1, output_offset, act_min,
                                                              act_max);
                }
            }
        }
    }
}
