/* mcugen_conv_f32_w8.h — 2-D convolution, float32 activations, int8 weights (weight-only). See the .c file. */
#ifndef MCUGEN_CONV_F32_W8_H
#define MCUGEN_CONV_F32_W8_H

#include <stdint.h>

typedef struct {
    int32_t input_h, input_w, input_c;
    int32_t output_h, output_w, output_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t groups;
    float act_min, act_max;
    const int8_t *weights; /* [output_c][kernel_h][kernel_w][input_c / groups] int8 codes */
    const float *scale;     /* [output_c]: a weight is scale[oc] * code */
    const float *bias;      /* [output_c] */
} mcugen_conv_f32_w8_params_t;

void mcugen_conv_f32_w8(const mcugen_conv_f32_w8_params_t *p, const float *input, float *output);

#endif /* MCUGEN_CONV_F32_W8_H */
