/* mcugen_softmax_tflite_s8.h — int8 softmax with TensorFlow Lite's arithmetic. See the .c file. */
#ifndef MCUGEN_SOFTMAX_TFLITE_S8_H
#define MCUGEN_SOFTMAX_TFLITE_S8_H

#include <stdint.h>

typedef struct {
    int32_t rows, depth;          /* depth <= 4095 */
    int32_t input_multiplier;     /* Q31 of min(beta * s_in * 2^26, 2^31 - 1) / 2^input_left_shift */
    int32_t input_left_shift;     /* >= 0 */
    int32_t diff_min;             /* -floor(31 * 2^26 / 2^input_left_shift) */
} mcugen_softmax_tflite_params_t;

void mcugen_softmax_tflite_s8(const mcugen_softmax_tflite_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_SOFTMAX_TFLITE_S8_H */
