/* mcugen_lstm_s8.h — int8 LSTM (one direction, batch 1) with int16 gates and cell. See the .c file. */
#ifndef MCUGEN_LSTM_S8_H
#define MCUGEN_LSTM_S8_H

#include <stdint.h>

typedef struct {
    int32_t steps, input_size, hidden_size;
    int32_t reverse;                 /* 1: t = steps-1 .. 0 */
    int32_t output_mode;             /* 0: Y [steps][H], 1: last h [H], 2: last c as int8 [H] */
    int32_t input_offset;            /* -z_x */
    int32_t hidden_zero_point;       /* z_h */
    int32_t cell_frac;               /* F: the cell state is int16 at scale 2^-F */
    int32_t hidden_multiplier, hidden_shift;  /* 2^-30 / s_h */
    int32_t cell_multiplier, cell_shift, cell_zero_point;  /* output_mode 2: 2^-F / s_c, z_c */
    const int8_t *input_weights;     /* [4H][input_size], gates i, o, f, c */
    const int8_t *recurrent_weights; /* [4H][H] */
    const int32_t *input_bias;       /* [4H]: bx - z_x * sum_i W[j][i] */
    const int32_t *recurrent_bias;   /* [4H]: -z_h * sum_i R[j][i] */
    const int32_t *input_multiplier;     /* [4H]: s_x s_W[j] 2^12 */
    const int8_t *input_shift;
    const int32_t *recurrent_multiplier; /* [4H]: s_h s_R[j] 2^12 */
    const int8_t *recurrent_shift;
    const int8_t *initial_hidden;    /* [H] */
    const int16_t *initial_cell;     /* [H] at 2^-F */
    const int16_t *sigmoid_table;    /* [513]: round(32767 sigmoid((k * 128 - 32768) / 4096)) */
    const int16_t *tanh_table;       /* [513]: round(32767 tanh(...)) */
} mcugen_lstm_params_t;

/* scratch: 11 * hidden_size bytes, 4-byte aligned (gates int16 [4H], cell int16 [H], h int8 [H]) */
void mcugen_lstm_s8(const mcugen_lstm_params_t *p, const int8_t *input, int8_t *output, int8_t *scratch);

#endif /* MCUGEN_LSTM_S8_H */
