/* mcugen_fully_connected_s8.h — int8 fully connected layer. See the .c file. */
#ifndef MCUGEN_FULLY_CONNECTED_S8_H
#define MCUGEN_FULLY_CONNECTED_S8_H

#include <stdint.h>

typedef struct {
    int32_t rows;          /* input vectors processed one after another (usually 1) */
    int32_t input_size, output_size;
    int32_t output_offset; /* the output zero point */
    int32_t act_min, act_max;
    int32_t fast;          /* 1: every shift in [-23, -2] (the stream's shift bytes hold -shift - 2) */
    /* One stream of int32 words, block after block (codegen/ops/fully_connected.py::packed_stream):
     * output_size / 4 blocks of four rows, then the output_size % 4 last rows as blocks of one.
     * A block of n rows o..o+n-1 is:
     *   n words     bias[o + j] + input_offset * sum_i w[o + j][i] (the folded bias)
     *   words(n)    the rows' weights as little-endian words of 4 int8, each row zero-padded to
     *               ceil(input_size / 4) words, interleaved: word k of rows o..o+n-1, then word k + 1
     *   n words     the Q31 multipliers
     *   1 word      byte j (int8): fast: b = -shift - 2 of row o + j; else its shift */
    const int32_t *weights;
} mcugen_fully_connected_params_t;

/* scratch: 8 * ceil(input_size / 4) bytes, word-aligned; on a DSP core it receives the input as
 * the int16 pairs each block of rows reads (elsewhere it is not touched). */
void mcugen_fully_connected_s8(const mcugen_fully_connected_params_t *p, const int8_t *input, int8_t *output,
                               int8_t *scratch);

#endif /* MCUGEN_FULLY_CONNECTED_S8_H */
