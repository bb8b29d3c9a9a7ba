/*
 * mcugen_conv_f32_w4.c — 2-D convolution with float32 activations and int4 weights dequantized on
 * the fly (weight-only quantization), NHWC input/output, OHWI weights, groups >= 1.
 *
 *   acc = 0.0f; for ky, kx, ic (this order, padded positions skipped):
 *       acc = acc + input[iy][ix][group_start + ic] * (float)code[oc][ky][kx][ic]
 *   output = clamp(acc * scale[oc] + bias[oc], act_min, act_max)
 *
 * Every multiply and add is its own float32 rounding. Compile with -ffp-contract=off (see mcugen_f32.h).
 * Numpy twin: codegen/ops/conv.py (run_f32).
 */
#include "mcugen_conv_f32_w4.h"
#include "mcugen_f32.h"
#include "mcugen_int4.h"

void mcugen_conv_f32_w4(const mcugen_conv_f32_w4_params_t *p, const float *input, float *output)
{
    const int32_t group_in = p->input_c / p->groups;
    const int32_t group_out = p->output_c / p->groups;
    int32_t oy, ox, oc, ky, kx, ic;

    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->output_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            for (oc = 0; oc < p->output_c; ++oc) {
                const int32_t first_ic = (oc / group_out) * group_in;
                const int32_t filter_at = oc * p->kernel_h * p->kernel_w * group_in;
                float acc = 0.0f;
                float y;
                for (ky = 0; ky < p->kernel_h; ++ky) {
                    const int32_t iy = in_y0 + ky * p->dilation_h;
                    if (iy < 0 || iy >= p->input_h) continue;
                    for (kx = 0; kx < p->kernel_w; ++kx) {
                        const int32_t ix = in_x0 + kx * p->dilation_w;
                        const float *in_px;
                        int32_t w_at;
                        if (ix < 0 || ix >= p->input_w) continue;
                        in_px = input + ((int32_t)iy * p->input_w + ix) * p->input_c + first_ic;
                        w_at = filter_at + (ky * p->kernel_w + kx) * group_in;
                        for (ic = 0; ic < group_in; ++ic) {
                            acc = acc + in_px[ic] * (float)mcugen_int4_code(p->weights, w_at + ic);
                        }
                    }
                }
                y = acc * p->scale[oc];
                y = y + p->bias[oc];
                *output++ = mcugen_clamp_f32(y, p->act_min, p->act_max);
            }
        }
    }
}
