/* mcugen_fully_connected_f32_w4.h — fully connected, float32 activations, int4 weights. See the .c file. */
#ifndef MCUGEN_FULLY_CONNECTED_F32_W4_H
#define MCUGEN_FULLY_CONNECTED_F32_W4_H

#include <stdint.h>

typedef struct {
    int32_t rows, input_size, output_size;
    float act_min, act_max;
    const uint8_t *weights; /* [output_size][input_size] int4 codes, two per byte, low nibble first */
    const float *scale;     /* [output_size] */
    const float *bias;      /* [output_size] */
} mcugen_fully_connected_f32_w4_params_t;

void mcugen_fully_connected_f32_w4(const mcugen_fully_connected_f32_w4_params_t *p, const float *input, float *output);

#endif /* MCUGEN_FULLY_CONNECTED_F32_W4_H */
