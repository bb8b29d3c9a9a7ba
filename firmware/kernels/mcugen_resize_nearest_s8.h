/* mcugen_resize_nearest_s8.h — nearest-neighbour resize over H and W, NHWC. See the .c file. */
#ifndef MCUGEN_RESIZE_NEAREST_S8_H
#define MCUGEN_RESIZE_NEAREST_S8_H

#include <stdint.h>

typedef struct {
    int32_t input_w, channels;
    int32_t output_h, output_w;
    const int16_t *rows; /* [output_h]: the input row of each output row */
    const int16_t *cols; /* [output_w]: the input column of each output column */
} mcugen_resize_nearest_params_t;

void mcugen_resize_nearest_s8(const mcugen_resize_nearest_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_RESIZE_NEAREST_S8_H */
