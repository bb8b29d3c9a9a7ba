/* mcugen_requantize_s8_s16.h — an int8 tensor requantized to int16. See the .c file. */
#ifndef MCUGEN_REQUANTIZE_S8_S16_H
#define MCUGEN_REQUANTIZE_S8_S16_H

#include <stdint.h>

typedef struct {
    int32_t size;          /* elements */
    int32_t input_offset;  /* minus the input zero point */
    int32_t output_offset; /* the output zero point (0 for int16) */
    int32_t multiplier;    /* Q31: multiplier * 2^(shift - 31) = input_scale / output_scale */
    int32_t shift;
} mcugen_requantize_s8_s16_params_t;

void mcugen_requantize_s8_s16(const mcugen_requantize_s8_s16_params_t *p, const int8_t *input, int16_t *output);

#endif /* MCUGEN_REQUANTIZE_S8_S16_H */
