/*
 * mcugen_fully_connected_s8.c — int8 fully connected layer.
 *
 *   acc[o] = bias[o] + sum_i input[i] * weights[o][i]
 *   output[o] = clamp(requantize(acc[o], multiplier[o], shift[o]) + output_offset, act_min, act_max)
 *
 * The spec's sum_i (input[i] - zp_in) * w[o][i] is the same integer: mcugen folds
 * -zp_in * sum_i w[o][i] into bias[o] at compile time. Rows are taken four at a time so each
 * input word feeds four rows. On a core with the DSP extension SXTB16 / SXTB16 ROR 8 split a
 * weight word into the int16 pairs (w0, w2) and (w1, w3), which meet the input's pairs in two
 * SMLADs: four MACs for one load, two unpacks and two multiplies. Elsewhere each byte is
 * sign-extended and multiplied on its own. mcugen's bias clamp keeps |bias| + 256 * sum |w|
 * below 2^31, so no partial sum overflows.
 *
 * Everything a block of rows reads is one stream of words laid out by the compiler, in the
 * order the kernel reads it (see the header), so the kernel walks a single pointer. Requantize:
 * when every shift of the layer is in [-23, -2] (nearly always; p->fast), one SMLAL and three
 * instructions with the output offset included (mcugen_fully_connected_stream.h); otherwise
 * mcugen_requantize plus the offset.
 *
 * Numpy twin: codegen/ops/fully_connected.py (run_int; packed_stream builds the stream).
 */
#include "mcugen_fully_connected_s8.h"
#include "mcugen_dsp.h"
#include "mcugen_fixedpoint.h"
#include "mcugen_fully_connected_stream.h"


#if MCUGEN_HAS_DSP && defined(__GNUC__)
#define FC_ASM 1 /* the SMLAD block below */
#elif defined(__GNUC__) && defined(__thumb2__) && defined(__arm__)
#define FC_ASM 2 /* Cortex-M3 (Thumb-2 without DSP): the SBFX + MLA block below */
#else
#define FC_ASM 0
#endif

#if FC_ASM == 1
/* One input word's int16 pairs from the scratch (xs, then xs += 2) times the next word of each
 * of four rows (w, then w += 4): acc0..acc3 += 16 products in 19 instructions (three LDRDs,
 * eight SXTB16, eight SMLAD). One asm statement, because GCC's scheduler for Cortex-M33 and M7
 * hoists the eight weight unpacks above the multiplies, runs out of registers and spills inside
 * the loop (the same C took 1.4x the M4's instructions on the M33). */
#define FC_PAIRS_ROWS4(xs, w, acc0, acc1, acc2, acc3)                                      \
    do {                                                                                   \
        uint32_t xa_, xb_, w0_, w1_, t_;                                                   \
        __asm__("ldrd   %[xa], %[xb], [%[xs]], #8\n\t"                                      \
                "ldrd   %[w0], %[w1], [%[w]], #8\n\t"                                      \
                "sxtb16 %[t], %[w0]\n\t"                                                   \
                "smlad  %[a0], %[xa], %[t], %[a0]\n\t"                                     \
                "sxtb16 %[w0], %[w0], ror #8\n\t"                                          \
                "smlad  %[a0], %[xb], %[w0], %[a0]\n\t"                                    \
                "sxtb16 %[t], %[w1]\n\t"                                                   \
                "smlad  %[a1], %[xa], %[t], %[a1]\n\t"                                     \
                "sxtb16 %[w1], %[w1], ror #8\n\t"                                          \
                "smlad  %[a1], %[xb], %[w1], %[a1]\n\t"                                    \
                "ldrd   %[w0], %[w1], [%[w]], #8\n\t"                                      \
                "sxtb16 %[t], %[w0]\n\t"                                                   \
                "smlad  %[a2], %[xa], %[t], %[a2]\n\t"                                     \
                "sxtb16 %[w0], %[w0], ror #8\n\t"                                          \
                "smlad  %[a2], %[xb], %[w0], %[a2]\n\t"                                    \
                "sxtb16 %[t], %[w1]\n\t"                                                   \
                "smlad  %[a3], %[xa], %[t], %[a3]\n\t"                                     \
                "sxtb16 %[w1], %[w1], ror #8\n\t"                                          \
                "smlad  %[a3], %[xb], %[w1], %[a3]"                                        \
                : [a0] "+r"(acc0), [a1] "+r"(acc1), [a2] "+r"(acc2), [a3] "+r"(acc3),      \
                  [xs] "+r"(xs), [w] "+r"(w), [xa] "=&r"(xa_), [xb] "=&r"(xb_),           \
                  [w0] "=&r"(w0_), [w1] "=&r"(w1_), [t] "=&r"(t_)                          \
                :                                                                          \
                : "memory");                                                               \
    } while (0)
