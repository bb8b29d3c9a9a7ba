/* Start-up shared by every Cortex-M board: the vector table, the reset handler that copies
 * .data from flash and zeroes .bss before main(), and fault handlers that report over the
 * wire and restart instead of hanging. Symbols come from the generated linker script. */
#include <stdint.h>

#include "cortexm.h"
#include "mcugen_board_api.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);
void mcugen_runtime_fault(void);

void Reset_Handler(void);
void Fault_Handler(void);
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
void Default_Handler(void);

void Default_Handler(void)
{
}

void Fault_Handler(void)
{
    mcugen_runtime_fault();
    for (;;) {
    }
}

typedef void (*vector_t)(void);

/* Only the 16 core exceptions: the runtime polls its peripherals, so no IRQ is ever enabled. */
__attribute__((section(".vectors"), used)) static const vector_t vector_table[16] = {
    (vector_t)(uintptr_t)&_estack, /* initial stack pointer */
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    Fault_Handler, /* SecureFault (v8-M) */
    0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    SysTick_Handler,
};

void Reset_Handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata)
        *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
#if defined(__ARM_FP)
    /* The image is built for the hard-float ABI: grant the FPU (CP10, CP11) before any C runs. */
    SCB_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    main();
    for (;;) {
    }
}

int cortexm_dwt_start(void)
{
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__)
    SCB_DEMCR |= DEMCR_TRCENA;
    DWT_LAR = 0xC5ACCE55u;
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
    for (volatile int spin = 0; spin < 4; spin++) {
    }
    return DWT_CYCCNT != 0;
#else
    return 0; /* ARMv6-M (Cortex-M0) has no cycle counter */
#endif
}

void board_reset(void)
{
    __asm__ volatile("dsb" ::: "memory");
    SCB_AIRCR = 0x05FA0004u; /* SYSRESETREQ; QEMU with -no-reboot exits instead */
    for (;;) {
    }
}
