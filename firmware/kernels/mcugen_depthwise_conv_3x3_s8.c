/*
 * mcugen_depthwise_conv_3x3_s8.c — int8 3x3 depthwise convolution, depth multiplier 1, NHWC,
 * any stride, dilation and padding.
 *
 *   acc[c] = bias[c] + sum over the 9 taps (ky, kx) of x(iy, ix, c) * w[ky][kx][c]
 *   output = clamp(requantize(acc, multiplier[c], shift[c]) + output_offset, act_min, act_max)
 * with x(iy, ix, c) the input, or input_zero_point where (iy, ix) lies in the padding.
 *
 * The spec's acc = bias_spec + sum over the taps inside the image of (x - zp) * w is the same
 * integer: mcugen folds -zp * (all 9 weights) into bias at compile time, and a padded tap then
 * adds zp * w, cancelling its share. So every pixel takes 9 taps; interior pixels read them with
 * no bounds check, border pixels swap the zero point in for the taps outside.
 *
 * Four channels at once: one word of input holds x[c..c+3]; on a DSP core SXTB16 (ROR 8) splits
 * it into the halves (x[c], x[c+2]) and (x[c+1], x[c+3]), which meet the weights, stored as
 * int16 halves in the same order, in SMLABB / SMLATT: 4 MACs for one input load, two unpacks
 * and one weight-pair load. The requantize constants of the group are set up once per group.
 * mcugen's bias clamp keeps |bias| + 256 * sum |w| below 2^31, so no partial sum overflows.
 *
 * Numpy twin: codegen/ops/depthwise_conv.py (run_int).
 */
#include "mcugen_depthwise_conv_3x3_s8.h"
#include "mcugen_dsp.h"
#include "mcugen_fixedpoint.h"

#if defined(__GNUC__) || defined(__clang__)
#define DW_NOINLINE __attribute__((noinline))
#define DW_ALWAYS_INLINE __attribute__((always_inline))
#else
#define DW_NOINLINE
#define DW_ALWAYS_INLINE
#endif

/* The rare case (a real multiplier of 1/4 or more, or below 2^-23): out of line, call sites stay small. */
static DW_NOINLINE int32_t dw_requantize_general(int32_t acc, int32_t multiplier, int32_t shift, int32_t offset)
{
    return mcugen_requantize(acc, multiplier, shift) + offset;
}

/* What every pixel of one group of four channels shares, set up once per group. */
typedef struct {
    const int32_t *weights; /* the group's 9 taps, two words each */
    int32_t col, row;       /* bytes from one tap column (row) to the next */
    int32_t bias[4], multiplier[4], round[4], right1[4], shift[4];
    int32_t fast;           /* every channel's shift in [-23, -2] */
    int32_t output_offset, act_min, act_max;
    int32_t full_range;     /* act_min = -128 and act_max = 127 */
    int32_t fast_full;      /* fast and full_range: dw_store4's assembly path */
    int32_t k[12];          /* multiplier, round, right1 of each channel, in that order (the assembly's) */
} dw_group_t;