#elif FC_ASM == 2
/* The same on a Thumb-2 core without DSP (M3): 39 instructions per 16 products (an input load
 * and four sign extensions, two LDRDs, sixteen extractions and sixteen MLAs). GCC's own code
 * for the C below kept the bytes of four weight words live at once and spilled. */
#define FC_ROW_M3(a, wr)                            \
    "sxtb   %[t], %[" wr "]\n\t"                    \
    "mla    %[" a "], %[t], %[x0], %[" a "]\n\t"    \
    "sbfx   %[t], %[" wr "], #8, #8\n\t"            \
    "mla    %[" a "], %[t], %[x1], %[" a "]\n\t"    \
    "sbfx   %[t], %[" wr "], #16, #8\n\t"           \
    "mla    %[" a "], %[t], %[x2], %[" a "]\n\t"    \
    "asr    %[" wr "], %[" wr "], #24\n\t"          \
    "mla    %[" a "], %[" wr "], %[x3], %[" a "]\n\t"
#define FC_WORD_ROWS4(x, w, acc0, acc1, acc2, acc3)                                        \
    do {                                                                                   \
        uint32_t x0_, x1_, x2_, x3_, w0_, w1_, t_;                                         \
        __asm__("ldr    %[x0], [%[x]], #4\n\t"                                             \
                "sbfx   %[x1], %[x0], #8, #8\n\t"                                          \
                "sbfx   %[x2], %[x0], #16, #8\n\t"                                         \
                "asr    %[x3], %[x0], #24\n\t"                                             \
                "sxtb   %[x0], %[x0]\n\t"                                                  \
                "ldrd   %[w0], %[w1], [%[w]], #8\n\t"                                      \
                FC_ROW_M3("a0", "w0") FC_ROW_M3("a1", "w1")                                \
                "ldrd   %[w0], %[w1], [%[w]], #8\n\t"                                      \
                FC_ROW_M3("a2", "w0") FC_ROW_M3("a3", "w1")                                \
                : [a0] "+r"(acc0), [a1] "+r"(acc1), [a2] "+r"(acc2), [a3] "+r"(acc3),      \
                  [x] "+r"(x), [w] "+r"(w), [x0] "=&r"(x0_), [x1] "=&r"(x1_),             \
                  [x2] "=&r"(x2_), [x3] "=&r"(x3_), [w0] "=&r"(w0_), [w1] "=&r"(w1_),      \
                  [t] "=&r"(t_)                                                            \
                :                                                                          \
                : "memory");                                                               \
    } while (0)
#else
#define FC_WORD_ROWS4(x, w, acc0, acc1, acc2, acc3)          \
    do {                                                     \
        const uint32_t word_ = mcugen_read_s8x4(x);          \
        uint32_t xa_, xb_;                                   \
        (void)xb_;                                           \
        MCUGEN_SPLIT4_S8(word_, xa_, xb_);                           \
        MCUGEN_MAC4_S8(acc0, xa_, xb_, (uint32_t)(w)[0]);           \
        MCUGEN_MAC4_S8(acc1, xa_, xb_, (uint32_t)(w)[1]);           \
        MCUGEN_MAC4_S8(acc2, xa_, xb_, (uint32_t)(w)[2]);           \
        MCUGEN_MAC4_S8(acc3, xa_, xb_, (uint32_t)(w)[3]);           \
        x += 4, w += 4;                                      \
    } while (0)
#endif

