/* mcugen_gru_s8.h — int8 GRU (one direction, batch 1) with int16 gates. See the .c file. */
#ifndef MCUGEN_GRU_S8_H
#define MCUGEN_GRU_S8_H

#include <stdint.h>

typedef struct {
    int32_t steps, input_size, hidden_size;
    int32_t reverse;                 /* 1: t = steps-1 .. 0 */
    int32_t output_mode;             /* 0: Y [steps][H], 1: last h [H] */
    int32_t linear_before_reset;     /* 1: n = tanh(W_n x + r (R_n h + Rb_n)); 0: R_n (r h) */
    int32_t input_offset;            /* -z_x */
    int32_t hidden_zero_point;       /* z_h */
    int32_t hidden_multiplier, hidden_shift;  /* 2^-30 / s_h */
    int32_t q15_multiplier, q15_shift;        /* s_h 2^15: h - z_h in Q0.15 */
    const int8_t *input_weights;     /* [3H][input_size], gates z, r, n */
    const int8_t *recurrent_weights; /* [3H][H] */
    const int32_t *input_bias;       /* [3H]: bx - z_x * sum_i W[j][i] */
    const int32_t *recurrent_bias;   /* [3H]: bh - z_h * sum_i R[j][i] (n rows unfolded when lbr = 0) */
    const int32_t *input_multiplier;     /* [3H]: s_x s_W[j] 2^12 */
    const int8_t *input_shift;
    const int32_t *recurrent_multiplier; /* [3H]: s_h s_R[j] 2^12 */
    const int8_t *recurrent_shift;
    const int8_t *initial_hidden;    /* [H] */
    const int16_t *sigmoid_table;    /* [513] */
    const int16_t *tanh_table;       /* [513] */
} mcugen_gru_params_t;

/* scratch: 9 * hidden_size bytes, 4-byte aligned (gates int16 [3H], r*h int16 [H], h int8 [H]) */
void mcugen_gru_s8(const mcugen_gru_params_t *p, const int8_t *input, int8_t *output, int8_t *scratch);

#endif /* MCUGEN_GRU_S8_H */
