/* mcugen_resize_bilinear_s8.h — bilinear resize over H and W, NHWC. See the .c file. */
#ifndef MCUGEN_RESIZE_BILINEAR_S8_H
#define MCUGEN_RESIZE_BILINEAR_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_w, channels;
    int32_t output_h, output_w;
    const int16_t *row0, *row1;  /* [output_h]: the two input rows of each output row */
    const int16_t *row_weight;   /* [output_h]: the weight of row1, in 1/2048ths */
    const int16_t *col0, *col1;  /* [output_w] */
    const int16_t *col_weight;   /* [output_w]: the weight of col1, in 1/2048ths */
} mcugen_resize_bilinear_params_t;

void mcugen_resize_bilinear_s8(const mcugen_resize_bilinear_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_RESIZE_BILINEAR_S8_H */
