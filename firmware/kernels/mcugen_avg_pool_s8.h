/* mcugen_avg_pool_s8.h — int8 average pooling. See the .c file. */
#ifndef MCUGEN_AVG_POOL_S8_H
#define MCUGEN_AVG_POOL_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_h, input_w, channels;
    int32_t output_h, output_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t count_include_pad; /* divide by the full window, padding included */
    int32_t per_count;         /* multiplier/shift are tables indexed by the divisor */
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    const int32_t *multiplier; /* Q31 of s_in / (s_out * divisor) */
    const int8_t *shift;
} mcugen_avg_pool_params_t;

void mcugen_avg_pool_s8(const mcugen_avg_pool_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_AVG_POOL_S8_H */
