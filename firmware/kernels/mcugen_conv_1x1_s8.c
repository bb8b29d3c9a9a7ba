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
 * partner and drops the extra sums. A channel pair whose shifts are both in [-31, -2] (nearly
 * all) requantizes through mcugen_gemm_fast_t (for shifts >= -23 with the output offset folded
 * into the rounding term); any other through mcugen_requantize.
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

#if defined(__GNUC__) || defined(__clang__)
#define PW_NOINLINE __attribute__((noinline))
#else
#define PW_NOINLINE
#endif

/* The rare requantize (a shift outside [-23, -2]): out of line, so the pixel loop stays small. */
static PW_NOINLINE int32_t requantize_general(int32_t acc, int32_t multiplier, int32_t shift, int32_t offset)
{
    return mcugen_requantize(acc, multiplier, shift) + offset;
}

/* A whole block whose offset is added after the shift (mcugen_gemm_store_2x2_after): rare, out of line. */
static PW_NOINLINE void pw_store_after(int32_t a00, int32_t a01, int32_t a10, int32_t a11,
                                       const mcugen_gemm_fast_t f[2], int32_t offset, int8_t *out0, int8_t *out1)
{
    mcugen_gemm_store_2x2_after(a00, a01, a10, a11, f, offset, out0, out1);
}

/* Output channels oc and oc + 1 (or oc alone, the odd last one) over every pixel. The channels'
 * requantize constants and biases are loop constants of the pixel loop; when both shifts are in
 * [-31, -2] (nearly always) they take the fast requantize (mcugen_gemm_fast_pair), and the clamp
 * to int8's own range (the usual case) is one SSAT per output. */
static void channel_pair(const mcugen_conv_1x1_params_t *p, const int8_t *input, int8_t *output, int32_t oc)
{
    const int32_t pixels = p->output_h * p->output_w;
    const int32_t channels = p->output_c;
    const int32_t n = p->input_c;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int full_range = act_min == -128 && act_max == 127;
    const int contiguous = p->stride_h == 1 && p->stride_w == 1 && p->input_w == p->output_w;
    const int two_channels = oc + 1 < channels;
    const int32_t oc1 = two_channels ? oc + 1 : oc;
    const int8_t *const w = p->weights + oc * n;
    const int32_t bias0 = p->bias[oc], bias1 = p->bias[oc1];
    const int32_t shift0 = p->shift[oc], shift1 = p->shift[oc1];
    const int32_t multiplier0 = p->multiplier[oc], multiplier1 = p->multiplier[oc1];
    mcugen_gemm_fast_t f[2] = {{0, 0, 0}, {0, 0, 0}};
    const int kind = mcugen_gemm_fast_pair(f, multiplier0, shift0, multiplier1, shift1, output_offset);
    const int fast = kind != MCUGEN_GEMM_GENERAL;
    const int32_t after = kind == MCUGEN_GEMM_OFFSET_AFTER ? output_offset : 0; /* what the shift leaves out */
    const int32_t m0 = f[0].multiplier, round0 = f[0].round, right0 = f[0].right1;
    const int32_t m1 = f[1].multiplier, round1 = f[1].round, right1 = f[1].right1;
    const int whole_fast = fast && full_range && two_channels;
    const int8_t *x0 = input;
    int8_t *out = output + oc;
    int32_t pixel = 0;

    if (whole_fast && contiguous && mcugen_gemm_aligned(w, n)) {
        /* the usual layer: a tight loop over pixel pairs (two copies, so neither tests the kind per block) */
        const int32_t last = pixels - 1;
        int32_t acc[4];
        if (kind == MCUGEN_GEMM_FOLDED) {
            for (; pixel < last; pixel += 2, x0 += 2 * n, out += 2 * channels) {
                acc[0] = acc[2] = bias0;
                acc[1] = acc[3] = bias1;
                mcugen_gemm_2x2_aligned_s8(x0, x0 + n, w, n, acc);
                mcugen_gemm_store_2x2_folded(acc[0], acc[1], acc[2], acc[3], f, out, out + channels);
            }
        } else {
            for (; pixel < last; pixel += 2, x0 += 2 * n, out += 2 * channels) {
                acc[0] = acc[2] = bias0;
                acc[1] = acc[3] = bias1;
                mcugen_gemm_2x2_aligned_s8(x0, x0 + n, w, n, acc);
                pw_store_after(acc[0], acc[1], acc[2], acc[3], f, output_offset, out, out + channels);
            }
        }
    }
    for (; pixel < pixels; pixel += 2, out += 2 * channels) {
        const int two_pixels = pixel + 1 < pixels;
        const int8_t *x1;
        int32_t acc[4], y0, y1, y2, y3;
        if (!contiguous) x0 = strided_row(p, input, pixel);
        x1 = !two_pixels ? x0 : contiguous ? x0 + n : strided_row(p, input, pixel + 1);
        if (two_channels) {
            acc[0] = acc[2] = bias0;
            acc[1] = acc[3] = bias1;
            mcugen_gemm_2x2_s8(x0, x1, w, n, acc);
        } else {
            acc[0] = acc[1] = bias0;
            mcugen_gemm_2x1_s8(x0, x1, w, n, acc);
            acc[2] = acc[3] = acc[1];
            acc[1] = acc[0];
        }
        x0 += 2 * n;
        if (fast) {
            y0 = mcugen_gemm_fast(acc[0], m0, round0, right0) + after;
            y1 = mcugen_gemm_fast(acc[1], m1, round1, right1) + after;
            y2 = mcugen_gemm_fast(acc[2], m0, round0, right0) + after;
            y3 = mcugen_gemm_fast(acc[3], m1, round1, right1) + after;
        } else {
            y0 = requantize_general(acc[0], multiplier0, shift0, output_offset);
            y1 = requantize_general(acc[1], multiplier1, shift1, output_offset);
            y2 = requantize_general(acc[2], multiplier0, shift0, output_offset);
            y3 = requantize_general(acc[3], multiplier1, shift1, output_offset);
        }
        if (full_range) {
            y0 = mcugen_ssat8(y0);
            y1 = mcugen_ssat8(y1);
            y2 = mcugen_ssat8(y2);
            y3 = mcugen_ssat8(y3);
        } else {
            y0 = mcugen_clamp_s8(y0, act_min, act_max);
            y1 = mcugen_clamp_s8(y1, act_min, act_max);
            y2 = mcugen_clamp_s8(y2, act_min, act_max);
            y3 = mcugen_clamp_s8(y3, act_min, act_max);
        }
        out[0] = (int8_t)y0;
        if (two_channels) out[1] = (int8_t)y1;
        if (two_pixels) {
            out[channels] = (int8_t)y2;
            if (two_channels) out[channels + 1] = (int8_t)y3;
        }
    }
}

void mcugen_conv_1x1_s8(const mcugen_conv_1x1_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t oc;
    /* Channel pairs outside, pixel pairs inside: a pair's constants stay put for the whole pixel loop. */
    for (oc = 0; oc < p->output_c; oc += 2) channel_pair(p, input, output, oc);
}
