/*
 * mcugen_resize_nearest_s8.c — nearest-neighbour resize over H and W, NHWC, int8.
 *
 *   output[oy][ox][c] = input[rows[oy]][cols[ox]][c]
 * The index tables hold ONNX's coordinate transformation and nearest_mode rounding, computed at
 * compile time; the output keeps the input's scale and zero point. Numpy twin: codegen/ops/resize.py.
 */
#include "mcugen_resize_nearest_s8.h"

void mcugen_resize_nearest_s8(const mcugen_resize_nearest_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t channels = p->channels;
    int32_t oy, ox, c;
    for (oy = 0; oy < p->output_h; ++oy) {
        const int8_t *row = input + (int32_t)p->rows[oy] * p->input_w * channels;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int8_t *px = row + (int32_t)p->cols[ox] * channels;
            for (c = 0; c < channels; ++c) *output++ = px[c];
        }
    }
}
