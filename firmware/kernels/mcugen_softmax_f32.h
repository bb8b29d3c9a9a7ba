/* mcugen_softmax_f32.h — float32 softmax over the innermost axis. See the .c file. */
#ifndef MCUGEN_SOFTMAX_F32_H
#define MCUGEN_SOFTMAX_F32_H

#include <stdint.h>

typedef struct {
    int32_t rows, depth;
} mcugen_softmax_f32_params_t;

void mcugen_softmax_f32(const mcugen_softmax_f32_params_t *p, const float *input, float *output);

#endif /* MCUGEN_SOFTMAX_F32_H */
