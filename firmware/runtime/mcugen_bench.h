/* Hooks for `mcugen bench`: marker functions around the model's invoke and a stack watermark.
 *
 * The markers do nothing; they exist so that their addresses (read from the ELF with nm) are
 * reached exactly once before and once after each inference. A QEMU plugin records the running
 * instruction count there (and at every entry of the layer hook), which gives exact
 * instructions per inference and per layer on any emulated board. They cost four instructions
 * (two calls, two returns) inside the ticked region, plus a store of the stack pointer.
 *
 * The stack watermark paints the unused part of the stack with a pattern before an inference
 * and, after it, finds the lowest word that changed: the deepest the stack went. */
#ifndef MCUGEN_BENCH_H
#define MCUGEN_BENCH_H

#include <stdint.h>

void mcugen_bench_invoke_begin(void);
void mcugen_bench_invoke_end(void);

/* Fill the stack below the caller's frame with the pattern (no-op where there is no linker stack). */
void mcugen_stack_paint(void);
/* Scan for the deepest word the last inference wrote; sets the two globals below. */
void mcugen_stack_measure(void);

/* Bytes of stack in use at the deepest point since the last paint (from the top of the stack),
 * and of that the part below the stack pointer at mcugen_bench_invoke_begin (the model's own).
 * 0 when not measured; the whole reserved size when the paint was overwritten to the bottom. */
extern volatile uint32_t mcugen_stack_peak_bytes;
extern volatile uint32_t mcugen_stack_invoke_bytes;

#endif
