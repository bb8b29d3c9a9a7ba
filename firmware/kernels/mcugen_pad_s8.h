/* mcugen_pad_s8.h — int8 constant padding of up to four axes. See the .c file. */
#ifndef MCUGEN_PAD_S8_H
#define MCUGEN_PAD_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_dims[4];  /* padded to rank 4 */
    int32_t output_dims[4];
    int32_t before[4];      /* elements added before the input along each axis */
    int32_t pad_value;      /* the quantized pad constant */
} mcugen_pad_params_t;

void mcugen_pad_s8(const mcugen_pad_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_PAD_S8_H */
