/* mcugen_sub_s8.h — int8 element-wise subtraction, the subtrahend with the larger scale (TFLite SUB arithmetic). See the .c file. */
#ifndef MCUGEN_SUB_S8_H
#define MCUGEN_SUB_S8_H

#include <stdint.h>

typedef struct {
    int32_t dims[4];     /* output shape, padded to rank 4 */
    int32_t strides1[4]; /* element strides of input 1 per output axis; 0 where it broadcasts */
    int32_t strides2[4];
    /* Input 1 is the subtrahend, with the larger scale: its share is exactly (x1 - zp1) << 19;
     * input 2's (the minuend's) is looked up, with input 1's offset:
     * share2[x2 + 128] = requantize((x2 - zp2) << 20, m2, e2) + (zp1 << 19). */
    const int32_t *share2; /* [256] */
    int32_t output_multiplier, output_shift;
    int32_t output_offset;
    int32_t act_min, act_max;
} mcugen_sub_params_t;

void mcugen_sub_s8(const mcugen_sub_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* MCUGEN_SUB_S8_H */
