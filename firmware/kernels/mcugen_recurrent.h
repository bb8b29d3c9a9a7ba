/*
 * mcugen_recurrent.h — the int16 gate arithmetic shared by mcugen_lstm_s8.c and mcugen_gru_s8.c.
 *
 * Gate pre-activations are Q3.12 (int16, scale 2^-12); sigmoid and tanh give Q0.15 through a
 * 513-entry table T of round(32767 f(v)) at v = (k * 128 - 32768) / 4096, interpolated:
 *   u = g + 32768, k = u >> 7, r = u & 127, y = T[k] + ((T[k+1] - T[k]) * r + 64) >> 7
 * (f increases, so the shifted value is never negative). The row sums are int32:
 *   pre[j] = requantize(bias_x[j] + sum_i W[j][i] x[i], mx[j], sx[j])
 *          + requantize(bias_h[j] + sum_i R[j][i] h[i], mh[j], sh[j])
 * with the zero points folded into the biases at compile time. Numpy twin: codegen/ops/lstm.py.
 */
#ifndef MCUGEN_RECURRENT_H
#define MCUGEN_RECURRENT_H

#include <stdint.h>

#include "mcugen_dsp.h"
#include "mcugen_fixedpoint.h"

static inline int32_t mcugen_sat16(int64_t x)
{
    if (x > 32767) return 32767;
    if (x < -32768) return -32768;
    return (int32_t)x;
}

static inline int32_t mcugen_gate_lookup(const int16_t *table, int32_t g)
{
    const int32_t u = g + 32768;
    const int32_t k = u >> 7;
    const int32_t r = u & 127;
    const int32_t lo = table[k];
    const int32_t hi = table[k < 512 ? k + 1 : 512];
    return lo + (((hi - lo) * r + 64) >> 7);
}

/* sum_i w[i] * x[i] added to acc. On a DSP core four products per two SMLADs (the int8 words
 * sign-extended to int16 pairs); elsewhere one at a time. The sum is exact either way: the
 * biases are clamped so that no partial sum leaves int32 (ops/base.py accumulator_safe_bias). */
static inline int32_t mcugen_row_dot_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t acc)
{
    int32_t i = 0;
#if MCUGEN_HAS_DSP
    for (; i + 4 <= n; i += 4) {
        const uint32_t wa = mcugen_read_s8x4(w + i), xa = mcugen_read_s8x4(x + i);
        acc = mcugen_smlad(mcugen_sxtb16(wa), mcugen_sxtb16(xa), acc);
        acc = mcugen_smlad(mcugen_sxtb16_ror8(wa), mcugen_sxtb16_ror8(xa), acc);
    }
#endif
    for (; i < n; ++i) acc += (int32_t)w[i] * (int32_t)x[i];
    return acc;
}

#endif /* MCUGEN_RECURRENT_H */
