/* mcugen_depthwise_conv_s4.h — depthwise 2-D convolution, NHWC, int8 activations and int4 weights.
 * See the .c file. */
#ifndef MCUGEN_DEPTHWISE_CONV_S4_H
#define MCUGEN_DEPTHWISE_CONV_S4_H

#include <stdint.h>

typedef struct {
    int32_t input_h, input_w, input_c;
    int32_t output_h, output_w, output_c;
    int32_t depth_multiplier; /* output_c / input_c */
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t input_offset;  /* minus the input zero point */
    int32_t output_offset; /* the output zero point */
    int32_t act_min, act_max;
    const uint8_t *weights;    /* int4 [kernel_h][kernel_w][output_c], two per byte, low nibble first */
    const int32_t *bias;       /* [output_c] */
    const int32_t *multiplier; /* [output_c], Q31 */
    const int8_t *shift;       /* [output_c] */
} mcugen_depthwise_conv_s4_params_t;

void mcugen_depthwise_conv_s4(const mcugen_depthwise_conv_s4_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_DEPTHWISE_CONV_S4_H */
