/* mcugen_fully_connected_tflite_s8.h — int8 fully connected with TFLite's single rounding. See the .c file. */
#ifndef MCUGEN_FULLY_CONNECTED_TFLITE_S8_H
#define MCUGEN_FULLY_CONNECTED_TFLITE_S8_H

#include <stdint.h>
#include "mcugen_fully_connected_s8.h"

typedef mcugen_fully_connected_params_t mcugen_fully_connected_tflite_params_t;

void mcugen_fully_connected_tflite_s8(const mcugen_fully_connected_tflite_params_t *p, const int8_t *input,
                                      int8_t *output);

#endif /* MCUGEN_FULLY_CONNECTED_TFLITE_S8_H */
