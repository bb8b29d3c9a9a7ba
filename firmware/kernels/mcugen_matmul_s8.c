/*
 * mcugen_matmul_s8.c — int8 batched matrix product of two activations (TFLite BATCH_MATMUL).
 *
 * For every batch index (i0, i1) and output (m, n):
 *   acc = sum_{k=0}^{depth-1} (a[m][k] + input_a_offset) * (b[k][n] + input_b_offset)   (int32)
 *   y[m][n] = clamp(requantize(acc, output_multiplier, output_shift) + output_offset, act_min, act_max)
 * |acc| <= depth * 255 * 255 < 2^31 (mcugen refuses a longer depth). Not safe in place.
 * Numpy twin: codegen/ops/matmul.py.
 */
#include "mcugen_matmul_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_matmul_s8(const mcugen_matmul_params_t *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    int32_t i0, i1, m, n, k;
    for (i0 = 0; i0 < p->batch[0]; ++i0) {
        for (i1 = 0; i1 < p->batch[1]; ++i1) {
            const int8_t *pa = a + i0 * p->strides_a[0] + i1 * p->strides_a[1];
            const int8_t *pb = b + i0 * p->strides_b[0] + i1 * p->strides_b[1];
            for (m = 0; m < p->rows; ++m) {
                const int8_t *row = pa + m * p->depth;
                for (n = 0; n < p->cols; ++n) {
                    int32_t acc = 0;
                    for (k = 0; k < p->depth; ++k) {
                        acc += ((int32_t)row[k] + p->input_a_offset) * ((int32_t)pb[k * p->cols + n] + p->input_b_offset);
                    }
                    *output++ = mcugen_clamp_s8(mcugen_requantize(acc, p->output_multiplier, p->output_shift)
                                                + p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}
