/* mcugen_reduce_min_s8.h — int8 minimum over some axes of a rank-4 tensor. See the .c file. */
#ifndef MCUGEN_REDUCE_MIN_S8_H
#define MCUGEN_REDUCE_MIN_S8_H

#include <stdint.h>

typedef struct {
    int32_t out_dims[4];    /* the output's shape: the input's, with 1 on every reduced axis */
    int32_t reduce_dims[4]; /* the input's size on every reduced axis, 1 elsewhere */
    int32_t strides[4];     /* the input's element stride along each axis */
} mcugen_reduce_min_params_t;

void mcugen_reduce_min_s8(const mcugen_reduce_min_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_REDUCE_MIN_S8_H */
