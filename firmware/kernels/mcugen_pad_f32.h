/* mcugen_pad_f32.h — float32 constant padding of up to four axes. See the .c file. */
#ifndef MCUGEN_PAD_F32_H
#define MCUGEN_PAD_F32_H

#include <stdint.h>

typedef struct {
    int32_t input_dims[4];  /* padded to rank 4 */
    int32_t output_dims[4];
    int32_t before[4];      /* elements added before the input along each axis */
    float pad_value;
} mcugen_pad_f32_params_t;

void mcugen_pad_f32(const mcugen_pad_f32_params_t *p, const float *input, float *output);

#endif /* MCUGEN_PAD_F32_H */
