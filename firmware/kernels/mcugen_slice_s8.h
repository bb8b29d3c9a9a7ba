/* mcugen_slice_s8.h — int8 strided copy of up to four axes (Slice, Split, Gather). See the .c file. */
#ifndef MCUGEN_SLICE_S8_H
#define MCUGEN_SLICE_S8_H

#include <stdint.h>

typedef struct {
    int32_t dims[4];           /* the copied block's shape, padded to rank 4 */
    int32_t input_strides[4];  /* input element stride per block axis (negative for a reversed slice, 0 repeats) */
    int32_t input_offset;      /* input element of the block's first value */
    int32_t output_strides[4]; /* output element stride per block axis */
    int32_t output_offset;     /* output element of the block's first value */
} mcugen_slice_params_t;

void mcugen_slice_s8(const mcugen_slice_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_SLICE_S8_H */
