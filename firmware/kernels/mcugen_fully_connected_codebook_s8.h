/* mcugen_fully_connected_codebook_s8.h — int8 fully connected layer with codebook weights. See the .c file. */
#ifndef MCUGEN_FULLY_CONNECTED_CODEBOOK_S8_H
#define MCUGEN_FULLY_CONNECTED_CODEBOOK_S8_H

#include <stdint.h>

typedef struct {
    int32_t rows;          /* input vectors processed one after another (usually 1) */
    int32_t input_size, output_size;
    int32_t output_offset; /* the output zero point */
    int32_t act_min, act_max;
    int32_t index_bits;        /* 4: two indices a byte, low nibble first; 8: one a byte */
    const uint8_t *indices;    /* [output_size][input_size] indices into codebook, row-major */
    const int8_t *codebook;    /* the layer's int8 weight levels */
    const int32_t *bias;       /* [output_size]: bias + input_offset * sum of the row's weights */
    const int32_t *multiplier; /* [output_size], Q31 */
    const int8_t *shift;       /* [output_size] */
} mcugen_fully_connected_codebook_params_t;

void mcugen_fully_connected_codebook_s8(const mcugen_fully_connected_codebook_params_t *p, const int8_t *input,
                                        int8_t *output);

#endif /* MCUGEN_FULLY_CONNECTED_CODEBOOK_S8_H */
