/*
 * mcugen_avg_pool_s8.c — int8 average pooling, NHWC.
 *
 *   acc = sum of (input[iy][ix][c] + input_offset) over the valid window positions
 *       (computed as the sum of the inputs plus n_valid * input_offset, over the window's rows
 *       and columns that lie inside the input, so the sum has no bounds checks)
 *   n = kernel_h * kernel_w if count_include_pad, else the number of valid positions
 *   output = clamp(requantize_round_once(acc, multiplier[i], shift[i]) + output_offset, act_min, act_max)
 *   with i = n when per_count (a table over divisors), else 0: the division by n is folded
 *   into the multiplier, and the product is rounded once (half away from zero), so equal input
 *   and output scales give round(acc / n) exactly, as TFLite and ONNX Runtime do.
 *
 * Numpy twin: codegen/ops/avg_pool.py.
 */
#include "mcugen_avg_pool_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_avg_pool_s8(const mcugen_avg_pool_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t channels = p->channels, row_step = p->input_w * channels;
    int32_t oy, ox, c, ky, kx;
    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        /* the window's rows inside the input: no bounds check in the sum */
        const int32_t ky0 = in_y0 < 0 ? -in_y0 : 0;
        const int32_t ky1 = in_y0 + p->kernel_h > p->input_h ? p->input_h - in_y0 : p->kernel_h;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            const int32_t kx0 = in_x0 < 0 ? -in_x0 : 0;
            const int32_t kx1 = in_x0 + p->kernel_w > p->input_w ? p->input_w - in_x0 : p->kernel_w;
            const int32_t n = ky1 > ky0 && kx1 > kx0 ? (ky1 - ky0) * (kx1 - kx0) : 0;
            const int32_t idx = p->per_count ? (p->count_include_pad ? p->kernel_h * p->kernel_w : n) : 0;
            const int8_t *const corner = n ? input + ((in_y0 + ky0) * p->input_w + in_x0 + kx0) * channels : input;
            for (c = 0; c < channels; ++c) {
                /* sum of (x + input_offset) = sum of x + n * input_offset */
                int32_t acc = n * p->input_offset;
                const int8_t *row = corner + c;
                for (ky = ky0; ky < ky1; ++ky, row += row_step) {
                    const int8_t *x = row;
                    for (kx = kx0; kx < kx1; ++kx, x += channels) acc += *x;
                }
                acc = mcugen_requantize_round_once(acc, p->multiplier[idx], p->shift[idx]) + p->output_offset;
                *output++ = mcugen_clamp_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}
