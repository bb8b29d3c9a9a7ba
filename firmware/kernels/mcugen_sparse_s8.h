/*
 * mcugen_sparse_s8.h — the dot products of sparse int8 weight rows (header only), shared by
 * mcugen_fully_connected_sparse_s8.c and mcugen_conv_1x1_sparse_s8.c.
 *
 * A weight matrix [out][n] is stored row by row as its nonzero blocks of `block` consecutive
 * inputs (block 1: one weight, compressed sparse rows; block 4: one word of four weights):
 *   counts[o]  the number of stored blocks of row o (uint8_t, or uint16_t when wide)
 *   index[k]   the block column j of the k-th stored block (inputs block*j .. block*j + block - 1),
 *              rows one after another, columns ascending (uint8_t, or uint16_t when wide)
 *   values     block 1: int8_t [k]; block 4: int32_t words, byte i = weight of input 4j + i
 * The last block of a row is zero-padded past n (codegen/ops/sparse.py writes the layout).
 *
 *   acc + sum over the row's stored blocks k of sum_i x[block * index[k] + i] * w_k[i]
 * is the dense row's sum: the weights left out are 0. The caller bounds |acc| (mcugen's bias
 * clamp: |bias| + 256 * sum |w| < 2^31), so no partial sum overflows on either path.
 */
#ifndef MCUGEN_SPARSE_S8_H
#define MCUGEN_SPARSE_S8_H

#include <stdint.h>
#include "mcugen_dsp.h"

typedef struct {
    int32_t n;          /* inputs per row */
    int32_t block;      /* 1 or 4 */
    int32_t wide;       /* counts and index: 0 uint8_t, 1 uint16_t */
    const void *counts; /* [out] */
    const void *index;  /* [stored blocks] */
    const void *values; /* block 1: int8_t [stored]; block 4: int32_t [stored blocks] */
} mcugen_sparse_s8_t;

/* A position in the stored blocks: the next row's first block. */
typedef struct {
    const uint8_t *index8;
    const uint16_t *index16;
    const uint8_t *counts8;
    const uint16_t *counts16;
    const int8_t *values8;
    const int32_t *values32;
} mcugen_sparse_cursor_t;

static inline mcugen_sparse_cursor_t mcugen_sparse_start(const mcugen_sparse_s8_t *m)
{
    mcugen_sparse_cursor_t c;
    c.index8 = (const uint8_t *)m->index;
    c.index16 = (const uint16_t *)m->index;
    c.counts8 = (const uint8_t *)m->counts;
    c.counts16 = (const uint16_t *)m->counts;
    c.values8 = (const int8_t *)m->values;
    c.values32 = (const int32_t *)m->values;
    return c;
}

/* The input's last n % 4 bytes as one word, zero above (a padded block's weights are zero there). */
static inline uint32_t mcugen_sparse_tail_word(const int8_t *x, int32_t n)
{
    uint32_t word = 0;
    int32_t i;
    for (i = n - 1; i >= n - n % 4; --i) word = (word << 8) | (uint8_t)x[i];
    return word;
}

/* acc + the four products of input word x and weight word w. */
static inline int32_t mcugen_sparse_mac4(uint32_t x, uint32_t w, int32_t acc)
{
    acc = mcugen_smlad(mcugen_sxtb16(x), mcugen_sxtb16(w), acc);
    return mcugen_smlad(mcugen_sxtb16_ror8(x), mcugen_sxtb16_ror8(w), acc);
}

/* acc + row `*c` of the matrix times x (x[0..n-1]; tail = mcugen_sparse_tail_word(x, n));
 * advances *c to the next row. */
static inline int32_t mcugen_sparse_row_s8(const mcugen_sparse_s8_t *m, mcugen_sparse_cursor_t *c,
                                           const int8_t *x, uint32_t tail, int32_t acc)
{
    int32_t count, k;
    if (m->wide) count = *c->counts16++;
    else count = *c->counts8++;
    if (m->block == 1) {
        const int8_t *v = c->values8;
        if (m->wide) {
            const uint16_t *j = c->index16;
            for (k = 0; k < count; ++k) acc += (int32_t)x[j[k]] * v[k];
            c->index16 += count;
        } else {
            const uint8_t *j = c->index8;
            for (k = 0; k < count; ++k) acc += (int32_t)x[j[k]] * v[k];
            c->index8 += count;
        }
        c->values8 += count;
    } else {
        const int32_t whole = m->n / 4; /* block columns read straight from x; the one past them is the tail */
        const int32_t *v = c->values32;
        for (k = 0; k < count; ++k) {
            const int32_t j = m->wide ? (int32_t)c->index16[k] : (int32_t)c->index8[k];
            const uint32_t word = j < whole ? mcugen_read_s8x4(x + 4 * j) : tail;
            acc = mcugen_sparse_mac4(word, (uint32_t)v[k], acc);
        }
        c->index8 += count;
        c->index16 += count;
        c->values32 += count;
    }
    return acc;
}

#endif /* MCUGEN_SPARSE_S8_H */
