/* mcugen_softmax_s8.h — int8 softmax over the innermost axis. See the .c file. */
#ifndef MCUGEN_SOFTMAX_S8_H
#define MCUGEN_SOFTMAX_S8_H

#include <stdint.h>

typedef struct {
    int32_t rows, depth;
    int32_t table_size;        /* entries of exp_table; exp(-input_scale * d) rounds to 0 beyond */
    const uint16_t *exp_table; /* [table_size]: round(32768 * exp(-input_scale * d)) */
} mcugen_softmax_params_t;

void mcugen_softmax_s8(const mcugen_softmax_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_SOFTMAX_S8_H */
