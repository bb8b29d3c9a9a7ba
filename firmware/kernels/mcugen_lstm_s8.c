/*
 * mcugen_lstm_s8.c — int8 LSTM, one direction, batch 1: int8 input and hidden state, int8
 * weights (one scale per gate row), int32 bias, int16 Q3.12 gate pre-activations, Q0.15 gates,
 * int16 cell state at scale 2^-F (TFLite's integer LSTM design).
 *
 * For each step t (0 .. steps-1, or backwards when reverse), gates in order i, o, f, c:
 *   g[j] = sat16(requantize(input_bias[j] + W[j] . x_t, mx[j], sx[j])
 *              + requantize(recurrent_bias[j] + R[j] . h, mh[j], sh[j]))          (Q3.12)
 *   i, o, f = SIGMOID(g), c~ = TANH(g)                                          (Q0.15)
 *   c = sat16(rdp(f * c, 15) + rdp(i * c~, 30 - F))          rdp = rounding divide by 2^n
 *   h = clamp(z_h + requantize(o * TANH(q12(c)), hidden_multiplier, hidden_shift), -128, 127)
 *   q12(c) = rdp(c, F - 12) if F > 12, else sat16(c * 2^(12 - F))
 * SIGMOID / TANH are the interpolated tables of mcugen_recurrent.h. The zero points are folded
 * into the biases, so the sums read raw int8 codes; every product and sum fits in int32.
 * Output: Y (h of every step, at its time index), the last h, or the last c requantized to int8.
 * Numpy twin: codegen/ops/lstm.py (Lstm.run_int).
 */
#include "mcugen_lstm_s8.h"

#include "mcugen_fixedpoint.h"
#include "mcugen_recurrent.h"

void mcugen_lstm_s8(const mcugen_lstm_params_t *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    const int32_t n_h = p->hidden_size, n_in = p->input_size, frac = p->cell_frac;
    int16_t *gates = (int16_t *)(void *)scratch;
    int16_t *cell = gates + 4 * n_h;
    int8_t *hidden = scratch + 10 * n_h;
    int32_t s, j;
    for (j = 0; j < n_h; ++j) {
        hidden[j] = p->initial_hidden[j];
        cell[j] = p->initial_cell[j];
    }
    for (s = 0; s < p->steps; ++s) {
        const int32_t t = p->reverse ? p->steps - 1 - s : s;
        const int8_t *x = input + t * n_in;
        for (j = 0; j < 4 * n_h; ++j) {
            const int32_t ax = mcugen_row_dot_s8(p->input_weights + j * n_in, x, n_in, p->input_bias[j]);
            const int32_t ah = mcugen_row_dot_s8(p->recurrent_weights + j * n_h, hidden, n_h, p->recurrent_bias[j]);
            const int32_t g = mcugen_sat16((int64_t)mcugen_requantize(ax, p->input_multiplier[j], p->input_shift[j])
                                           + mcugen_requantize(ah, p->recurrent_multiplier[j], p->recurrent_shift[j]));
            gates[j] = (int16_t)mcugen_gate_lookup(j < 3 * n_h ? p->sigmoid_table : p->tanh_table, g);
        }
        for (j = 0; j < n_h; ++j) {
            const int32_t in_gate = gates[j], out_gate = gates[n_h + j], forget = gates[2 * n_h + j];
            const int32_t candidate = gates[3 * n_h + j];
            int32_t c12, h;
            const int32_t c = mcugen_sat16((int64_t)mcugen_rounding_divide_by_pot(forget * cell[j], 15)
                                           + mcugen_rounding_divide_by_pot(in_gate * candidate, 30 - frac));
            cell[j] = (int16_t)c;
            c12 = frac > 12 ? mcugen_rounding_divide_by_pot(c, frac - 12) : mcugen_sat16((int64_t)c * ((int64_t)1 << (12 - frac)));
            h = p->hidden_zero_point + mcugen_requantize(out_gate * mcugen_gate_lookup(p->tanh_table, c12),
                                                         p->hidden_multiplier, p->hidden_shift);
            hidden[j] = mcugen_clamp_s8(h, -128, 127);
        }
        if (p->output_mode == 0) {
            for (j = 0; j < n_h; ++j) output[t * n_h + j] = hidden[j];
        }
    }
    for (j = 0; p->output_mode != 0 && j < n_h; ++j) {
        output[j] = (int8_t)(p->output_mode == 1 ? hidden[j]
                  : mcugen_clamp_s8(p->cell_zero_point + mcugen_requantize(cell[j], p->cell_multiplier, p->cell_shift),
                                    -128, 127));
    }
}
