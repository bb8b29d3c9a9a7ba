/*
 * mcugen_fully_connected_s4.c — fully connected layer, int8 activations and int4 weights.
 *
 *   acc[o] = bias[o] + sum_i (input[i] + input_offset) * code[o][i]      (code in -8..7)
 *   output[o] = clamp(requantize(acc[o], multiplier[o], shift[o]) + output_offset, act_min, act_max)
 *
 * computed as the same integer
 *   acc[o] = folded[o] - 8 * sum_i input[i] + sum_i input[i] * u[o][i],   u = code + 8 in 0..15,
 * folded[o] = bias[o] + input_offset * sum_i code[o][i] from the compiler, the sum of the inputs
 * once per input vector. The codes are stored biased so that a nibble needs no sign extension:
 * (word >> 4j) & 0x000F000F is already a pair of int16 halves, and the compiler places the
 * nibbles (see the header) so those pairs meet the halves SXTB16 / SXTB16 ROR 8 make of an input
 * word: on a core with the DSP extension a weight word gives eight MACs of two rows for four
 * ANDs (with a shifted operand) and four SMLADs. Elsewhere each nibble is extracted and multiplied
 * on its own, accumulating in uint32_t: the partial sums of this form may leave int32 where the
 * spec's do not, and unsigned arithmetic wraps; the final value is the spec's accumulator, which
 * mcugen's bias clamp keeps within int32. Rows are taken four at a time, each input word feeding
 * four rows; the requantize epilogue is the int8 kernel's (mcugen_fully_connected_stream.h).
 *
 * Numpy twin: codegen/ops/fully_connected.py (run_int; packed_stream_s4 builds the stream).
 */
#include "mcugen_fully_connected_s4.h"
#include "mcugen_dsp.h"
#include "mcugen_fixedpoint.h"
#include "mcugen_fully_connected_stream.h"

#define FC4_LANES 0x000F000Fu /* one nibble at the bottom of each int16 half */

#if MCUGEN_HAS_DSP
/* The row of weight word w whose nibble pairs start at bit s (0: the pair's first row, 8: its
 * second) times the input pairs xa = (x0, x2), xb = (x1, x3). */
#define FC4_MAC(acc, xa, xb, w, s) \
    ((acc) = (uint32_t)mcugen_smlad((xb), ((w) >> ((s) + 4)) & FC4_LANES, \
                                    mcugen_smlad((xa), ((w) >> (s)) & FC4_LANES, (int32_t)(acc))))
#define FC4_SPLIT(x, xa, xb) ((xa) = mcugen_sxtb16(x), (xb) = mcugen_sxtb16_ror8(x))
#else
#define FC4_N(w, j) (((w) >> (4 * (j))) & 15u)
#define FC4_X(x, k) ((uint32_t)(int32_t)(int8_t)((x) >> (8 * (k))))
#define FC4_MAC(acc, xa, xb, w, s)                                                        \
    ((acc) += FC4_X(xa, 0) * FC4_N(w, (s) / 4) + FC4_X(xa, 1) * FC4_N(w, (s) / 4 + 1) +   \
              FC4_X(xa, 2) * FC4_N(w, (s) / 4 + 4) + FC4_X(xa, 3) * FC4_N(w, (s) / 4 + 5))
#define FC4_SPLIT(x, xa, xb) ((xa) = (x), (xb) = 0)
#endif

#if MCUGEN_HAS_DSP && defined(__GNUC__)
/* One input word's int16 pairs from the scratch (xs, then xs += 2) times its two weight words of
 * four rows (w, then w += 2): acc0..acc3 += 16 products in 18 instructions (two LDRDs, eight
 * ANDs with a shifted operand, eight SMLADs). One asm statement for the reason given in
 * mcugen_fully_connected_s8.c (GCC's Cortex-M33 / M7 scheduling spills otherwise). */
