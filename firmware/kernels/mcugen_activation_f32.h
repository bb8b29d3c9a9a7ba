/* mcugen_activation_f32.h — float32 element-wise activation functions. See the .c file. */
#ifndef MCUGEN_ACTIVATION_F32_H
#define MCUGEN_ACTIVATION_F32_H

#include <stdint.h>

typedef struct {
    int32_t size;
    int32_t fn;             /* 0 clamp only (relu, clip), 1 leaky_relu, 2 sigmoid, 3 tanh,
                               4 hard_sigmoid, 5 hard_swish */
    float alpha, beta;      /* leaky_relu: alpha; hard_sigmoid, hard_swish: alpha * x + beta */
    float act_min, act_max; /* the final clamp */
} mcugen_activation_f32_params_t;

void mcugen_activation_f32(const mcugen_activation_f32_params_t *p, const float *input, float *output);

#endif /* MCUGEN_ACTIVATION_F32_H */
