/* mcugen_fully_connected_s4.h — fully connected layer, int8 activations and int4 weights.
 * See the .c file. */
#ifndef MCUGEN_FULLY_CONNECTED_S4_H
#define MCUGEN_FULLY_CONNECTED_S4_H

#include <stdint.h>

typedef struct {
    int32_t rows;          /* input vectors processed one after another (usually 1) */
    int32_t input_size, output_size;
    int32_t output_offset; /* the output zero point */
    int32_t act_min, act_max;
    int32_t fast;          /* 1: every shift in [-23, -2] (the stream's shift bytes hold -shift - 2) */
    /* One stream of int32 words, block after block (codegen/ops/fully_connected.py::packed_stream_s4):
     * output_size / 4 blocks of four rows, then the output_size % 4 last rows as blocks of one.
     * A block of n rows o..o+n-1 is:
     *   n words     bias[o + j] + input_offset * sum_i w[o + j][i] (the folded bias)
     *   weights     for each input word k (inputs 4k..4k+3, the last zero-padded): one word per
     *               pair of rows (o, o+1), (o+2, o+3) (a one-row block: row o and nothing) whose
     *               nibble j (bits 4j..4j+3) holds u = code + 8 of row r, s = the pair's rows:
     *               j = 0, 1: r's for inputs 4k, 4k+1;  j = 2, 3: s's for 4k, 4k+1;
     *               j = 4, 5: r's for 4k+2, 4k+3;       j = 6, 7: s's for 4k+2, 4k+3
     *   n words     the Q31 multipliers
     *   1 word      byte j (int8): fast: b = -shift - 2 of row o + j; else its shift */
    const int32_t *weights;
} mcugen_fully_connected_s4_params_t;

/* scratch: 8 * ceil(input_size / 4) bytes, word-aligned; on a DSP core it receives the input as
 * the int16 pairs each block of rows reads (elsewhere it is not touched). */
void mcugen_fully_connected_s4(const mcugen_fully_connected_s4_params_t *p, const int8_t *input, int8_t *output,
                               int8_t *scratch);

#endif /* MCUGEN_FULLY_CONNECTED_S4_H */