#define FC4_PAIRS_ROWS4(xs, w, acc0, acc1, acc2, acc3)                                     \
    do {                                                                                   \
        uint32_t xa_, xb_, w0_, w1_, t_;                                                   \
        __asm__("ldrd   %[xa], %[xb], [%[xs]], #8\n\t"                                      \
                "ldrd   %[w0], %[w1], [%[w]], #8\n\t"                                      \
                "and    %[t], %[m], %[w0]\n\t"                                             \
                "smlad  %[a0], %[xa], %[t], %[a0]\n\t"                                     \
                "and    %[t], %[m], %[w0], lsr #4\n\t"                                     \
                "smlad  %[a0], %[xb], %[t], %[a0]\n\t"                                     \
                "and    %[t], %[m], %[w0], lsr #8\n\t"                                     \
                "smlad  %[a1], %[xa], %[t], %[a1]\n\t"                                     \
                "and    %[w0], %[m], %[w0], lsr #12\n\t"                                   \
                "smlad  %[a1], %[xb], %[w0], %[a1]\n\t"                                    \
                "and    %[t], %[m], %[w1]\n\t"                                             \
                "smlad  %[a2], %[xa], %[t], %[a2]\n\t"                                     \
                "and    %[t], %[m], %[w1], lsr #4\n\t"                                     \
                "smlad  %[a2], %[xb], %[t], %[a2]\n\t"                                     \
                "and    %[t], %[m], %[w1], lsr #8\n\t"                                     \
                "smlad  %[a3], %[xa], %[t], %[a3]\n\t"                                     \
                "and    %[w1], %[m], %[w1], lsr #12\n\t"                                   \
                "smlad  %[a3], %[xb], %[w1], %[a3]"                                        \
                : [a0] "+r"(acc0), [a1] "+r"(acc1), [a2] "+r"(acc2), [a3] "+r"(acc3),      \
                  [xs] "+r"(xs), [w] "+r"(w), [xa] "=&r"(xa_), [xb] "=&r"(xb_),           \
                  [w0] "=&r"(w0_), [w1] "=&r"(w1_), [t] "=&r"(t_)                          \
                : [m] "r"(FC4_LANES)                                                       \
                : "memory");                                                               \
    } while (0)
#define FC4_PAIRS 1
#elif defined(__GNUC__) && defined(__thumb2__) && defined(__arm__)
/* Thumb-2 without DSP (M3): one input word split by SBFX once, then per weight word (two rows)
 * eight UBFX + MLA: 38 instructions per 16 MACs. One asm statement: GCC's code for the C below
 * keeps too much live and spills. */
#define FC4_WORD_M3(wr, ar, as)                               \
    "ubfx   %[t], %[" wr "], #0, #4\n\t"                       \
    "mla    %[" ar "], %[t], %[x0], %[" ar "]\n\t"             \
    "ubfx   %[t], %[" wr "], #4, #4\n\t"                       \
    "mla    %[" ar "], %[t], %[x1], %[" ar "]\n\t"             \
    "ubfx   %[t], %[" wr "], #16, #4\n\t"                      \
    "mla    %[" ar "], %[t], %[x2], %[" ar "]\n\t"             \
    "ubfx   %[t], %[" wr "], #20, #4\n\t"                      \
    "mla    %[" ar "], %[t], %[x3], %[" ar "]\n\t"             \
    "ubfx   %[t], %[" wr "], #8, #4\n\t"                       \
    "mla    %[" as "], %[t], %[x0], %[" as "]\n\t"             \
    "ubfx   %[t], %[" wr "], #12, #4\n\t"                      \
    "mla    %[" as "], %[t], %[x1], %[" as "]\n\t"             \
    "ubfx   %[t], %[" wr "], #24, #4\n\t"                      \
    "mla    %[" as "], %[t], %[x2], %[" as "]\n\t"             \
    "lsr    %[" wr "], %[" wr "], #28\n\t"                     \
    "mla    %[" as "], %[" wr "], %[x3], %[" as "]\n\t"
