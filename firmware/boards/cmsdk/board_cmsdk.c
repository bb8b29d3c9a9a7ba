/* ARM MPS2 / MPS2+ FPGA images (AN385 M3, AN386 M4, AN500 M7, AN505 M33) with a CMSDK UART.
 * Ticks: DWT cycles where the core counts them; otherwise SysTick at the CPU clock, which
 * under QEMU -icount shift=0 (25 MHz, 1 instruction = 1 ns) advances once per 40 instructions,
 * so counts are scaled by BOARD_TICK_SCALE and reported as instructions (resolution 40).
 * SysTick is 24 bits wide: its interrupt counts wraps so long inferences still add up. */
#include <stdint.h>

#include "cortexm.h"
#include "mcugen_board.h"
#include "mcugen_board_api.h"

#define UART_DATA REG32(BOARD_UART_BASE + 0x00u)
#define UART_STATE REG32(BOARD_UART_BASE + 0x04u)
#define UART_CTRL REG32(BOARD_UART_BASE + 0x08u)
#define UART_BAUDDIV REG32(BOARD_UART_BASE + 0x10u)
#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)

#define SYSTICK_RELOAD 0x00FFFFFFu

static int ticks_from_dwt;
static volatile uint32_t systick_wraps;

void SysTick_Handler(void)
{
    systick_wraps++;
}

void board_init(void)
{
    UART_BAUDDIV = BOARD_CLOCK_HZ / BOARD_BAUD; /* ignored by QEMU, needed on the FPGA */
    UART_CTRL = 3u;                             /* TX and RX enable */
    ticks_from_dwt = cortexm_dwt_start();
    SYST_RVR = SYSTICK_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* CPU clock, interrupt on wrap, enable */
}

int board_uart_read_byte(void)
{
    if (UART_STATE & UART_STATE_RXFULL)
        return (int)(UART_DATA & 0xFFu);
    return -1;
}

void board_uart_write(const uint8_t *data, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        while (UART_STATE & UART_STATE_TXFULL) {
        }
        UART_DATA = data[i];
    }
}

void board_ticks_start(void)
{
    if (ticks_from_dwt) {
        DWT_CYCCNT = 0;
        return;
    }
    SYST_CSR = 0;
    SYST_CVR = 0; /* any write reloads; restarting aligns the count to this instant */
    systick_wraps = 0;
    SYST_CSR = 7u;
}

uint64_t board_ticks_elapsed(void)
{
    if (ticks_from_dwt)
        return DWT_CYCCNT;
    uint32_t wraps, current;
    do {
        wraps = systick_wraps;
        current = SYST_CVR;
    } while (wraps != systick_wraps);
    /* After the restart the counter reads 0, then RELOAD, RELOAD-1, ..., 1, 0 (wrap), RELOAD... */
    uint32_t within = (SYSTICK_RELOAD + 1u - current) & SYSTICK_RELOAD;
    uint64_t ticks = (uint64_t)wraps * (SYSTICK_RELOAD + 1u) + within;
    return ticks * BOARD_TICK_SCALE;
}

const char *board_tick_unit(void)
{
    return ticks_from_dwt ? "cycles" : "instructions";
}
