/* mcugen_max_pool_dilated_f32.h — float32 dilated max pooling, NHWC. See the .c file. */
#ifndef MCUGEN_MAX_POOL_DILATED_F32_H
#define MCUGEN_MAX_POOL_DILATED_F32_H

#include <stdint.h>

typedef struct {
    int32_t input_h, input_w, channels;
    int32_t output_h, output_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    float act_min, act_max;
} mcugen_max_pool_dilated_f32_params_t;

void mcugen_max_pool_dilated_f32(const mcugen_max_pool_dilated_f32_params_t *p, const float *input, float *output);

#endif /* MCUGEN_MAX_POOL_DILATED_F32_H */
