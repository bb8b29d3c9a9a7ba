/* mcugen_matmul_s8.h — int8 batched matrix product of two activations (TFLite BATCH_MATMUL arithmetic). See the .c file. */
#ifndef MCUGEN_MATMUL_S8_H
#define MCUGEN_MATMUL_S8_H

#include <stdint.h>

typedef struct {
    int32_t batch[2];                 /* the output's two leading axes (rank 4 padded) */
    int32_t strides_a[2], strides_b[2]; /* element strides of each operand per batch axis; 0 where it broadcasts */
    int32_t rows, depth, cols;        /* a is rows x depth, b depth x cols, the output rows x cols, row-major */
    int32_t input_a_offset, input_b_offset; /* minus the zero points */
    int32_t output_multiplier, output_shift;
    int32_t output_offset;
    int32_t act_min, act_max;
} mcugen_matmul_params_t;

void mcugen_matmul_s8(const mcugen_matmul_params_t *p, const int8_t *a, const int8_t *b, int8_t *output);

#endif /* MCUGEN_MATMUL_S8_H */
