/* mcugen_concat_f32.h — copies one float32 input into its slice of a concatenation. See the .c file. */
#ifndef MCUGEN_CONCAT_F32_H
#define MCUGEN_CONCAT_F32_H

#include <stdint.h>

typedef struct {
    int32_t outer;        /* product of the output dims before the axis */
    int32_t input_chunk;  /* elements of this input per outer index */
    int32_t output_chunk; /* elements of the output per outer index */
    int32_t output_start; /* where this input's slice begins inside each output chunk */
} mcugen_concat_f32_params_t;

void mcugen_concat_f32(const mcugen_concat_f32_params_t *p, const float *input, float *output);

#endif /* MCUGEN_CONCAT_F32_H */
