/*
 * mcugen_lut_s8.c — int8 element-wise function by table lookup:
 *
 *   output[i] = table[input[i] + 128]
 *
 * The compiler fills the table with clamp(round(f(s_in * (x - zp_in)) / s_out) + zp_out) for every
 * code x, which makes any unary activation exact. Safe in place (output == input).
 * Numpy twin: codegen/ops/activation.py.
 */
#include "mcugen_lut_s8.h"

void mcugen_lut_s8(const mcugen_lut_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = p->table[(int32_t)input[i] + 128];
    }
}