/* Requantize, offset, clamp and store the four channels' sums. */
static DW_ALWAYS_INLINE inline void dw_store4(int32_t acc0, int32_t acc1, int32_t acc2, int32_t acc3,
                                              int8_t *out, const dw_group_t *g)
{
    int32_t y0, y1, y2, y3;
#if MCUGEN_HAS_DSP && defined(__GNUC__)
    if (g->fast_full) {
        /* The usual group in assembly: per channel two loads of its constants, one SMLAL and five
         * ALU instructions (mcugen_requantize_offset_right: the low word of the start is acc's sign
         * bit | 2^30, the high word acc >> 31), SSAT, and one instruction to put the byte in the word;
         * then one store (GCC 12 reloads the constants around each output and packs in ten). */
        int32_t m, round, right, lo, hi, packed;
#define DW_ASM_CHANNEL(acc, offset, place)             \
    "ldrd %[m], %[round], [%[k], #" offset "]\n\t"      \
    "ldr %[right], [%[k], #" offset " + 8]\n\t"         \
    "asr %[hi], %[" acc "], #31\n\t"                   \
    "and %[lo], %[" acc "], #0x80000000\n\t"            \
    "orr %[lo], %[lo], #0x40000000\n\t"                 \
    "smlal %[lo], %[hi], %[" acc "], %[m]\n\t"          \
    "add %[hi], %[hi], %[round]\n\t"                    \
    "asr %[hi], %[hi], %[right]\n\t"                    \
    "ssat %[hi], #8, %[hi]\n\t" place
        __asm__ volatile(DW_ASM_CHANNEL("a0", "0", "and %[packed], %[hi], #255\n\t")
                         DW_ASM_CHANNEL("a1", "12", "bfi %[packed], %[hi], #8, #8\n\t")
                         DW_ASM_CHANNEL("a2", "24", "bfi %[packed], %[hi], #16, #8\n\t")
                         DW_ASM_CHANNEL("a3", "36", "orr %[packed], %[packed], %[hi], lsl #24\n\t")
                         "str %[packed], [%[out]]"
                         : [m] "=&r"(m), [round] "=&r"(round), [right] "=&r"(right), [lo] "=&r"(lo),
                           [hi] "=&r"(hi), [packed] "=&r"(packed)
                         : [a0] "r"(acc0), [a1] "r"(acc1), [a2] "r"(acc2), [a3] "r"(acc3), [k] "r"(g->k),
                           [out] "r"(out)
                         : "memory");
#undef DW_ASM_CHANNEL
        return;
    }
#endif
    if (g->fast) {
        y0 = mcugen_requantize_offset_right(acc0, g->multiplier[0], g->round[0], g->right1[0]);
        y1 = mcugen_requantize_offset_right(acc1, g->multiplier[1], g->round[1], g->right1[1]);
        y2 = mcugen_requantize_offset_right(acc2, g->multiplier[2], g->round[2], g->right1[2]);
        y3 = mcugen_requantize_offset_right(acc3, g->multiplier[3], g->round[3], g->right1[3]);
    } else {
        y0 = dw_requantize_general(acc0, g->multiplier[0], g->shift[0], g->output_offset);
        y1 = dw_requantize_general(acc1, g->multiplier[1], g->shift[1], g->output_offset);
        y2 = dw_requantize_general(acc2, g->multiplier[2], g->shift[2], g->output_offset);
        y3 = dw_requantize_general(acc3, g->multiplier[3], g->shift[3], g->output_offset);
    }
#if MCUGEN_HAS_DSP
    if (g->full_range) { /* the clamp is to int8's own bounds (the usual case): one SSAT each, one store */
        const uint32_t packed = ((uint32_t)mcugen_ssat8(y0) & 0xFFu) | (((uint32_t)mcugen_ssat8(y1) & 0xFFu) << 8) |
                                (((uint32_t)mcugen_ssat8(y2) & 0xFFu) << 16) | ((uint32_t)mcugen_ssat8(y3) << 24);
        memcpy(out, &packed, sizeof packed);
        return;
    }
#endif
    out[0] = mcugen_clamp_s8(y0, g->act_min, g->act_max);
    out[1] = mcugen_clamp_s8(y1, g->act_min, g->act_max);
    out[2] = mcugen_clamp_s8(y2, g->act_min, g->act_max);
    out[3] = mcugen_clamp_s8(y3, g->act_min, g->act_max);
}

/* One tap for four channels: acc0..acc3 += x[c..c+3] * w. */
#if MCUGEN_HAS_DSP
#define DW_TAP4(x, w)                                         \
    do {                                                      \
        const uint32_t x_even = mcugen_sxtb16(x);             \
        const uint32_t x_odd = mcugen_sxtb16_ror8(x);         \
        acc0 = mcugen_smlabb(x_even, (uint32_t)(w)[0], acc0); \
        acc2 = mcugen_smlatt(x_even, (uint32_t)(w)[0], acc2); \
        acc1 = mcugen_smlabb(x_odd, (uint32_t)(w)[1], acc1);  \
        acc3 = mcugen_smlatt(x_odd, (uint32_t)(w)[1], acc3);  \
    } while (0)
#else
#define DW_TAP4(x, w)                                                         \
    do {                                                                      \
        acc0 += (int32_t)(int8_t)(x) * (int32_t)(int16_t)(w)[0];              \
        acc2 += (int32_t)(int8_t)((x) >> 16) * ((int32_t)(w)[0] >> 16);       \
        acc1 += (int32_t)(int8_t)((x) >> 8) * (int32_t)(int16_t)(w)[1];       \
        acc3 += (int32_t)(int8_t)((x) >> 24) * ((int32_t)(w)[1] >> 16);       \
    } while (0)
#endif

