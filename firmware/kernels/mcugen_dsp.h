/*
 * mcugen_dsp.h — the packed-int16 primitives of the Arm DSP extension, with portable twins.
 *
 * A word holds two int16 halves (low half = bits 0..15). On a core with __ARM_FEATURE_DSP
 * (Cortex-M4, M7, M33, M55) each function below is one instruction:
 *   mcugen_sxtb16(x)        SXTB16:        halves = sign-extended bytes 0 and 2 of x
 *   mcugen_sxtb16_ror8(x)   SXTB16 ROR #8: halves = sign-extended bytes 1 and 3 of x
 *   mcugen_smlad(a, b, acc) SMLAD:         acc + a.lo * b.lo + a.hi * b.hi (two MACs)
 *   mcugen_smlabb(a, b, acc) SMLABB:       acc + a.lo * b.lo (one MAC on the low halves)
 *   mcugen_smlatt(a, b, acc) SMLATT:       acc + a.hi * b.hi (one MAC on the high halves)
 *   mcugen_ssat8(x)         SSAT #8:       x clamped to [-128, 127]
 *   mcugen_smlald(a, b, acc) SMLALD:       int64 acc + a.lo * b.lo + a.hi * b.hi (two MACs)
 * Elsewhere (M0, M3, a host) they are plain C with the same results, so a kernel keeps one
 * source and the compiler picks the instructions by the core's feature macro. The caller keeps
 * acc within int32: the result then equals the exact sum, on either path.
 */
#ifndef MCUGEN_DSP_H
#define MCUGEN_DSP_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define MCUGEN_HAS_DSP 1
#else
#define MCUGEN_HAS_DSP 0
#endif

/* Four consecutive int8 values as one little-endian word, from any address. */
static inline uint32_t mcugen_read_s8x4(const int8_t *p)
{
    uint32_t word;
    memcpy(&word, p, sizeof word);
    return word;
}

#if MCUGEN_HAS_DSP

static inline uint32_t mcugen_sxtb16(uint32_t x) { return (uint32_t)__sxtb16((int32_t)x); }

static inline uint32_t mcugen_sxtb16_ror8(uint32_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    uint32_t halves;  /* one instruction: GCC 12 does not fold a C rotate into SXTB16 (it adds a MOV ROR) */
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(halves) : "r"(x));
    return halves;
#else
    return (uint32_t)__sxtb16((int32_t)((x >> 8) | (x << 24)));
#endif
}

static inline int32_t mcugen_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlad((int32_t)a, (int32_t)b, acc);
}

static inline int32_t mcugen_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlabb((int32_t)a, (int32_t)b, acc);
}

static inline int32_t mcugen_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return __smlatt((int32_t)a, (int32_t)b, acc);
}

static inline int32_t mcugen_ssat8(int32_t x) { return __ssat(x, 8); }

static inline int64_t mcugen_smlald(uint32_t a, uint32_t b, int64_t acc)
{
    return __smlald((int32_t)a, (int32_t)b, acc);
}

#else

static inline int32_t mcugen_s8_of(uint32_t byte) { return (int32_t)(byte & 0xFFu) - (int32_t)((byte & 0x80u) << 1); }
static inline int32_t mcugen_s16_of(uint32_t half) { return (int32_t)(half & 0xFFFFu) - (int32_t)((half & 0x8000u) << 1); }

static inline uint32_t mcugen_sxtb16(uint32_t x)
{
    return ((uint32_t)mcugen_s8_of(x) & 0xFFFFu) | ((uint32_t)mcugen_s8_of(x >> 16) << 16);
}

static inline uint32_t mcugen_sxtb16_ror8(uint32_t x) { return mcugen_sxtb16(x >> 8); }

static inline int32_t mcugen_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + mcugen_s16_of(a) * mcugen_s16_of(b) + mcugen_s16_of(a >> 16) * mcugen_s16_of(b >> 16);
}

static inline int32_t mcugen_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + mcugen_s16_of(a) * mcugen_s16_of(b);
}

static inline int32_t mcugen_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + mcugen_s16_of(a >> 16) * mcugen_s16_of(b >> 16);
}

static inline int32_t mcugen_ssat8(int32_t x) { return x < -128 ? -128 : x > 127 ? 127 : x; }

static inline int64_t mcugen_smlald(uint32_t a, uint32_t b, int64_t acc)
{
    return acc + (int64_t)mcugen_s16_of(a) * mcugen_s16_of(b) + (int64_t)mcugen_s16_of(a >> 16) * mcugen_s16_of(b >> 16);
}

#endif

/* Four int8 MACs of an input word and a weight word (4 int8 each): MCUGEN_SPLIT4_S8 prepares the
 * input word once (DSP: its sign-extended byte pairs), MCUGEN_MAC4_S8 adds the four products to
 * acc (DSP: two SMLADs; portable: four multiplies). */
#if MCUGEN_HAS_DSP
#define MCUGEN_SPLIT4_S8(x, xa, xb) ((xa) = mcugen_sxtb16(x), (xb) = mcugen_sxtb16_ror8(x))
#define MCUGEN_MAC4_S8(acc, xa, xb, w) \
    ((acc) = mcugen_smlad((xb), mcugen_sxtb16_ror8(w), mcugen_smlad((xa), mcugen_sxtb16(w), (acc))))
#else
#define MCUGEN_BYTE_S8(w, k) ((int32_t)(int8_t)((w) >> (8 * (k))))
#define MCUGEN_SPLIT4_S8(x, xa, xb) ((xa) = (x), (xb) = 0)
#define MCUGEN_MAC4_S8(acc, xa, xb, w) \
    ((acc) += MCUGEN_BYTE_S8(w, 0) * MCUGEN_BYTE_S8(xa, 0) + MCUGEN_BYTE_S8(w, 1) * MCUGEN_BYTE_S8(xa, 1) + \
              MCUGEN_BYTE_S8(w, 2) * MCUGEN_BYTE_S8(xa, 2) + MCUGEN_BYTE_S8(w, 3) * MCUGEN_BYTE_S8(xa, 3))
#endif

#endif /* MCUGEN_DSP_H */
