/*
 * mcugen_gru_s8.c — int8 GRU, one direction, batch 1: int8 input, hidden state and weights (one
 * scale per gate row), int32 bias, int16 Q3.12 pre-activations and Q0.15 gates.
 *
 * For each step t (0 .. steps-1, or backwards when reverse), gates in order z, r, n:
 *   z, r = SIGMOID(sat16(requantize(input_bias + W . x_t, mx, sx) + requantize(recurrent_bias + R . h, mh, sh)))
 *   gx   = requantize(input_bias_n + W_n . x_t, mx, sx)
 *   lbr 1: hn = sat16(requantize(recurrent_bias_n + R_n . h, mh, sh)); n = TANH(sat16(gx + rdp(r hn, 15)))
 *   lbr 0: rh = rdp(r (h - z_h), 15);  n = TANH(sat16(gx + requantize(R_n . rh, mh, sh)))
 *   h15  = clamp(requantize(h - z_h, q15_multiplier, q15_shift), -32767, 32767)
 *   h    = clamp(z_h + requantize((32768 - z) n + z h15, hidden_multiplier, hidden_shift), -128, 127)
 * rdp = rounding divide by 2^n; SIGMOID / TANH and the sums are those of mcugen_recurrent.h.
 * Numpy twin: codegen/ops/gru.py (Gru.run_int).
 */
#include "mcugen_gru_s8.h"

#include "mcugen_fixedpoint.h"
#include "mcugen_recurrent.h"

void mcugen_gru_s8(const mcugen_gru_params_t *p, const int8_t *input, int8_t *output, int8_t *scratch)
{
    const int32_t n_h = p->hidden_size, n_in = p->input_size, zp = p->hidden_zero_point;
    int16_t *gates = (int16_t *)(void *)scratch;
    int16_t *reset_h = gates + 3 * n_h;
    int8_t *hidden = scratch + 8 * n_h;
    int32_t s, j, i;
    for (j = 0; j < n_h; ++j) hidden[j] = p->initial_hidden[j];
    for (s = 0; s < p->steps; ++s) {
        const int32_t t = p->reverse ? p->steps - 1 - s : s;
        const int8_t *x = input + t * n_in;
        for (j = 0; j < 2 * n_h; ++j) {
            const int32_t ax = mcugen_row_dot_s8(p->input_weights + j * n_in, x, n_in, p->input_bias[j]);
            const int32_t ah = mcugen_row_dot_s8(p->recurrent_weights + j * n_h, hidden, n_h, p->recurrent_bias[j]);
            const int32_t g = mcugen_sat16((int64_t)mcugen_requantize(ax, p->input_multiplier[j], p->input_shift[j])
                                           + mcugen_requantize(ah, p->recurrent_multiplier[j], p->recurrent_shift[j]));
            gates[j] = (int16_t)mcugen_gate_lookup(p->sigmoid_table, g);
        }
        if (!p->linear_before_reset) {
            for (i = 0; i < n_h; ++i) {
                reset_h[i] = (int16_t)mcugen_rounding_divide_by_pot(gates[n_h + i] * ((int32_t)hidden[i] - zp), 15);
            }
        }
        for (j = 2 * n_h; j < 3 * n_h; ++j) {
            const int8_t *w = p->input_weights + j * n_in;
            const int8_t *r = p->recurrent_weights + j * n_h;
            const int32_t ax = mcugen_row_dot_s8(w, x, n_in, p->input_bias[j]);
            const int32_t gx = mcugen_requantize(ax, p->input_multiplier[j], p->input_shift[j]);
            int64_t pre;
            if (p->linear_before_reset) {
                const int32_t ah = mcugen_row_dot_s8(r, hidden, n_h, p->recurrent_bias[j]);
                const int32_t hn = mcugen_sat16(mcugen_requantize(ah, p->recurrent_multiplier[j], p->recurrent_shift[j]));
                pre = (int64_t)gx + mcugen_rounding_divide_by_pot(gates[j - n_h] * hn, 15);
            } else {
                int32_t ah = p->recurrent_bias[j];
                for (i = 0; i < n_h; ++i) ah += (int32_t)r[i] * (int32_t)reset_h[i];
                pre = (int64_t)gx + mcugen_requantize(ah, p->recurrent_multiplier[j], p->recurrent_shift[j]);
            }
            gates[j] = (int16_t)mcugen_gate_lookup(p->tanh_table, mcugen_sat16(pre));
        }
        for (j = 0; j < n_h; ++j) {
            const int32_t z = gates[j], n = gates[2 * n_h + j];
            int32_t h15 = mcugen_requantize((int32_t)hidden[j] - zp, p->q15_multiplier, p->q15_shift);
            int32_t h;
            if (h15 > 32767) h15 = 32767;
            if (h15 < -32767) h15 = -32767;
            h = zp + mcugen_requantize((32768 - z) * n + z * h15, p->hidden_multiplier, p->hidden_shift);
            hidden[j] = mcugen_clamp_s8(h, -128, 127);
        }
        if (p->output_mode == 0) {
            for (j = 0; j < n_h; ++j) output[t * n_h + j] = hidden[j];
        }
    }
    for (j = 0; p->output_mode != 0 && j < n_h; ++j) output[j] = hidden[j];
}
