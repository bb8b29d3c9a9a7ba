/*
 * mcugen_matmul_f32.c — float32 batched matrix product of two activations (weight-only models):
 *
 *   acc = 0.0f; acc += a[m][k] * b[k][n] for k = 0, 1, ..., depth - 1;  y[m][n] = clamp(acc, act_min, act_max)
 *
 * for every batch index (operands broadcast through 0 strides). One rounding per multiply and per add:
 * compile with -ffp-contract=off (see mcugen_f32.h). Not safe in place. Numpy twin: codegen/ops/matmul.py.
 */
#include "mcugen_matmul_f32.h"
#include "mcugen_f32.h"

void mcugen_matmul_f32(const mcugen_matmul_f32_params_t *p, const float *a, const float *b, float *output)
{
    int32_t i0, i1, m, n, k;
    for (i0 = 0; i0 < p->batch[0]; ++i0) {
        for (i1 = 0; i1 < p->batch[1]; ++i1) {
            const float *pa = a + i0 * p->strides_a[0] + i1 * p->strides_a[1];
            const float *pb = b + i0 * p->strides_b[0] + i1 * p->strides_b[1];
            for (m = 0; m < p->rows; ++m) {
                const float *row = pa + m * p->depth;
                for (n = 0; n < p->cols; ++n) {
                    float acc = 0.0f;
                    for (k = 0; k < p->depth; ++k) {
                        acc += row[k] * pb[k * p->cols + n];
                    }
                    *output++ = mcugen_clamp_f32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}