#define FC4_WORD_ROWS4(x, w, acc0, acc1, acc2, acc3)                                       \
    do {                                                                                   \
        uint32_t x0_, x1_, x2_, x3_, w0_, w1_, t_;                                         \
        __asm__("ldr    %[x0], [%[x]], #4\n\t"                                             \
                "sbfx   %[x1], %[x0], #8, #8\n\t"                                          \
                "sbfx   %[x2], %[x0], #16, #8\n\t"                                         \
                "asr    %[x3], %[x0], #24\n\t"                                             \
                "sxtb   %[x0], %[x0]\n\t"                                                  \
                "ldrd   %[w0], %[w1], [%[w]], #8\n\t"                                      \
                FC4_WORD_M3("w0", "a0", "a1") FC4_WORD_M3("w1", "a2", "a3")                \
                : [a0] "+r"(acc0), [a1] "+r"(acc1), [a2] "+r"(acc2), [a3] "+r"(acc3),      \
                  [x] "+r"(x), [w] "+r"(w), [x0] "=&r"(x0_), [x1] "=&r"(x1_),             \
                  [x2] "=&r"(x2_), [x3] "=&r"(x3_), [w0] "=&r"(w0_), [w1] "=&r"(w1_),      \
                  [t] "=&r"(t_)                                                            \
                :                                                                          \
                : "memory");                                                               \
    } while (0)
#define FC4_PAIRS 0
#else
#define FC4_WORD_ROWS4(x, w, acc0, acc1, acc2, acc3)          \
    do {                                                      \
        const uint32_t word_ = mcugen_read_s8x4(x);           \
        uint32_t xa_, xb_;                                    \
        (void)xb_;                                            \
        FC4_SPLIT(word_, xa_, xb_);                           \
        FC4_MAC(acc0, xa_, xb_, (uint32_t)(w)[0], 0);         \
        FC4_MAC(acc1, xa_, xb_, (uint32_t)(w)[0], 8);         \
        FC4_MAC(acc2, xa_, xb_, (uint32_t)(w)[1], 0);         \
        FC4_MAC(acc3, xa_, xb_, (uint32_t)(w)[1], 8);         \
        x += 4, w += 2;                                       \
    } while (0)
#define FC4_PAIRS 0
#endif

/* 8 * the sum of the n inputs at x (n < 2^21), as the uint32_t the accumulators start from. */
static inline uint32_t fc4_input_sum8(const int8_t *x, int32_t n)
{
    uint32_t sum = 0;
    int32_t i;
    for (i = 0; i < n; ++i) sum += (uint32_t)(int32_t)x[i];
    return sum << 3;
}

/* The spec's accumulator, within int32, from its uint32_t image. */
static inline int32_t fc4_signed(uint32_t acc)
{
    return acc <= (uint32_t)INT32_MAX ? (int32_t)acc : -(int32_t)(~acc) - 1;
}

