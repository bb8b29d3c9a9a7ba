/* Markers and stack watermark for `mcugen bench` (see mcugen_bench.h). */
#include <stdint.h>

#include "mcugen_bench.h"

#define STACK_PAINT 0xC5C5C5C5u

volatile uint32_t mcugen_stack_peak_bytes;
volatile uint32_t mcugen_stack_invoke_bytes;
static volatile uintptr_t sp_at_invoke;

static inline uintptr_t current_sp(void)
{
#if defined(__arm__)
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
#else
    return 0;
#endif
}

/* noinline plus an asm with a memory clobber: the call stays, the address stays one function entry. */
__attribute__((noinline)) void mcugen_bench_invoke_begin(void)
{
    sp_at_invoke = current_sp();
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void mcugen_bench_invoke_end(void)
{
    __asm__ volatile("" ::: "memory");
}

#if defined(__arm__)
extern uint32_t _estack, _stack_size; /* from the generated linker script; _stack_size is a value */

static uint32_t *stack_bottom(void)
{
    return (uint32_t *)((uintptr_t)&_estack - (uintptr_t)&_stack_size);
}

void mcugen_stack_paint(void)
{
    /* Everything below the stack pointer is free; the loop keeps its state in registers. */
    uint32_t *const limit = (uint32_t *)(current_sp() & ~(uintptr_t)3u);
    for (volatile uint32_t *word = stack_bottom(); word < limit; word++)
        *word = STACK_PAINT;
}

void mcugen_stack_measure(void)
{
    const uint32_t *word = stack_bottom();
    while (word < &_estack && *word == STACK_PAINT)
        word++;
    uintptr_t deepest = (uintptr_t)word;
    mcugen_stack_peak_bytes = (uint32_t)((uintptr_t)&_estack - deepest);
    mcugen_stack_invoke_bytes = sp_at_invoke > deepest ? (uint32_t)(sp_at_invoke - deepest) : 0u;
}
#else
void mcugen_stack_paint(void)
{
}

void mcugen_stack_measure(void)
{
}
#endif
