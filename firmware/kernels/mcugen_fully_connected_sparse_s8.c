/*
 * mcugen_fully_connected_sparse_s8.c — int8 fully connected layer whose weights are stored sparse.
 *
 *   acc[o] = bias[o] + sum_i input[i] * weights[o][i]
 *   output[o] = clamp(requantize(acc[o], multiplier[o], shift[o]) + output_offset, act_min, act_max)
 *
 * As mcugen_fully_connected_s8.c: the spec's sum_i (input[i] - zp_in) * w[o][i] with
 * -zp_in * sum_i w[o][i] folded into bias[o] at compile time. Only the stored (nonzero) blocks
 * of each row are multiplied (mcugen_sparse_s8.h); the others add 0. Numpy twin:
 * codegen/ops/fully_connected.py (run_int, the dense sum); the layout: codegen/ops/sparse.py.
 */
#include "mcugen_fully_connected_sparse_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_fully_connected_sparse_s8(const mcugen_fully_connected_sparse_params_t *p, const int8_t *input,
                                      int8_t *output)
{
    const int32_t n = p->input_size;
    const mcugen_sparse_s8_t m = {p->input_size, p->block, p->wide, p->counts, p->index, p->values};
    int32_t r, o;

    for (r = 0; r < p->rows; ++r) {
        const uint32_t tail = m.block == 4 ? mcugen_sparse_tail_word(input, n) : 0;
        mcugen_sparse_cursor_t c = mcugen_sparse_start(&m);
        for (o = 0; o < p->output_size; ++o) {
            const int32_t acc = mcugen_sparse_row_s8(&m, &c, input, tail, p->bias[o]);
            output[o] = mcugen_clamp_s8(mcugen_requantize(acc, p->multiplier[o], p->shift[o]) + p->output_offset,
                                        p->act_min, p->act_max);
        }
        input += n;
        output += p->output_size;
    }
}
