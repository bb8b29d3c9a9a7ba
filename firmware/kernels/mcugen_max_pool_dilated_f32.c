/*
 * mcugen_max_pool_dilated_f32.c — float32 dilated max pooling, NHWC (weight-only models):
 *
 *   best = the first valid window position's value, then every later value v with v > best
 *   output = clamp(best, act_min, act_max)
 *
 * Window positions in the padding are skipped. Compile with -ffp-contract=off (see mcugen_f32.h).
 * Numpy twin: codegen/ops/max_pool.py (run_f32).
 *
 * The window's taps are dilation_h rows and dilation_w columns apart: tap (ky, kx) reads
 * input[oy * stride_h - pad_top + ky * dilation_h][ox * stride_w - pad_left + kx * dilation_w].
 */
#include "mcugen_max_pool_dilated_f32.h"
#include "mcugen_f32.h"

void mcugen_max_pool_dilated_f32(const mcugen_max_pool_dilated_f32_params_t *p, const float *input, float *output)
{
    int32_t oy, ox, c, ky, kx;
    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            for (c = 0; c < p->channels; ++c) {
                float best = 0.0f;
                int32_t seen = 0;
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = in_y0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= p->input_h) continue;
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t ix = in_x0 + kx * p->dilation_w;
                        float v;
                        if (ix < 0 || ix >= p->input_w) continue;
                        v = input[((int32_t)iy * p->input_w + ix) * p->channels + c];
                        if (!seen || v > best) best = v;
                        seen = 1;
                    }
                }
                *output++ = mcugen_clamp_f32(best, p->act_min, p->act_max);
            }
        }
    }
}
