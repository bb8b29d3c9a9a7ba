/* mcugen_fully_connected_tflite_s8.h — int8 fully connected with TFLite's single rounding. See the .c file. */
#ifndef MCUGEN_FULLY_CONNECTED_TFLITE_S8_H
#define MCUGEN_FULLY_CONNECTED_TFLITE_S8_H

#include <stdint.h>

typedef struct {
    int32_t rows;          /* input vectors processed one after another (usually 1) */
    int32_t input_size, output_size;
    int32_t output_offset; /* the output zero point */
    int32_t act_min, act_max;
    /* Weights as little-endian words of 4 int8, each row zero-padded to ceil(input_size / 4)
     * words; rows in blocks of 4, a block's words interleaved (word k of rows o..o+3, then word
     * k + 1, ...); the last output_size % 4 rows row by row (codegen/ops/fully_connected.py::packed_weights). */
    const int32_t *weights;
    const int32_t *bias;       /* [output_size]: bias + input_offset * sum of the row's weights */
    const int32_t *multiplier; /* [output_size], Q31 */
    const int8_t *shift;       /* [output_size] */
} mcugen_fully_connected_tflite_params_t;

void mcugen_fully_connected_tflite_s8(const mcugen_fully_connected_tflite_params_t *p, const int8_t *input,
                                      int8_t *output);

#endif /* MCUGEN_FULLY_CONNECTED_TFLITE_S8_H */
