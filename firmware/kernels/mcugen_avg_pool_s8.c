/*
 * mcugen_avg_pool_s8.c — int8 average pooling, NHWC.
 *
 *   acc = sum of (input[iy][ix][c] + input_offset) over the valid window positions
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
    int32_t oy, ox, c, ky, kx;
    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            for (c = 0; c < p->channels; ++c) {
                int32_t acc = 0;
                int32_t n = 0;
                int32_t idx;
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = in_y0 + ky;
                    if (iy < 0 || iy >= p->input_h) continue;
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t ix = in_x0 + kx;
                        int32_t v;
                        if (ix < 0 || ix >= p->input_w) continue;
                        v = input[((int32_t)iy * p->input_w + ix) * p->channels + c];
                        acc += v + p->input_offset;
                        ++n;
                    }
                }
                idx = p->per_count ? (p->count_include_pad ? p->kernel_h * p->kernel_w : n) : 0;
                acc = mcugen_requantize_round_once(acc, p->multiplier[idx], p->shift[idx]) + p->output_offset;
                *output++ = mcugen_clamp_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}
