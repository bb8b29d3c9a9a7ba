/* mcugen_depthwise_conv_3x3_s8.h — int8 3x3 depthwise convolution, multiplier 1, NHWC. See the .c file. */
#ifndef MCUGEN_DEPTHWISE_CONV_3X3_S8_H
#define MCUGEN_DEPTHWISE_CONV_3X3_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_h, input_w;
    int32_t output_h, output_w;
    int32_t channels;      /* input and output channels (depth multiplier 1) */
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t input_zero_point; /* what a tap in the padding multiplies (see the .c file) */
    int32_t output_offset;    /* the output zero point */
    int32_t act_min, act_max;
    /* Channels in groups of 4; per group, per tap (ky, kx) row-major, two words of int16 halves:
     * (w[c], w[c + 2]) and (w[c + 1], w[c + 3]), low half first. Then each of the last
     * channels % 4 channels: its 9 taps, one int32 word each (codegen/ops/depthwise_conv.py). */
    const int32_t *weights;
    const int32_t *bias;       /* [channels]: bias - input_zero_point * sum of the channel's 9 weights */
    const int32_t *multiplier; /* [channels], Q31 */
    const int8_t *shift;       /* [channels] */
} mcugen_depthwise_conv_3x3_params_t;

void mcugen_depthwise_conv_3x3_s8(const mcugen_depthwise_conv_3x3_params_t *p, const int8_t *input,
                                  int8_t *output);

#endif /* MCUGEN_DEPTHWISE_CONV_3X3_S8_H */