void mcugen_fully_connected_s4(const mcugen_fully_connected_s4_params_t *p, const int8_t *input, int8_t *output,
                               int8_t *scratch)
{
    const int32_t full_words = p->input_size / 4, tail = p->input_size % 4;
    const int32_t blocks = p->output_size / 4, singles = p->output_size % 4;
    fc_finish_t f;
    int32_t r, b;

    fc_finish_init(&f, p->output_offset, p->act_min, p->act_max, p->fast);
    for (r = 0; r < p->rows; ++r) {
        const int8_t *const words_end = input + 4 * full_words;
        const uint32_t last = fc_tail_word(words_end, tail);
        const int32_t *w = p->weights;
        int8_t *out = output;
#if FC4_PAIRS
        /* the input as int16 pairs, once for all rows (the tail word too: its weights are padded),
         * and 8 * its sum on the way (SMLAD by (1, 1)) */
        const uint32_t *const pairs = (const uint32_t *)(const void *)scratch; /* word-aligned in the arena */
        const uint32_t *const pairs_end = pairs + 2 * (full_words + (tail != 0));
        const uint32_t *const twice_end = pairs + 4 * ((full_words + (tail != 0)) / 2);
        uint32_t sum8;
        {
            const int8_t *x;
            int8_t *s = scratch;
            int32_t sum = 0;
            for (x = input; x != words_end + 4 * (tail != 0); x += 4, s += 8) {
                const uint32_t word = x == words_end ? last : mcugen_read_s8x4(x);
                const uint32_t halves[2] = {mcugen_sxtb16(word), mcugen_sxtb16_ror8(word)};
                sum = mcugen_smlad(halves[1], 0x00010001u, mcugen_smlad(halves[0], 0x00010001u, sum));
                memcpy(s, halves, sizeof halves);
            }
            sum8 = (uint32_t)sum << 3;
        }
#else
        const uint32_t sum8 = fc4_input_sum8(input, p->input_size);
        (void)scratch;
#endif
        for (b = 0; b < blocks; ++b) { /* four rows: each input word feeds all four */
            uint32_t acc0 = (uint32_t)w[0] - sum8, acc1 = (uint32_t)w[1] - sum8;
            uint32_t acc2 = (uint32_t)w[2] - sum8, acc3 = (uint32_t)w[3] - sum8;
            w += 4;
#if FC4_PAIRS
            {
                const uint32_t *xs = pairs;
                while (xs != twice_end) { /* two words a pass: half the loop's compare and branch */
                    FC4_PAIRS_ROWS4(xs, w, acc0, acc1, acc2, acc3);
                    FC4_PAIRS_ROWS4(xs, w, acc0, acc1, acc2, acc3);
                }
                if (xs != pairs_end) FC4_PAIRS_ROWS4(xs, w, acc0, acc1, acc2, acc3);
            }
#else
            const int8_t *x = input;
            while (x != words_end) FC4_WORD_ROWS4(x, w, acc0, acc1, acc2, acc3);
            if (tail) {
                uint32_t xa, xb;
                (void)xb;
                FC4_SPLIT(last, xa, xb);
                FC4_MAC(acc0, xa, xb, (uint32_t)w[0], 0);
                FC4_MAC(acc1, xa, xb, (uint32_t)w[0], 8);
                FC4_MAC(acc2, xa, xb, (uint32_t)w[1], 0);
                FC4_MAC(acc3, xa, xb, (uint32_t)w[1], 8);
                w += 2;
            }
#endif
            if (f.fast && f.full_range) { /* the usual case: fast requantize and one SSAT each, no test per row */
                out[0] = (int8_t)fc_output_fast(&f, fc4_signed(acc0), w, 0);
                out[1] = (int8_t)fc_output_fast(&f, fc4_signed(acc1), w, 1);
                out[2] = (int8_t)fc_output_fast(&f, fc4_signed(acc2), w, 2);
                out[3] = (int8_t)fc_output_fast(&f, fc4_signed(acc3), w, 3);
            } else {
                out[0] = (int8_t)fc_output(&f, fc4_signed(acc0), w, 4, 0);
                out[1] = (int8_t)fc_output(&f, fc4_signed(acc1), w, 4, 1);
                out[2] = (int8_t)fc_output(&f, fc4_signed(acc2), w, 4, 2);
                out[3] = (int8_t)fc_output(&f, fc4_signed(acc3), w, 4, 3);
            }
            w += 5, out += 4;
        }
        for (b = 0; b < singles; ++b) { /* the last output_size % 4 rows, one at a time */
            uint32_t acc = (uint32_t)*w++ - sum8;
            const int8_t *x;
            uint32_t xa, xb;
            (void)xb;
            for (x = input; x != words_end; x += 4, ++w) {
                const uint32_t word = mcugen_read_s8x4(x);
                FC4_SPLIT(word, xa, xb);
                FC4_MAC(acc, xa, xb, (uint32_t)w[0], 0);
            }
            if (tail) {
                FC4_SPLIT(last, xa, xb);
                FC4_MAC(acc, xa, xb, (uint32_t)w[0], 0);
                ++w;
            }
            *out++ = (int8_t)fc_output(&f, fc4_signed(acc), w, 1, 0);
            w += 2;
        }
        input += p->input_size;
        output += p->output_size;
    }
}
