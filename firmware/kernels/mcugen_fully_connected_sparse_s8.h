/* mcugen_fully_connected_sparse_s8.h — int8 fully connected layer with sparse weights. See the .c file. */
#ifndef MCUGEN_FULLY_CONNECTED_SPARSE_S8_H
#define MCUGEN_FULLY_CONNECTED_SPARSE_S8_H

#include <stdint.h>
#include "mcugen_sparse_s8.h"

typedef struct {
    int32_t rows;          /* input vectors processed one after another (usually 1) */
    int32_t input_size, output_size;
    int32_t output_offset; /* the output zero point */
    int32_t act_min, act_max;
    /* The weights [output_size][input_size], sparse (mcugen_sparse_s8.h): blocks of `block` inputs (1 or 4);
     * counts and index uint8_t, or uint16_t when wide; values int8_t (block 1) or int32_t words. */
    int32_t block, wide;
    const void *counts, *index, *values;
    const int32_t *bias;       /* [output_size]: bias + input_offset * sum of the row's weights */
    const int32_t *multiplier; /* [output_size], Q31 */
    const int8_t *shift;       /* [output_size] */
} mcugen_fully_connected_sparse_params_t;

void mcugen_fully_connected_sparse_s8(const mcugen_fully_connected_sparse_params_t *p, const int8_t *input,
                                      int8_t *output);

#endif /* MCUGEN_FULLY_CONNECTED_SPARSE_S8_H */