/* An interior pixel: x points at tap (0, 0), channel c; no bounds checks. */
static DW_ALWAYS_INLINE inline void dw_pixel_interior(const int8_t *x, int8_t *out, const dw_group_t *g)
{
    const int32_t *const w = g->weights;
    const int32_t col = g->col;
    int32_t acc0 = g->bias[0], acc1 = g->bias[1], acc2 = g->bias[2], acc3 = g->bias[3];
    DW_TAP4(mcugen_read_s8x4(x), w);
    DW_TAP4(mcugen_read_s8x4(x + col), w + 2);
    DW_TAP4(mcugen_read_s8x4(x + 2 * col), w + 4);
    x += g->row;
    DW_TAP4(mcugen_read_s8x4(x), w + 6);
    DW_TAP4(mcugen_read_s8x4(x + col), w + 8);
    DW_TAP4(mcugen_read_s8x4(x + 2 * col), w + 10);
    x += g->row;
    DW_TAP4(mcugen_read_s8x4(x), w + 12);
    DW_TAP4(mcugen_read_s8x4(x + col), w + 14);
    DW_TAP4(mcugen_read_s8x4(x + 2 * col), w + 16);
    dw_store4(acc0, acc1, acc2, acc3, out, g);
}

/* count interior pixels of one output row, the first one's tap (0, 0) at x: one call per run, so
 * the loop keeps its pointers in registers across pixels. */
static DW_NOINLINE void dw_run_interior(const int8_t *x, int8_t *out, int32_t count, int32_t x_step,
                                        int32_t out_step, const dw_group_t *g)
{
    for (; count > 0; --count, x += x_step, out += out_step) dw_pixel_interior(x, out, g);
}

/* A border pixel: tap t = 3 * ky + kx lies inside the input when bit t of inside is set, at
 * input + offset + ky * row + kx * col; the others take the zero point's word. The offset is an
 * integer, so no pointer is formed for a tap in the padding. */
static DW_NOINLINE void dw_pixel_border(const int8_t *input, int32_t offset, uint32_t inside, uint32_t zp4,
                                        int8_t *out, const dw_group_t *g)
{
    const int32_t *const w = g->weights;
    const int32_t col = g->col, row = g->row;
    int32_t acc0 = g->bias[0], acc1 = g->bias[1], acc2 = g->bias[2], acc3 = g->bias[3];
#define DW_BORDER_TAP(ky, kx)                                                                      \
    DW_TAP4(inside & (1u << (3 * (ky) + (kx))) ? mcugen_read_s8x4(input + offset + (ky) * row + (kx) * col) \
                                              : zp4,                                               \
            w + 2 * (3 * (ky) + (kx)))
    DW_BORDER_TAP(0, 0);
    DW_BORDER_TAP(0, 1);
    DW_BORDER_TAP(0, 2);
    DW_BORDER_TAP(1, 0);
    DW_BORDER_TAP(1, 1);
    DW_BORDER_TAP(1, 2);
    DW_BORDER_TAP(2, 0);
    DW_BORDER_TAP(2, 1);
    DW_BORDER_TAP(2, 2);
#undef DW_BORDER_TAP
    dw_store4(acc0, acc1, acc2, acc3, out, g);
}

/* Which taps of a pixel lie inside the input, as the bit mask dw_pixel_border takes: the row
 * factor (bit 3 * ky set when tap row ky is inside; once per output row) times the column bits
 * (bit kx set when tap column kx is inside): the product has no carries, each row's copy of the
 * column bits lands in its own three bits. */
static uint32_t dw_row_factor(const mcugen_depthwise_conv_3x3_params_t *p, int32_t iy0)
{
    uint32_t factor = 0;
    int32_t k;
    for (k = 0; k < 3; ++k)
        if ((uint32_t)(iy0 + k * p->dilation_h) < (uint32_t)p->input_h) factor |= 1u << (3 * k);
    return factor;
}

static inline uint32_t dw_column_bits(const mcugen_depthwise_conv_3x3_params_t *p, int32_t ix0)
{
    const uint32_t w = (uint32_t)p->input_w, d = (uint32_t)p->dilation_w;
    return ((uint32_t)ix0 < w ? 1u : 0u) | ((uint32_t)ix0 + d < w ? 2u : 0u) | ((uint32_t)ix0 + 2 * d < w ? 4u : 0u);
}

