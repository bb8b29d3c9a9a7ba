/* mcugen_concat_s8.h — copies one int8 input into its slice of a concatenation. See the .c file. */
#ifndef MCUGEN_CONCAT_S8_H
#define MCUGEN_CONCAT_S8_H

#include <stdint.h>

typedef struct {
    int32_t outer;        /* product of the output dims before the axis */
    int32_t input_chunk;  /* elements of this input per outer index */
    int32_t output_chunk; /* elements of the output per outer index */
    int32_t output_start; /* where this input's slice begins inside each output chunk */
    int32_t requantize;   /* 0: plain copy (same scale and zero point) */
    int32_t input_offset, multiplier, shift, output_offset;
} mcugen_concat_params_t;

void mcugen_concat_s8(const mcugen_concat_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_CONCAT_S8_H */
