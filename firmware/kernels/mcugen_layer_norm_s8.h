/* mcugen_layer_norm_s8.h — int8 layer normalization over each row of `size` values. See the .c file. */
#ifndef MCUGEN_LAYER_NORM_S8_H
#define MCUGEN_LAYER_NORM_S8_H

#include <stdint.h>

typedef struct {
    int32_t rows, size;    /* size <= 16384 */
    int64_t eps_term;      /* round(eps * size^2 / s_in^2), at most 2^61 */
    int32_t shift;         /* P in [1, 44] */
    int32_t output_offset; /* the output zero point */
    const int32_t *gamma;  /* [size]: round(gamma / s_out * 2^(P - 16)) */
    const int64_t *beta;   /* [size]: round(beta / s_out * 2^P), within +/-2^60 */
} mcugen_layer_norm_params_t;

void mcugen_layer_norm_s8(const mcugen_layer_norm_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_LAYER_NORM_S8_H */
