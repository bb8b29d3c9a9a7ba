/* mcugen_conv_transpose_s8.h — int8 2-D transposed convolution (grouped or not), NHWC.
 * See mcugen_conv_transpose_s8.c. */
#ifndef MCUGEN_CONV_TRANSPOSE_S8_H
#define MCUGEN_CONV_TRANSPOSE_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_h, input_w, input_c;
    int32_t output_h, output_w, output_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left; /* may be negative (an output_shape beyond the natural size) */
    int32_t groups;
    int32_t input_offset;  /* minus the input zero point */
    int32_t output_offset; /* the output zero point */
    int32_t act_min, act_max;
    const int8_t *weights;     /* [output_c][kernel_h][kernel_w][input_c / groups], not flipped */
    const int32_t *bias;       /* [output_c], at scale input_scale * weight_scale[oc] */
    const int32_t *multiplier; /* [output_c], Q31 */
    const int8_t *shift;       /* [output_c] */
} mcugen_conv_transpose_params_t;

void mcugen_conv_transpose_s8(const mcugen_conv_transpose_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_CONV_TRANSPOSE_S8_H */
