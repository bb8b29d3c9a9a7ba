/* mcugen_slice_f32.h — float32 strided copy of up to four axes (Slice, Split, Gather). See the .c file. */
#ifndef MCUGEN_SLICE_F32_H
#define MCUGEN_SLICE_F32_H

#include <stdint.h>

typedef struct {
    int32_t dims[4];           /* the copied block's shape, padded to rank 4 */
    int32_t input_strides[4];  /* input element stride per block axis (negative for a reversed slice, 0 repeats) */
    int32_t input_offset;      /* input element of the block's first value */
    int32_t output_strides[4]; /* output element stride per block axis */
    int32_t output_offset;     /* output element of the block's first value */
} mcugen_slice_f32_params_t;

void mcugen_slice_f32(const mcugen_slice_f32_params_t *p, const float *input, float *output);

#endif /* MCUGEN_SLICE_F32_H */
