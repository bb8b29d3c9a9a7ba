/*
 * mcugen_avg_pool_f32.c — float32 average pooling, NHWC (weight-only models):
 *
 *   acc = 0.0f; acc = acc + input[iy][ix][c] over the valid window positions, row by row
 *   n = kernel_h * kernel_w if count_include_pad, else the number of valid positions
 *   output = clamp(acc / (float)n, act_min, act_max)
 *
 * Compile with -ffp-contract=off (see mcugen_f32.h). Numpy twin: codegen/ops/avg_pool.py (run_f32).
 */
#include "mcugen_avg_pool_f32.h"
#include "mcugen_f32.h"

void mcugen_avg_pool_f32(const mcugen_avg_pool_f32_params_t *p, const float *input, float *output)
{
    int32_t oy, ox, c, ky, kx;
    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            for (c = 0; c < p->channels; ++c) {
                float acc = 0.0f;
                int32_t n = 0;
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = in_y0 + ky;
                    if (iy < 0 || iy >= p->input_h) continue;
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t ix = in_x0 + kx;
                        if (ix < 0 || ix >= p->input_w) continue;
                        acc = acc + input[((int32_t)iy * p->input_w + ix) * p->channels + c];
                        ++n;
                    }
                }
                if (p->count_include_pad) n = p->kernel_h * p->kernel_w;
                *output++ = mcugen_clamp_f32(acc / (float)n, p->act_min, p->act_max);
            }
        }
    }
}
