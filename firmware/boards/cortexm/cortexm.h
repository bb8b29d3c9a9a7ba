/* Core registers every Cortex-M shares (System Control Block, SysTick, DWT), declared by
 * address so no CMSIS headers are needed. */
#ifndef MCUGEN_CORTEXM_H
#define MCUGEN_CORTEXM_H

#include <stdint.h>

#define REG32(address) (*(volatile uint32_t *)(address))

#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_AIRCR REG32(0xE000ED0Cu)
#define SCB_DEMCR REG32(0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)

#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)

#define DWT_CTRL REG32(0xE0001000u)
#define DWT_CYCCNT REG32(0xE0001004u)
#define DWT_LAR REG32(0xE0001FB0u) /* Cortex-M7 locks the DWT until this is written */

/* Start the DWT cycle counter; returns 1 when it really counts (QEMU leaves it at 0). */
int cortexm_dwt_start(void);

#endif
