/*
 * mcugen_requantize_s8_s16.c — the seam from an 8-bit layer to a 16-bit one: each element moved
 * from int8 to int16 and to the new scale.
 *
 *   output[i] = clamp(requantize(input[i] + input_offset, multiplier, shift) + output_offset,
 *                     -32768, 32767)
 *
 * with multiplier * 2^(shift - 31) = input_scale / output_scale (mcugen_requantize, int32).
 * The output offset is added in int64, so a saturated requantize cannot overflow.
 * Numpy twin: codegen/ops/requantize.py.
 */
#include "mcugen_requantize_s8_s16.h"
#include "mcugen_fixedpoint.h"

void mcugen_requantize_s8_s16(const mcugen_requantize_s8_s16_params_t *p, const int8_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t x = (int32_t)input[i] + p->input_offset;
        const int64_t y = (int64_t)mcugen_requantize(x, p->multiplier, p->shift) + p->output_offset;
        output[i] = mcugen_clamp_s16(mcugen_saturate_int32(y), INT16_MIN, INT16_MAX);
    }
}