void mcugen_fully_connected_s8(const mcugen_fully_connected_params_t *p, const int8_t *input, int8_t *output,
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
#if FC_ASM == 1
        /* the input as int16 pairs, once for all rows; the tail word too (its weights are padded) */
        const uint32_t *const pairs = (const uint32_t *)(const void *)scratch; /* word-aligned in the arena */
        const uint32_t *const pairs_end = pairs + 2 * (full_words + (tail != 0));
        const uint32_t *const twice_end = pairs + 4 * ((full_words + (tail != 0)) / 2);
        {
            const int8_t *x;
            int8_t *s = scratch;
            for (x = input; x != words_end + 4 * (tail != 0); x += 4, s += 8) {
                const uint32_t word = x == words_end ? last : mcugen_read_s8x4(x);
                const uint32_t halves[2] = {mcugen_sxtb16(word), mcugen_sxtb16_ror8(word)};
                memcpy(s, halves, sizeof halves);
            }
        }
#else
        (void)scratch;
#endif
        for (b = 0; b < blocks; ++b) { /* four rows: each input word feeds all four */
            int32_t acc0 = w[0], acc1 = w[1], acc2 = w[2], acc3 = w[3];
            w += 4;
#if FC_ASM == 1
            {
                const uint32_t *xs = pairs;
                while (xs != twice_end) { /* two words a pass: half the loop's compare and branch */
                    FC_PAIRS_ROWS4(xs, w, acc0, acc1, acc2, acc3);
                    FC_PAIRS_ROWS4(xs, w, acc0, acc1, acc2, acc3);
                }
                if (xs != pairs_end) FC_PAIRS_ROWS4(xs, w, acc0, acc1, acc2, acc3);
            }
#else       /* one word a pass: two would spill the M3's registers */
            const int8_t *x = input;
            while (x != words_end) FC_WORD_ROWS4(x, w, acc0, acc1, acc2, acc3);
            if (tail) {
                uint32_t xa, xb;
                (void)xb;
                MCUGEN_SPLIT4_S8(last, xa, xb);
                MCUGEN_MAC4_S8(acc0, xa, xb, (uint32_t)w[0]);
                MCUGEN_MAC4_S8(acc1, xa, xb, (uint32_t)w[1]);
                MCUGEN_MAC4_S8(acc2, xa, xb, (uint32_t)w[2]);
                MCUGEN_MAC4_S8(acc3, xa, xb, (uint32_t)w[3]);
                w += 4;
            }
#endif
            if (f.fast && f.full_range) { /* the usual case: fast requantize and one SSAT each, no test per row */
                out[0] = (int8_t)fc_output_fast(&f, acc0, w, 0), out[1] = (int8_t)fc_output_fast(&f, acc1, w, 1);
                out[2] = (int8_t)fc_output_fast(&f, acc2, w, 2), out[3] = (int8_t)fc_output_fast(&f, acc3, w, 3);
            } else { /* stores one by one: the next row's constants are loaded after its store anyway */
                out[0] = (int8_t)fc_output(&f, acc0, w, 4, 0), out[1] = (int8_t)fc_output(&f, acc1, w, 4, 1);
                out[2] = (int8_t)fc_output(&f, acc2, w, 4, 2), out[3] = (int8_t)fc_output(&f, acc3, w, 4, 3);
            }
            w += 5, out += 4;
        }
        for (b = 0; b < singles; ++b) { /* the last output_size % 4 rows, one at a time */
            int32_t acc = *w++;
            const int8_t *x;
            uint32_t xa, xb;
            (void)xb;
            for (x = input; x != words_end; x += 4, ++w) {
                const uint32_t word = mcugen_read_s8x4(x);
                MCUGEN_SPLIT4_S8(word, xa, xb);
                MCUGEN_MAC4_S8(acc, xa, xb, (uint32_t)w[0]);
            }
            if (tail) {
                MCUGEN_SPLIT4_S8(last, xa, xb);
                MCUGEN_MAC4_S8(acc, xa, xb, (uint32_t)w[0]);
                ++w;
            }
            *out++ = (int8_t)fc_output(&f, acc, w, 1, 0);
            w += 2;
        }
        input += p->input_size;
        output += p->output_size;
    }
}
