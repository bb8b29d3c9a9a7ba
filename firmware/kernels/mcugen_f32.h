/*
 * mcugen_f32.h — what the float32-activation (weight-only quantized) kernels share.
 *
 * These kernels must be compiled with -ffp-contract=off (gcc and clang): every multiply and every
 * add is rounded to float32 on its own, as the numpy twins in codegen/ (codegen/float32.py and the
 * run_f32 methods of codegen/ops/) compute it. A fused multiply-add would round once and break
 * bit-exactness. The generated CMakeLists.txt, <name>.mk and library.json carry the flag.
 * Only float32 arithmetic and int32 <-> float conversions are used: no libm, no double.
 */
#ifndef MCUGEN_F32_H
#define MCUGEN_F32_H

#include <stdint.h>

#define MCUGEN_F32_MAX 0x1.fffffep+127f /* FLT_MAX: the clamp bound of an unbounded side */

/* The fused activation: y below lo becomes lo, above hi becomes hi (a NaN passes through). */
static inline float mcugen_clamp_f32(float y, float lo, float hi)
{
    return y < lo ? lo : (y > hi ? hi : y);
}

#endif /* MCUGEN_F32_H */
