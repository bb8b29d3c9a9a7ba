/* mcugen_matmul_f32.h — float32 batched matrix product of two activations (weight-only models). See the .c file. */
#ifndef MCUGEN_MATMUL_F32_H
#define MCUGEN_MATMUL_F32_H

#include <stdint.h>

typedef struct {
    int32_t batch[2];                 /* the output's two leading axes (rank 4 padded) */
    int32_t strides_a[2], strides_b[2]; /* element strides of each operand per batch axis; 0 where it broadcasts */
    int32_t rows, depth, cols;        /* a is rows x depth, b depth x cols, the output rows x cols, row-major */
    float act_min, act_max;
} mcugen_matmul_f32_params_t;

void mcugen_matmul_f32(const mcugen_matmul_f32_params_t *p, const float *a, const float *b, float *output);

#endif /* MCUGEN_MATMUL_F32_H */
