/*
 * mcugen_softmax_tflite_s8.c — int8 softmax over the innermost axis, output scale 1/256 and zero
 * point -128, computed as TensorFlow Lite's reference int8 kernel does. Per row:
 *
 *   d = input[i] - max(row); for d >= diff_min:
 *     r = mcugen_requantize(d, input_multiplier, input_left_shift)   (d * beta * s_in, 5 integer bits:
 *         SRDHM(d * 2^input_left_shift, input_multiplier))
 *     E[i] = exp_on_negative_values(r)                         (0 integer bits, mcugen_gemmlowp.h)
 *   sum = sum of RoundingDivideByPOT(E[i], 12)                 (12 integer bits, int32)
 *   (R, n) = reciprocal(sum, 12)                               (1 / sum = R * 2^-n)
 *   output[i] = clamp(RoundingDivideByPOT(SRDHM(R, E[i]), n + 23) - 128, -128, 127),
 *               or -128 where d < diff_min.
 *
 * exp is computed twice per element (for the sum, then for the output), as TFLite does, to need
 * no scratch memory. Numpy twin: codegen/ops/softmax_tflite.py.
 */
#include "mcugen_softmax_tflite_s8.h"
#include "mcugen_fixedpoint.h"
#include "mcugen_gemmlowp.h"

static int32_t mcugen_softmax_tflite_exp(const mcugen_softmax_tflite_params_t *p, int32_t d)
{
    /* d >= diff_min keeps |d| * 2^input_left_shift <= 31 * 2^26, inside int32 */
    return mcugen_exp_on_negative_values_5(mcugen_requantize(d, p->input_multiplier, p->input_left_shift));
}

void mcugen_softmax_tflite_s8(const mcugen_softmax_tflite_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t r, i;
    for (r = 0; r < p->rows; ++r) {
        int32_t max = -128, sum = 0, reciprocal, bits_over_unit;
        for (i = 0; i < p->depth; ++i) {
            if (input[i] > max) max = input[i];
        }
        for (i = 0; i < p->depth; ++i) {
            const int32_t d = input[i] - max;
            if (d >= p->diff_min) sum += mcugen_rounding_divide_by_pot(mcugen_softmax_tflite_exp(p, d), 12);
        }
        reciprocal = mcugen_reciprocal(sum, 12, &bits_over_unit);
        for (i = 0; i < p->depth; ++i) {
            const int32_t d = input[i] - max;
            int32_t y = -128;
            if (d >= p->diff_min) {
                y = mcugen_rounding_divide_by_pot_wide(
                        mcugen_sat_rounding_doubling_high_mul(reciprocal, mcugen_softmax_tflite_exp(p, d)),
                        bits_over_unit + 31 - 8) - 128;
            }
            output[i] = (int8_t)(y > 127 ? 127 : (y < -128 ? -128 : y));
        }
        input += p->depth;
        output += p->depth;
    }
}
