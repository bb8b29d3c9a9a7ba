/* mcugen_transpose_s8.h — int8 transpose of up to four axes. See the .c file. */
#ifndef MCUGEN_TRANSPOSE_S8_H
#define MCUGEN_TRANSPOSE_S8_H

#include <stdint.h>

typedef struct {
    int32_t dims[4];    /* output shape, padded to rank 4 */
    int32_t strides[4]; /* input element stride along each output axis */
} mcugen_transpose_params_t;

void mcugen_transpose_s8(const mcugen_transpose_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_TRANSPOSE_S8_H */
