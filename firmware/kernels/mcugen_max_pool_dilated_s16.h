/* mcugen_max_pool_dilated_s16.h — int16 dilated max pooling. See the .c file. */
#ifndef MCUGEN_MAX_POOL_DILATED_S16_H
#define MCUGEN_MAX_POOL_DILATED_S16_H

#include <stdint.h>

typedef struct {
    int32_t input_h, input_w, channels;
    int32_t output_h, output_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t act_min, act_max;
} mcugen_max_pool_dilated_s16_params_t;

void mcugen_max_pool_dilated_s16(const mcugen_max_pool_dilated_s16_params_t *p, const int16_t *input, int16_t *output);

#endif /* MCUGEN_MAX_POOL_DILATED_S16_H */
