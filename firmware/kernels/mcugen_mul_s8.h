/* mcugen_mul_s8.h — int8 element-wise multiplication with broadcasting (TFLite MUL arithmetic). See the .c file. */
#ifndef MCUGEN_MUL_S8_H
#define MCUGEN_MUL_S8_H

#include <stdint.h>

typedef struct {
    int32_t dims[4];     /* output shape, padded to rank 4 */
    int32_t strides1[4]; /* element strides of input 1 per output axis; 0 where it broadcasts */
    int32_t strides2[4];
    int32_t input1_offset, input2_offset; /* minus the zero points */
    int32_t output_multiplier, output_shift;
    int32_t output_offset;
    int32_t act_min, act_max;
} mcugen_mul_params_t;

void mcugen_mul_s8(const mcugen_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* MCUGEN_MUL_S8_H */
