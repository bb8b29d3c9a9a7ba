/* mcugen_fully_connected_s16.h — fully connected layer, int16 activations and int8 weights.
 * See the .c file. */
#ifndef MCUGEN_FULLY_CONNECTED_S16_H
#define MCUGEN_FULLY_CONNECTED_S16_H

#include <stdint.h>

typedef struct {
    int32_t rows;          /* input vectors processed one after another (usually 1) */
    int32_t input_size, output_size;
    int32_t output_offset; /* the output zero point (0 for int16 activations) */
    int32_t act_min, act_max;
    /* Weights as little-endian words of 4 int8, each row zero-padded to ceil(input_size / 4)
     * words; word k of a row holds its weights for inputs 4k, 4k + 2, 4k + 1, 4k + 3 in bytes
     * 0..3 (SXTB16 then gives the pairs for inputs (4k, 4k+1), SXTB16 ROR 8 those for
     * (4k+2, 4k+3), as the int16 input pairs lie in memory); rows in pairs, a pair's words
     * interleaved; an odd last row alone (codegen/ops/fully_connected.py). */
    const int32_t *weights;
    const int64_t *bias;       /* [output_size]: bias + input_offset * sum of the row's weights */
    /* requantize_s64's constants, computed by the compiler: the Q31 multiplier rounded to Q15
     * (min((m + 2^15) >> 16, 0x7FFF)) and the right shift 15 - shift (1..46) */
    const int32_t *reduced;    /* [output_size] */
    const int8_t *right;       /* [output_size] */
} mcugen_fully_connected_s16_params_t;

void mcugen_fully_connected_s16(const mcugen_fully_connected_s16_params_t *p, const int16_t *input, int16_t *output);

#endif /* MCUGEN_FULLY_CONNECTED_S16_H */
