/*
 * mcugen_fully_connected_f32_w4.c — fully connected layer with float32 activations and int4 weights
 * dequantized on the fly (weight-only quantization).
 *
 *   acc = 0.0f; for i = 0, 1, ...: acc = acc + input[i] * (float)code[o][i]
 *   output[o] = clamp(acc * scale[o] + bias[o], act_min, act_max)
 *
 * Every multiply and add is its own float32 rounding. Compile with -ffp-contract=off (see mcugen_f32.h).
 * Numpy twin: codegen/ops/fully_connected.py (run_f32).
 */
#include "mcugen_fully_connected_f32_w4.h"
#include "mcugen_f32.h"
#include "mcugen_int4.h"

void mcugen_fully_connected_f32_w4(const mcugen_fully_connected_f32_w4_params_t *p, const float *input, float *output)
{
    int32_t r, o, i;

    for (r = 0; r < p->rows; ++r) {
        for (o = 0; o < p->output_size; ++o) {
            const int32_t w_at = o * p->input_size;
            float acc = 0.0f;
            float y;
            for (i = 0; i < p->input_size; ++i) {
                acc = acc + input[i] * (float)mcugen_int4_code(p->weights, w_at + i);
            }
            y = acc * p->scale[o];
            y = y + p->bias[o];
            *output++ = mcugen_clamp_f32(y, p->act_min, p->act_max);
        }
        input += p->input_size;
    }
}
