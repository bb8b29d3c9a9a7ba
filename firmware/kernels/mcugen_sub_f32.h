/* mcugen_sub_f32.h — float32 element-wise subtraction with broadcasting. See the .c file. */
#ifndef MCUGEN_SUB_F32_H
#define MCUGEN_SUB_F32_H

#include <stdint.h>

typedef struct {
    int32_t dims[4];     /* output shape, padded to rank 4 */
    int32_t strides1[4]; /* element strides of input 1 per output axis; 0 where it broadcasts */
    int32_t strides2[4];
    float act_min, act_max;
} mcugen_sub_f32_params_t;

void mcugen_sub_f32(const mcugen_sub_f32_params_t *p, const float *input1, const float *input2, float *output);

#endif /* MCUGEN_SUB_F32_H */
