/* mcugen_fully_connected_s16.h — fully connected layer, int16 activations and int8 weights.
 * See the .c file. */
#ifndef MCUGEN_FULLY_CONNECTED_S16_H
#define MCUGEN_FULLY_CONNECTED_S16_H

#include <stdint.h>

typedef struct {
    int32_t rows;          /* input vectors processed one after another (usually 1) */
    int32_t input_size, output_size;
    int32_t input_offset;  /* minus the input zero point (0 for int16 activations) */
    int32_t output_offset; /* the output zero point (0 for int16 activations) */
    int32_t act_min, act_max;
    const int8_t *weights;     /* [output_size][input_size] */
    const int64_t *bias;       /* [output_size] */
    const int32_t *multiplier; /* [output_size], Q31 */
    const int8_t *shift;       /* [output_size], at most 14 */
} mcugen_fully_connected_s16_params_t;

void mcugen_fully_connected_s16(const mcugen_fully_connected_s16_params_t *p, const int16_t *input, int16_t *output);

#endif /* MCUGEN_FULLY_CONNECTED_S16_H */
