/*
 * mcugen_conv_1x1_sparse_s8.c — int8 1x1 convolution whose weights are stored sparse.
 *
 *   acc = bias[oc] + sum over ic of input[oy * stride_h][ox * stride_w][ic] * weights[oc][ic]
 *   output = clamp(requantize(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 *
 * bias already holds bias + input_offset * sum(weights[oc]) (folded at compile time), so this is
 * the spec of mcugen_conv_s8.c for kernel 1x1, group 1, no padding. Each output pixel is a sparse
 * matrix-vector product over its input pixel's channels (mcugen_sparse_s8.h): only the stored
 * (nonzero) weights are multiplied. Numpy twin: codegen/ops/conv.py (run_int, the dense sum);
 * the layout: codegen/ops/sparse.py.
 */
#include "mcugen_conv_1x1_sparse_s8.h"
#include "mcugen_fixedpoint.h"

void mcugen_conv_1x1_sparse_s8(const mcugen_conv_1x1_sparse_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t n = p->input_c;
    const mcugen_sparse_s8_t m = {p->input_c, p->block, p->wide, p->counts, p->index, p->values};
    int32_t oy, ox, oc;

    for (oy = 0; oy < p->output_h; ++oy) {
        for (ox = 0; ox < p->output_w; ++ox) {
            const int8_t *x = input + (oy * p->stride_h * p->input_w + ox * p->stride_w) * n;
            const uint32_t tail = m.block == 4 ? mcugen_sparse_tail_word(x, n) : 0;
            mcugen_sparse_cursor_t c = mcugen_sparse_start(&m);
            for (oc = 0; oc < p->output_c; ++oc) {
                const int32_t acc = mcugen_sparse_row_s8(&m, &c, x, tail, p->bias[oc]);
                output[oc] = mcugen_clamp_s8(mcugen_requantize(acc, p->multiplier[oc], p->shift[oc]) +
                                             p->output_offset, p->act_min, p->act_max);
            }
            output += p->output_c;
        }
    }
}