/* Channels c..c+3 over every output pixel. */
static void dw_group4(const mcugen_depthwise_conv_3x3_params_t *p, const int8_t *input, int8_t *output,
                      int32_t c)
{
    const int32_t channels = p->channels, input_w = p->input_w, output_w = p->output_w;
    const uint32_t zp4 = 0x01010101u * (uint8_t)p->input_zero_point;
    const int32_t x_step = p->stride_w * channels;
    dw_group_t g;
    int32_t oy, ox, j, ox_lo = output_w, ox_hi = 0;

    g.weights = p->weights + 18 * (c / 4);
    g.col = p->dilation_w * channels;
    g.row = p->dilation_h * input_w * channels;
    g.fast = 1;
    for (j = 0; j < 4; ++j) {
        const int32_t shift = p->shift[c + j];
        g.bias[j] = p->bias[c + j];
        g.multiplier[j] = p->multiplier[c + j];
        g.shift[j] = shift;
        if (shift > -2 || shift < -23) {
            g.fast = 0;
            g.right1[j] = g.round[j] = 0;
        } else {
            g.right1[j] = -shift - 1;
            g.round[j] = (1 << (-shift - 2)) + (int32_t)((uint32_t)p->output_offset << (-shift - 1));
        }
    }
    g.output_offset = p->output_offset;
    g.act_min = p->act_min;
    g.act_max = p->act_max;
    g.full_range = p->act_min == -128 && p->act_max == 127;
    g.fast_full = g.fast && g.full_range;
    for (j = 0; j < 4; ++j) {
        g.k[3 * j] = g.multiplier[j];
        g.k[3 * j + 1] = g.round[j];
        g.k[3 * j + 2] = g.right1[j];
    }
    for (ox = 0; ox < output_w; ++ox) { /* the columns whose 3 taps lie inside: one run */
        const int32_t ix0 = ox * p->stride_w - p->pad_left;
        if (ix0 >= 0 && ix0 + 2 * p->dilation_w < input_w) {
            if (ox < ox_lo) ox_lo = ox;
            ox_hi = ox + 1;
        }
    }
    if (ox_hi <= ox_lo) ox_lo = ox_hi = output_w;

    for (oy = 0; oy < p->output_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int rows_inside = iy0 >= 0 && iy0 + 2 * p->dilation_h < p->input_h;
        int8_t *const out_row = output + oy * output_w * channels + c;
        const int32_t lo = rows_inside ? ox_lo : output_w, hi = rows_inside ? ox_hi : output_w;
        const uint32_t row_factor = dw_row_factor(p, iy0);
        for (ox = 0; ox < lo; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            dw_pixel_border(input, (iy0 * input_w + ix0) * channels + c, row_factor * dw_column_bits(p, ix0), zp4,
                            out_row + ox * channels, &g);
        }
        if (lo < hi) {
            dw_run_interior(input + (iy0 * input_w + lo * p->stride_w - p->pad_left) * channels + c,
                            out_row + lo * channels, hi - lo, x_step, channels, &g);
        }
        for (ox = hi; ox < output_w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            dw_pixel_border(input, (iy0 * input_w + ix0) * channels + c, row_factor * dw_column_bits(p, ix0), zp4,
                            out_row + ox * channels, &g);
        }
    }
}

/* One of the last channels % 4 channels, tap by tap (weights one per word). */
static void dw_channel(const mcugen_depthwise_conv_3x3_params_t *p, const int8_t *input, int8_t *output,
                       int32_t c)
{
    const int32_t channels = p->channels;
    const int32_t *const w = p->weights + 18 * (channels / 4) + 9 * (c % 4);
    int32_t oy, ox, ky, kx;

    for (oy = 0; oy < p->output_h; ++oy) {
        for (ox = 0; ox < p->output_w; ++ox) {
            int32_t acc = p->bias[c];
            for (ky = 0; ky < 3; ++ky) {
                const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
                for (kx = 0; kx < 3; ++kx) {
                    const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dilation_w;
                    const int32_t x = iy >= 0 && iy < p->input_h && ix >= 0 && ix < p->input_w
                                          ? input[(iy * p->input_w + ix) * channels + c]
                                          : p->input_zero_point;
                    acc += x * w[3 * ky + kx];
                }
            }
            acc = p->shift[c] <= -2
                      ? mcugen_requantize_offset_right(acc, p->multiplier[c], 1 << (-p->shift[c] - 2), -p->shift[c] - 1)
                            + p->output_offset
                      : dw_requantize_general(acc, p->multiplier[c], p->shift[c], p->output_offset);
            output[(oy * p->output_w + ox) * channels + c] = mcugen_clamp_s8(acc, p->act_min, p->act_max);
        }
    }
}

void mcugen_depthwise_conv_3x3_s8(const mcugen_depthwise_conv_3x3_params_t *p, const int8_t *input,
                                  int8_t *output)
{
    int32_t c;
    for (c = 0; c + 4 <= p->channels; c += 4) dw_group4(p, input, output, c);
    for (; c < p->channels; ++c) dw_channel(p, input, output, c);
}
