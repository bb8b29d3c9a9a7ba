/* mcugen_reduce_min_f32.h — float32 minimum over some axes of a rank-4 tensor. See the .c file. */
#ifndef MCUGEN_REDUCE_MIN_F32_H
#define MCUGEN_REDUCE_MIN_F32_H

#include <stdint.h>

typedef struct {
    int32_t out_dims[4];    /* the output's shape: the input's, with 1 on every reduced axis */
    int32_t reduce_dims[4]; /* the input's size on every reduced axis, 1 elsewhere */
    int32_t strides[4];     /* the input's element stride along each axis */
} mcugen_reduce_min_f32_params_t;

void mcugen_reduce_min_f32(const mcugen_reduce_min_f32_params_t *p, const float *input, float *output);

#endif /* MCUGEN_REDUCE_MIN_F32_H */
