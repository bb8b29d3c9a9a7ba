/*
 * mcugen_conv_im2col_s8.c — int8 2-D convolution as im2col + a 2x2-blocked matrix multiply.
 *
 *   acc = bias[oc] + sum over (ky, kx, ic in the group of oc) of
 *         window[ky][kx][ic] * weights[oc][ky][kx][ic - group_start]
 *   window[ky][kx][ic] = input[iy][ix][ic] inside the image, -input_offset (the zero point) in the padding
 *   output = clamp(requantize(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 *
 * bias already holds bias + input_offset * sum(weights[oc]) (folded at compile time), and a padded
 * position holding the zero point adds zero_point * w = -input_offset * w, which cancels its share
 * of the folded term: this equals mcugen_conv_s8.c (padding skipped) exactly. Numpy twin:
 * codegen/ops/conv.py (run_int).
 * The windows of two output pixels (one group) are copied into scratch as two contiguous rows of
 * kernel_h * kernel_w * input_c / groups bytes, each padded with zero bytes to n, a multiple of 4
 * (the weight rows are padded with zero weights alike at compile time, codegen/ops/conv.py
 * padded_row), so the whole window is one reduction of length n with no scalar tail (a first
 * layer with 1-3 input channels still fills every SMLAD lane), then every output channel
 * pair of the group runs mcugen_gemm_2x2_s8 over the two rows. A whole 2 x 2 block of a layer
 * clamped to int8's own range whose two shifts are in [-31, -2] (the usual block) is requantized
 * by mcugen_gemm_store_2x2_folded (the output offset folded into the rounding term for shifts >= -23).
 */
#include <string.h>

#include "mcugen_conv_gemm_s8.h"
#include "mcugen_conv_im2col_s8.h"

int32_t mcugen_conv_im2col_s8_buffer_size(const mcugen_conv_im2col_params_t *p)
{
    return 2 * ((p->kernel_h * p->kernel_w * (p->input_c / p->groups) + 3) & ~3);
}

/* count bytes from src to dst, a word at a time (the runtime's memcpy is a byte loop). */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t count)
{
    for (; count >= 4; count -= 4, dst += 4, src += 4) {
        const uint32_t word = mcugen_read_s8x4(src);
        memcpy(dst, &word, sizeof word);
    }
    for (; count > 0; --count) *dst++ = *src++;
}

/* Copy the window of output pixel `pixel` (channels first_ic .. first_ic + group_in - 1) into row. */
static void fill_window(const mcugen_conv_im2col_params_t *p, const int8_t *input, int32_t pixel, int32_t first_ic,
                        int32_t group_in, int8_t *row)
{
    const int32_t oy = pixel / p->output_w;
    const int32_t ox = pixel - oy * p->output_w;
    const int32_t in_y0 = oy * p->stride_h - p->pad_top;
    const int32_t in_x0 = ox * p->stride_w - p->pad_left;
    const int zero_point = -p->input_offset;
    const int32_t row_bytes = p->kernel_w * group_in;
    /* Group 1, no horizontal dilation: a kernel row's taps inside the image are one contiguous run. */
    const int runs = p->dilation_w == 1 && group_in == p->input_c;
    int32_t ky, kx;
    for (ky = 0; ky < p->kernel_h; ++ky) {
        const int32_t iy = in_y0 + ky * p->dilation_h;
        if (iy < 0 || iy >= p->input_h) {
            memset(row, zero_point, (size_t)row_bytes);
            row += row_bytes;
            continue;
        }
        if (runs) {
            const int32_t left = in_x0 < 0 ? (-in_x0 < p->kernel_w ? -in_x0 : p->kernel_w) : 0;
            const int32_t beyond = in_x0 + p->kernel_w - p->input_w;
            const int32_t right = beyond > 0 ? (beyond < p->kernel_w - left ? beyond : p->kernel_w - left) : 0;
            const int32_t inside = p->kernel_w - left - right;
            if (left > 0) memset(row, zero_point, (size_t)(left * group_in));
            if (inside > 0) {
                copy_bytes(row + left * group_in, input + (iy * p->input_w + in_x0 + left) * p->input_c,
                           inside * group_in);
            }
            if (right > 0) memset(row + (left + inside) * group_in, zero_point, (size_t)(right * group_in));
            row += row_bytes;
            continue;
        }
        for (kx = 0; kx < p->kernel_w; ++kx) {
            const int32_t ix = in_x0 + kx * p->dilation_w;
            if (ix < 0 || ix >= p->input_w) {
                memset(row, zero_point, (size_t)group_in);
            } else {
                copy_bytes(row, input + (iy * p->input_w + ix) * p->input_c + first_ic, group_in);
            }
            row += group_in;
        }
    }
}

#if defined(__GNUC__) || defined(__clang__)
#define IM2COL_NOINLINE __attribute__((noinline))
#else
#define IM2COL_NOINLINE
#endif

/* A whole block whose offset is added after the shift (mcugen_gemm_store_2x2_after): rare, out of line. */
static IM2COL_NOINLINE void im2col_store_after(int32_t a00, int32_t a01, int32_t a10, int32_t a11,
                                               const mcugen_gemm_fast_t f[2], int32_t offset, int8_t *out0,
                                               int8_t *out1)
{
    mcugen_gemm_store_2x2_after(a00, a01, a10, a11, f, offset, out0, out1);
}

