/* mcugen_requantize_s16_s8.h — an int16 tensor requantized to int8. See the .c file. */
#ifndef MCUGEN_REQUANTIZE_S16_S8_H
#define MCUGEN_REQUANTIZE_S16_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;          /* elements */
    int32_t input_offset;  /* minus the input zero point (0 for int16) */
    int32_t output_offset; /* the output zero point */
    int32_t multiplier;    /* Q31: multiplier * 2^(shift - 31) = input_scale / output_scale */
    int32_t shift;
} mcugen_requantize_s16_s8_params_t;

void mcugen_requantize_s16_s8(const mcugen_requantize_s16_s8_params_t *p, const int16_t *input, int8_t *output);

#endif /* MCUGEN_REQUANTIZE_S16_S8_H */
