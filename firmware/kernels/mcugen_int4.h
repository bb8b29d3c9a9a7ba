/*
 * mcugen_int4.h — the int4 weight arithmetic of the int4-weight kernels (_s4 and _f32_w4).
 *
 * Packing: int4 codes (-8..7) two per byte, low nibble first, in the row-major order of the
 * unpacked weight array: code i is in byte i / 2 (the low nibble when i is even, the high nibble
 * when i is odd) and is sign-extended from 4 bits, ((nibble ^ 8) - 8).
 * Numpy twin of the packing: codegen/ops/base.py (pack_int4).
 */
#ifndef MCUGEN_INT4_H
#define MCUGEN_INT4_H

#include <stdint.h>

/* The low and the high nibble of a byte (0..255), sign-extended. */
static inline int32_t mcugen_int4_low(int32_t byte)
{
    return ((byte & 0x0F) ^ 8) - 8;
}

static inline int32_t mcugen_int4_high(int32_t byte)
{
    return ((byte >> 4) ^ 8) - 8;
}

/* Code i of a packed int4 array, sign-extended. */
static inline int32_t mcugen_int4_code(const uint8_t *packed, int32_t i)
{
    const int32_t byte = packed[i >> 1];
    const int32_t nibble = (i & 1) ? (byte >> 4) : (byte & 0x0F);
    return (nibble ^ 8) - 8;
}

/* sum over i < n of (x[i] + offset) * code[first + i]. A run may start or end in the middle of a
 * byte; the whole bytes in between are read once for two codes. */
static inline int32_t mcugen_int4_dot(const int8_t *x, const uint8_t *packed, int32_t first, int32_t n,
                                      int32_t offset)
{
    const uint8_t *b = packed + (first >> 1);
    int32_t acc = 0;
    int32_t i = 0;
    if ((first & 1) && n > 0) {
        acc += ((int32_t)x[0] + offset) * mcugen_int4_high(*b++);
        i = 1;
    }
    for (; i + 1 < n; i += 2) {
        const int32_t byte = *b++;
        acc += ((int32_t)x[i] + offset) * mcugen_int4_low(byte);
        acc += ((int32_t)x[i + 1] + offset) * mcugen_int4_high(byte);
    }
    if (i < n) {
        acc += ((int32_t)x[i] + offset) * mcugen_int4_low(*b);
    }
    return acc;
}

#endif /* MCUGEN_INT4_H */
