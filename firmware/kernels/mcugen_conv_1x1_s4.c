/*
 * mcugen_conv_1x1_s4.c — 1x1 convolution with int4 weights as a matrix multiply over pixels.
 *
 *   acc = bias[oc] + sum over ic of input[oy * stride_h][ox * stride_w][ic] * code[oc][ic]
 *   output = clamp(requantize(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 *
 * The same integers as mcugen_conv_1x1_s8.c with int4 codes for weights (bias folded at compile
 * time). Channel pairs go outside: a pair's 2 * input_c codes are unpacked once into scratch as
 * int8, then every pixel pair runs the int8 GEMM core (mcugen_conv_gemm_s8.h) on them, so int4
 * costs only the unpacking (2 * input_c codes per channel pair) over int8. Numpy twin:
 * codegen/ops/conv.py (run_int).
 */
#include "mcugen_conv_1x1_s4.h"
#include "mcugen_conv_gemm_s8.h"
#include "mcugen_int4.h"

int32_t mcugen_conv_1x1_s4_buffer_size(const mcugen_conv_1x1_s4_params_t *p)
{
    return 2 * p->input_c;
}

/* The input row of output pixel `pixel` when the rows are not contiguous (a stride). */
static const int8_t *strided_row(const mcugen_conv_1x1_s4_params_t *p, const int8_t *input, int32_t pixel)
{
    const int32_t oy = pixel / p->output_w;
    const int32_t ox = pixel - oy * p->output_w;
    return input + (oy * p->stride_h * p->input_w + ox * p->stride_w) * p->input_c;
}

/* count codes from code index first (even: a channel pair starts at oc * input_c with oc even). */
static void unpack_codes(const uint8_t *packed, int32_t first, int32_t count, int8_t *dst)
{
    const uint8_t *b = packed + (first >> 1);
    for (; count >= 2; count -= 2, ++b) {
        *dst++ = (int8_t)mcugen_int4_low(*b);
        *dst++ = (int8_t)mcugen_int4_high(*b);
    }
    if (count) *dst = (int8_t)mcugen_int4_low(*b);
}

void mcugen_conv_1x1_s4(const mcugen_conv_1x1_s4_params_t *p, const int8_t *input, int8_t *output,
                        int8_t *scratch)
{
    const int32_t pixels = p->output_h * p->output_w;
    const int32_t channels = p->output_c;
    const int32_t n = p->input_c;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int contiguous = p->stride_h == 1 && p->stride_w == 1 && p->input_w == p->output_w;
    int32_t pixel, oc;

    for (oc = 0; oc < channels; oc += 2) {
        const int two_channels = oc + 1 < channels;
        const int32_t oc1 = two_channels ? oc + 1 : oc;
        const int32_t bias0 = p->bias[oc], bias1 = p->bias[oc1];
        const int32_t multiplier0 = p->multiplier[oc], multiplier1 = p->multiplier[oc1];
        const int32_t shift0 = p->shift[oc], shift1 = p->shift[oc1];
        unpack_codes(p->weights, oc * n, two_channels ? 2 * n : n, scratch);
        for (pixel = 0; pixel < pixels; pixel += 2) {
            const int two_pixels = pixel + 1 < pixels;
            const int8_t *x0 = contiguous ? input + pixel * n : strided_row(p, input, pixel);
            const int8_t *x1 = !two_pixels ? x0 : contiguous ? x0 + n : strided_row(p, input, pixel + 1);
            int8_t *out0 = output + pixel * channels + oc;
            int32_t acc[4];
            if (two_channels) {
                acc[0] = acc[2] = bias0;
                acc[1] = acc[3] = bias1;
                mcugen_gemm_2x2_s8(x0, x1, scratch, n, acc);
            } else {
                acc[0] = acc[1] = bias0;
                mcugen_gemm_2x1_s8(x0, x1, scratch, n, acc);
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
