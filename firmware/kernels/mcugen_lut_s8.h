/* mcugen_lut_s8.h — int8 element-wise function through a 256-entry table. See the .c file. */
#ifndef MCUGEN_LUT_S8_H
#define MCUGEN_LUT_S8_H

#include <stdint.h>

typedef struct {
    int32_t size;
    const int8_t *table; /* [256], indexed by input code + 128 */
} mcugen_lut_params_t;

void mcugen_lut_s8(const mcugen_lut_params_t *p, const int8_t *input, int8_t *output);

#endif /* MCUGEN_LUT_S8_H */
