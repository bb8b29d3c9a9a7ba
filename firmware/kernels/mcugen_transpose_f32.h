/* mcugen_transpose_f32.h — float32 transpose of up to four axes. See the .c file. */
#ifndef MCUGEN_TRANSPOSE_F32_H
#define MCUGEN_TRANSPOSE_F32_H

#include <stdint.h>

typedef struct {
    int32_t dims[4];    /* output shape, padded to rank 4 */
    int32_t strides[4]; /* input element stride along each output axis */
} mcugen_transpose_f32_params_t;

void mcugen_transpose_f32(const mcugen_transpose_f32_params_t *p, const float *input, float *output);

#endif /* MCUGEN_TRANSPOSE_F32_H */
