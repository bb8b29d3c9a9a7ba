/*
 * mcugen_reduce_mean_tflite_s8.c — int8 MEAN over any of the four axes, as TensorFlow Lite's
 * reference kernel computes it (an imported .tflite model; ONNX models use mcugen_reduce_sum_s8).
 *
 *   for every output element (the input's index with 0 on each reduced axis):
 *     acc = sum over the reduced elements of (input + input_offset)       (int32: |acc| <= 255 n)
 *     output = clamp(requantize(acc, multiplier, shift) + output_offset, -128, 127)
 *   requantize is gemmlowp's double rounding (mcugen_requantize); the multiplier is TFLite's
 *   s_in / s_out multiplier with 1/n folded in by a truncating division (computed at compile time).
 *
 * Numpy twin: codegen/ops/reduce_tflite.py.
 */
#include "mcugen_reduce_mean_tflite_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_reduce_mean_tflite_s8(const mcugen_reduce_mean_tflite_params_t *p, const int8_t *input,
                                  int8_t *output)
{
    const int32_t *s = p->strides, *r = p->reduce_dims;
    const int32_t n = r[0] * r[1] * r[2] * r[3];
    int32_t o0, o1, o2, o3, r0, r1, r2, r3;
    for (o0 = 0; o0 < p->out_dims[0]; ++o0) {
        for (o1 = 0; o1 < p->out_dims[1]; ++o1) {
            for (o2 = 0; o2 < p->out_dims[2]; ++o2) {
                for (o3 = 0; o3 < p->out_dims[3]; ++o3) {
                    const int8_t *base = input + o0 * s[0] + o1 * s[1] + o2 * s[2] + o3 * s[3];
                    int32_t acc = n * p->input_offset; /* sum of (x + offset) = sum of x + n * offset */
                    for (r0 = 0; r0 < r[0]; ++r0) {
                        for (r1 = 0; r1 < r[1]; ++r1) {
                            for (r2 = 0; r2 < r[2]; ++r2) {
                                const int8_t *x = base + r0 * s[0] + r1 * s[1] + r2 * s[2];
                                for (r3 = 0; r3 < r[3]; ++r3, x += s[3]) acc += *x;
                            }
                        }
                    }
                    acc = mcugen_requantize(acc, p->multiplier, p->shift) + p->output_offset;
                    *output++ = mcugen_clamp_s8(acc, -128, 127);
                }
            }
        }
    }
}
