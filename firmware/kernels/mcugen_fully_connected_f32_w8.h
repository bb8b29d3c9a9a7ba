/* mcugen_fully_connected_f32_w8.h — fully connected, float32 activations, int8 weights. See the .c file. */
#ifndef MCUGEN_FULLY_CONNECTED_F32_W8_H
#define MCUGEN_FULLY_CONNECTED_F32_W8_H

#include <stdint.h>

typedef struct {
    int32_t rows, input_size, output_size;
    float act_min, act_max;
    const int8_t *weights; /* [output_size][input_size] int8 codes */
    const float *scale;     /* [output_size] */
    const float *bias;      /* [output_size] */
} mcugen_fully_connected_f32_w8_params_t;

void mcugen_fully_connected_f32_w8(const mcugen_fully_connected_f32_w8_params_t *p, const float *input, float *output);

#endif /* MCUGEN_FULLY_CONNECTED_F32_W8_H */
