/* mcugen_avg_pool_tflite_s8.h — int8 average pooling with TensorFlow Lite's rounding. See the .c file. */
#ifndef MCUGEN_AVG_POOL_TFLITE_S8_H
#define MCUGEN_AVG_POOL_TFLITE_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_h, input_w, channels;
    int32_t output_h, output_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t act_min, act_max;
} mcugen_avg_pool_tflite_params_t;

void mcugen_avg_pool_tflite_s8(const mcugen_avg_pool_tflite_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_AVG_POOL_TFLITE_S8_H */
