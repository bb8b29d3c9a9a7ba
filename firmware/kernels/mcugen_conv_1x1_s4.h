/* mcugen_conv_1x1_s4.h — 1x1 convolution (pointwise, group 1, no padding), int8 activations, int4
 * weights, NHWC. See the .c file. */
#ifndef MCUGEN_CONV_1X1_S4_H
#define MCUGEN_CONV_1X1_S4_H

#include <stdint.h>

typedef struct {
    int32_t input_w, input_c;
    int32_t output_h, output_w, output_c;
    int32_t stride_h, stride_w;
    int32_t output_offset; /* the output zero point */
    int32_t act_min, act_max;
    const uint8_t *weights;    /* int4 codes [output_c][input_c], channel pairs interleaved as in
                                  mcugen_conv_gemm_s8.h, packed two per byte (mcugen_int4.h) */
    const int32_t *bias;       /* [output_c]: bias + input_offset * sum of the channel's weights */
    const int32_t *multiplier; /* [output_c], Q31 */
    const int8_t *shift;       /* [output_c] */
} mcugen_conv_1x1_s4_params_t;

/* Bytes of the scratch buffer: one channel pair's weights unpacked to int8, 2 * input_c. */
int32_t mcugen_conv_1x1_s4_buffer_size(const mcugen_conv_1x1_s4_params_t *p);

void mcugen_conv_1x1_s4(const mcugen_conv_1x1_s4_params_t *p, const int8_t *input, int8_t *output,
                        int8_t *scratch);

#endif /* MCUGEN_CONV_1X1_S4_H */
