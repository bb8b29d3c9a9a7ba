/*
 * mcugen_resize_bilinear_s8.c — bilinear resize over H and W, NHWC, int8 in and out with the
 * same scale and zero point.
 *
 * With a, b the codes at (row0, col0), (row0, col1), c, d at (row1, col0), (row1, col1), and the
 * compile-time weights wy1 = row_weight[oy], wy0 = 2048 - wy1, wx1 = col_weight[ox], wx0 = 2048 - wx1:
 *   acc = wy0 * (wx0 * (a + 128) + wx1 * (b + 128)) + wy1 * (wx0 * (c + 128) + wx1 * (d + 128))
 *   output = (acc + 2^21) / 2^22 - 128   (one rounding, half up)
 * acc lies in [0, 255 * 2^22], so the int32 sum neither overflows nor needs a signed shift.
 * Numpy twin: codegen/ops/resize.py.
 */
#include "mcugen_resize_bilinear_s8.h"

void mcugen_resize_bilinear_s8(const mcugen_resize_bilinear_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t channels = p->channels, row_step = p->input_w * channels;
    int32_t oy, ox, c;
    for (oy = 0; oy < p->output_h; ++oy) {
        const int8_t *top = input + (int32_t)p->row0[oy] * row_step;
        const int8_t *bottom = input + (int32_t)p->row1[oy] * row_step;
        const int32_t wy1 = p->row_weight[oy], wy0 = 2048 - wy1;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t x0 = (int32_t)p->col0[ox] * channels, x1 = (int32_t)p->col1[ox] * channels;
            const int32_t wx1 = p->col_weight[ox], wx0 = 2048 - wx1;
            for (c = 0; c < channels; ++c) {
                const int32_t upper = wx0 * ((int32_t)top[x0 + c] + 128) + wx1 * ((int32_t)top[x1 + c] + 128);
                const int32_t lower = wx0 * ((int32_t)bottom[x0 + c] + 128) + wx1 * ((int32_t)bottom[x1 + c] + 128);
                const uint32_t acc = (uint32_t)(wy0 * upper + wy1 * lower);
                *output++ = (int8_t)((int32_t)((acc + (1u << 21)) >> 22) - 128);
            }
        }
    }
}
