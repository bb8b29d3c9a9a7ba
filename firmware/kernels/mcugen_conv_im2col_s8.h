/* mcugen_conv_im2col_s8.h — int8 2-D convolution (any kernel, stride, dilation, padding, groups)
 * through an im2col scratch buffer, NHWC. See the .c file. */
#ifndef MCUGEN_CONV_IM2COL_S8_H
#define MCUGEN_CONV_IM2COL_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_h, input_w, input_c;
    int32_t output_h, output_w, output_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t groups;
    int32_t input_offset;  /* minus the input zero point: padding is filled with -input_offset */
    int32_t output_offset; /* the output zero point */
    int32_t act_min, act_max;
    const int8_t *weights;     /* [output_c][n]: [kernel_h][kernel_w][input_c / groups] and zeros up to
                                  n, a multiple of 4; channel pairs of a group interleaved
                                  (mcugen_conv_gemm_s8.h) */
    const int32_t *bias;       /* [output_c]: bias + input_offset * sum of the channel's weights */
    const int32_t *multiplier; /* [output_c], Q31 */
    const int8_t *shift;       /* [output_c] */
} mcugen_conv_im2col_params_t;

/* Bytes of the scratch buffer: two pixels' windows of one group, kernel_h * kernel_w * input_c / groups
 * each, rounded up to a multiple of 4. */
int32_t mcugen_conv_im2col_s8_buffer_size(const mcugen_conv_im2col_params_t *p);

void mcugen_conv_im2col_s8(const mcugen_conv_im2col_params_t *p, const int8_t *input, int8_t *output,
                           int8_t *scratch);

#endif /* MCUGEN_CONV_IM2COL_S8_H */
