/*
 * mcugen_max_pool_dilated_s16.c — int16 dilated max pooling, NHWC, so a 16-bit layer's output is pooled
 * without requantizing it to int8 and back.
 *
 *   output[oy][ox][c] = clamp(max of input[iy][ix][c] over the valid window positions, act_min, act_max)
 *
 * Input and output share scale and zero point, so no requantization happens.
 *
 * Numpy twin: codegen/ops/max_pool.py.
 *
 * The window's taps are dilation_h rows and dilation_w columns apart: tap (ky, kx) reads
 * input[oy * stride_h - pad_top + ky * dilation_h][ox * stride_w - pad_left + kx * dilation_w].
 */
#include "mcugen_max_pool_dilated_s16.h"
#include "mcugen_fixedpoint.h"

void mcugen_max_pool_dilated_s16(const mcugen_max_pool_dilated_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t oy, ox, c, ky, kx;
    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            for (c = 0; c < p->channels; ++c) {
                int32_t best = INT16_MIN;
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = in_y0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= p->input_h) continue;
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t ix = in_x0 + kx * p->dilation_w;
                        int32_t v;
                        if (ix < 0 || ix >= p->input_w) continue;
                        v = input[((int32_t)iy * p->input_w + ix) * p->channels + c];
                        if (v > best) best = v;
                    }
                }
                *output++ = mcugen_clamp_s16(best, p->act_min, p->act_max);
            }
        }
    }
}
