/*
 * mcugen_activation_f32.c — float32 element-wise activations (weight-only models), then
 * output = clamp(f(x), act_min, act_max):
 *
 *   0 relu / clip:   f(x) = x (the clamp does it)
 *   1 leaky_relu:    f(x) = x >= 0 ? x : alpha * x
 *   2 sigmoid:       f(x) = 1 / (1 + exp(-x))
 *   3 tanh:          |x| < 0.3: x + ((((T11 x2 + T9) x2 + T7) x2 + T5) x2 + T3) x2 * x, x2 = x * x
 *                    else t = (1 - e) / (1 + e), e = exp(-2|x|); f(x) = x < 0 ? -t : t
 *   4 hard_sigmoid:  f(x) = clamp(alpha * x + beta, 0, 1)
 *   5 hard_swish:    f(x) = x * clamp(x * alpha + beta, 0, 1)   (alpha = 1/6, beta = 1/2)
 *   6 silu:          f(x) = x * (1 / (1 + exp(-x)))
 *
 * exp is mcugen_exp_f32 (no libm). Safe in place. Compile with -ffp-contract=off (see mcugen_f32.h).
 * Numpy twin: codegen/ops/activation.py (run_f32).
 */
#include "mcugen_activation_f32.h"
#include "mcugen_exp_f32.h"
#include "mcugen_f32.h"

static float mcugen_tanh_f32(float x)
{
    const float a = x < 0.0f ? -x : x;
    if (a < 0x1.333334p-2f) {
        const float x2 = x * x;
        float t = -0x1.226e36p-7f;
        t = t * x2 + 0x1.664f48p-6f;
        t = t * x2 - 0x1.ba1ba2p-5f;
        t = t * x2 + 0x1.111112p-3f;
        t = t * x2 - 0x1.555556p-2f;
        t = t * x2;
        t = t * x;
        return x + t;
    } else {
        const float e = mcugen_exp_f32(a * -2.0f);
        const float t = (1.0f - e) / (1.0f + e);
        return x < 0.0f ? -t : t;
    }
}

void mcugen_activation_f32(const mcugen_activation_f32_params_t *p, const float *input, float *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const float x = input[i];
        float y;
        switch (p->fn) {
        case 1:
            y = x >= 0.0f ? x : p->alpha * x;
            break;
        case 2:
            y = 1.0f / (1.0f + mcugen_exp_f32(-x));
            break;
        case 3:
            y = mcugen_tanh_f32(x);
            break;
        case 4:
            y = mcugen_clamp_f32(p->alpha * x + p->beta, 0.0f, 1.0f);
            break;
        case 5:
            y = x * mcugen_clamp_f32(x * p->alpha + p->beta, 0.0f, 1.0f);
            break;
        case 6:
            y = x * (1.0f / (1.0f + mcugen_exp_f32(-x)));
            break;
        default:
            y = x;
            break;
        }
        output[i] = mcugen_clamp_f32(y, p->act_min, p->act_max);
    }
}
