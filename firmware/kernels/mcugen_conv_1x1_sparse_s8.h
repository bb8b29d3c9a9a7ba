/* mcugen_conv_1x1_sparse_s8.h — int8 1x1 convolution (pointwise, group 1, no padding), NHWC, with
 * sparse weights. See the .c file. */
#ifndef MCUGEN_CONV_1X1_SPARSE_S8_H
#define MCUGEN_CONV_1X1_SPARSE_S8_H

#include <stdint.h>
#include "mcugen_sparse_s8.h"

typedef struct {
    int32_t input_w, input_c;
    int32_t output_h, output_w, output_c;
    int32_t stride_h, stride_w;
    int32_t output_offset; /* the output zero point */
    int32_t act_min, act_max;
    /* The weights [output_c][input_c], sparse (mcugen_sparse_s8.h): blocks of `block` inputs (1 or 4);
     * counts and index uint8_t, or uint16_t when wide; values int8_t (block 1) or int32_t words. */
    int32_t block, wide;
    const void *counts, *index, *values;
    const int32_t *bias;       /* [output_c]: bias + input_offset * sum of the channel's weights */
    const int32_t *multiplier; /* [output_c], Q31 */
    const int8_t *shift;       /* [output_c] */
} mcugen_conv_1x1_sparse_params_t;

void mcugen_conv_1x1_sparse_s8(const mcugen_conv_1x1_sparse_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_CONV_1X1_SPARSE_S8_H */
