/*
 * mcugen_depthwise_conv_s8.c — int8 depthwise 2-D convolution, NHWC, weights [KH][KW][C_out].
 *
 *   acc = bias[oc] + sum over (ky, kx) of
 *         (input[iy][ix][oc / depth_multiplier] + input_offset) * weights[ky][kx][oc]
 *   output = clamp(requantize(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)
 *
 * Window positions in the padding are skipped (the range of taps inside the input is found once
 * per output pixel). Numpy twin: codegen/ops/depthwise_conv.py.
 */
#include "mcugen_depthwise_conv_s8.h"
#include "mcugen_fixedpoint.h"

/* The taps k = 0..kernel-1 whose position start + k * dilation lies in [0, size): [*first, *end). */
static void dw_inside(int32_t start, int32_t dilation, int32_t kernel, int32_t size, int32_t *first, int32_t *end)
{
    int32_t k0 = 0, k1 = kernel;
    while (k0 < kernel && start + k0 * dilation < 0) ++k0;
    while (k1 > k0 && start + (k1 - 1) * dilation >= size) --k1;
    *first = k0;
    *end = k1;
}

void mcugen_depthwise_conv_s8(const mcugen_depthwise_conv_params_t *p, const int8_t *input, int8_t *output)
{
    /* the parameters in locals: an int8_t store may alias *p, which would force a reload per use */
    const int32_t input_w = p->input_w, input_c = p->input_c, output_c = p->output_c;
    const int32_t kernel_w = p->kernel_w, dilation_h = p->dilation_h, dilation_w = p->dilation_w;
    const int32_t multiplier = p->depth_multiplier, input_offset = p->input_offset;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t row_step = dilation_h * input_w * input_c, col_step = dilation_w * input_c;
    const int8_t *const weights = p->weights;
    int32_t oy, ox, ic, m, ky, kx;

    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        int32_t ky0, ky1;
        dw_inside(in_y0, dilation_h, p->kernel_h, p->input_h, &ky0, &ky1);
        for (ox = 0; ox < p->output_w; ++ox, output += output_c) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            int32_t kx0, kx1;
            dw_inside(in_x0, dilation_w, kernel_w, input_w, &kx0, &kx1);
            const int empty = ky1 <= ky0 || kx1 <= kx0; /* the window lies wholly in the padding */
            const int32_t ky_end = empty ? ky0 : ky1;
            for (ic = 0; ic < input_c; ++ic) {
                /* the window's taps inside the input, found once per pixel: no bounds checks here */
                const int8_t *const corner = empty ? input
                    : input + ((in_y0 + ky0 * dilation_h) * input_w + in_x0 + kx0 * dilation_w) * input_c + ic;
                for (m = 0; m < multiplier; ++m) {
                    const int32_t oc = ic * multiplier + m;
                    const int8_t *row = corner;
                    int32_t acc = p->bias[oc];
                    for (ky = ky0; ky < ky_end; ++ky, row += row_step) {
                        const int8_t *x = row;
                        const int8_t *w = weights + (ky * kernel_w + kx0) * output_c + oc;
                        for (kx = kx0; kx < kx1; ++kx, x += col_step, w += output_c)
                            acc += ((int32_t)*x + input_offset) * (int32_t)*w;
                    }
                    acc = mcugen_requantize(acc, p->multiplier[oc], p->shift[oc]) + output_offset;
                    output[oc] = mcugen_clamp_s8(acc, act_min, act_max);
                }
            }
        }
    }
}
