/*
 * mcugen_pad_f32.c — float32 constant padding:
 *
 *   output[o] = input[o - before] where that index lies inside the input, else pad_value
 *
 * Numpy twin: codegen/ops/pad.py (run_f32).
 */
#include "mcugen_pad_f32.h"

void mcugen_pad_f32(const mcugen_pad_f32_params_t *p, const float *input, float *output)
{
    const int32_t *in = p->input_dims;
    const int32_t *out = p->output_dims;
    int32_t o0, o1, o2, o3;
    for (o0 = 0; o0 < out[0]; ++o0) {
        const int32_t i0 = o0 - p->before[0];
        for (o1 = 0; o1 < out[1]; ++o1) {
            const int32_t i1 = o1 - p->before[1];
            for (o2 = 0; o2 < out[2]; ++o2) {
                const int32_t i2 = o2 - p->before[2];
                const int inside = i0 >= 0 && i0 < in[0] && i1 >= 0 && i1 < in[1] && i2 >= 0 && i2 < in[2];
                const float *row = inside ? input + ((i0 * in[1] + i1) * in[2] + i2) * in[3] : input;
                for (o3 = 0; o3 < out[3]; ++o3) {
                    const int32_t i3 = o3 - p->before[3];
                    *output++ = (inside && i3 >= 0 && i3 < in[3]) ? row[i3] : p->pad_value;
                }
            }
        }
    }
}
