/*
 * mcugen_avg_pool_tflite_s8.c — int8 average pooling, NHWC, as TensorFlow Lite's reference kernel
 * computes it (input and output share one scale and zero point):
 *
 *   acc = sum of the raw codes input[iy][ix][c] over the n window positions inside the input
 *   output = clamp(acc >= 0 ? (acc + n / 2) / n : (acc - n / 2) / n, act_min, act_max)
 *
 * i.e. acc / n rounded half away from zero, in codes (int32 sum, C's truncating division).
 * Numpy twin: codegen/ops/avg_pool_tflite.py.
 */
#include "mcugen_avg_pool_tflite_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_avg_pool_tflite_s8(const mcugen_avg_pool_tflite_params_t *p, const int8_t *input, int8_t *output)
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
            /* quantize() refuses an empty window, so n >= 1 */
            const int32_t n = (ky1 - ky0) * (kx1 - kx0);
            const int8_t *const corner = input + ((in_y0 + ky0) * p->input_w + in_x0 + kx0) * channels;
            for (c = 0; c < channels; ++c) {
                int32_t acc = 0;
                const int8_t *row = corner + c;
                for (ky = ky0; ky < ky1; ++ky, row += row_step) {
                    const int8_t *x = row;
                    for (kx = kx0; kx < kx1; ++kx, x += channels) acc += *x;
                }
                acc = acc >= 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
                *output++ = mcugen_clamp_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}
