/*
 * mcugen_softmax_s8.c — int8 softmax over the innermost axis, output scale 1/256, zero point -128.
 *
 *   e[i] = exp_table[max - input[i]], or 0 past the table's end   (the row maximum weighs 32768)
 *   output[i] = min(127, (256 * e[i] + sum / 2) / sum - 128),   sum = sum of e over the row
 *
 * Rows must be shorter than 65536 elements so the sum fits in int32.
 * Numpy twin: codegen/ops/softmax.py.
 */
#include "mcugen_softmax_s8.h"

static int32_t mcugen_softmax_exp(const mcugen_softmax_params_t *p, int32_t d)
{
    return d < p->table_size ? (int32_t)p->exp_table[d] : 0;
}

void mcugen_softmax_s8(const mcugen_softmax_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t r, i;
    for (r = 0; r < p->rows; ++r) {
        int32_t max = -128;
        int32_t sum = 0;
        for (i = 0; i < p->depth; ++i) {
            if (input[i] > max) max = input[i];
        }
        for (i = 0; i < p->depth; ++i) {
            sum += mcugen_softmax_exp(p, max - input[i]);
        }
        for (i = 0; i < p->depth; ++i) {
            const int32_t q = (256 * mcugen_softmax_exp(p, max - input[i]) + sum / 2) / sum - 128;
            output[i] = (int8_t)(q > 127 ? 127 : q);
        }
        input += p->depth;
        output += p->depth;
    }
}