/* A whole block of a full-range layer whose channel pair takes the fast requantize (kind FOLDED or
 * OFFSET_AFTER). */
static inline void im2col_store_fast(const int32_t acc[4], const mcugen_gemm_fast_t f[2], int kind, int32_t offset,
                                     int8_t *out0, int8_t *out1)
{
    if (kind == MCUGEN_GEMM_FOLDED) {
        mcugen_gemm_store_2x2_folded(acc[0], acc[1], acc[2], acc[3], f, out0, out1);
    } else {
        im2col_store_after(acc[0], acc[1], acc[2], acc[3], f, offset, out0, out1);
    }
}

/* Output channels oc_start .. oc_end - 1 of the pixel pair whose windows are row0 and row1 (row1 =
 * row0 for a lone last pixel), any shapes and shifts, through mcugen_requantize: the blocks the
 * tight loop of the usual layer leaves (a lone last pixel or channel, a clamp inside int8, a shift
 * outside [-31, -2], a window of 4 bytes), out of line so that loop stays small. */
static IM2COL_NOINLINE void channels_general(const mcugen_conv_im2col_params_t *p, const int8_t *row0,
                                             const int8_t *row1, int32_t n, int32_t oc_start, int32_t oc_end,
                                             int two_pixels, int8_t *out0, int8_t *out1)
{
    const int8_t *const weights = p->weights;
    const int32_t *const bias = p->bias;
    const mcugen_gemm_output_t out = {p->multiplier, p->shift, p->output_offset, p->act_min, p->act_max};
    int32_t oc;
    for (oc = oc_start; oc < oc_end; oc += 2) {
        const int two_channels = oc + 1 < oc_end;
        int32_t acc[4];
        if (two_channels) {
            acc[0] = acc[2] = bias[oc];
            acc[1] = acc[3] = bias[oc + 1];
            mcugen_gemm_2x2_s8(row0, row1, weights + oc * n, n, acc);
        } else {
            acc[0] = acc[1] = bias[oc];
            mcugen_gemm_2x1_s8(row0, row1, weights + oc * n, n, acc);
            acc[2] = acc[3] = acc[1];
        }
        mcugen_gemm_store_2x2_s8(&out, acc, out0, out1, oc, two_channels, two_pixels);
    }
}

void mcugen_conv_im2col_s8(const mcugen_conv_im2col_params_t *p, const int8_t *input, int8_t *output,
                           int8_t *scratch)
{
    const int32_t group_in = p->input_c / p->groups;
    const int32_t group_out = p->output_c / p->groups;
    const int32_t window = p->kernel_h * p->kernel_w * group_in;
    const int32_t n = (window + 3) & ~3; /* the padded row: weights and window (see the top) */
    const int32_t pixels = p->output_h * p->output_w;
    const int32_t channels = p->output_c;
    const int32_t groups = p->groups;
    const int8_t *const weights = p->weights;
    const int32_t *const bias = p->bias;
    const int32_t *const multiplier = p->multiplier;
    const int8_t *const shift = p->shift;
    const int32_t output_offset = p->output_offset;
    /* Clamped to int8's own range, n (a multiple of 4) at least 8 and the weights word-aligned:
     * whole blocks take mcugen_gemm_2x2_aligned_s8 and the assembly epilogue. */
    const int tight = p->act_min == -128 && p->act_max == 127 && mcugen_gemm_aligned(weights, n);
    int8_t *const row0 = scratch;
    int8_t *const row1 = scratch + n;
    int32_t pixel, g, j;

    for (j = window; j < n; ++j) row0[j] = row1[j] = 0; /* the padding bytes meet zero weights; set once */

    for (pixel = 0; pixel < pixels; pixel += 2) {
        const int two_pixels = pixel + 1 < pixels;
        int8_t *out0 = output + pixel * channels;
        int8_t *out1 = out0 + channels;
        for (g = 0; g < groups; ++g) {
            fill_window(p, input, pixel, g * group_in, group_in, row0);
            if (two_pixels) fill_window(p, input, pixel + 1, g * group_in, group_in, row1);
            j = 0;
            if (tight && two_pixels) {
                for (; j + 1 < group_out; j += 2) {
                    const int32_t oc = g * group_out + j;
                    mcugen_gemm_fast_t f[2];
                    int32_t acc[4];
                    const int kind = mcugen_gemm_fast_pair(f, multiplier[oc], shift[oc], multiplier[oc + 1],
                                                           shift[oc + 1], output_offset);
                    if (kind == MCUGEN_GEMM_GENERAL) break; /* a shift outside [-31, -2]: the general blocks */
                    acc[0] = acc[2] = bias[oc];
                    acc[1] = acc[3] = bias[oc + 1];
                    mcugen_gemm_2x2_aligned_s8(row0, row1, weights + oc * n, n, acc);
                    im2col_store_fast(acc, f, kind, output_offset, out0 + oc, out1 + oc);
                }
            }
            if (j < group_out) {
                channels_general(p, row0, two_pixels ? row1 : row0, n, g * group_out + j, (g + 1) * group_out,
                                 two_pixels, out0, out1);
            }
        }
    }
}
