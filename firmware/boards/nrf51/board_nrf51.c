/* nRF51 family support (BBC micro:bit v1): the UART on the pins the board file names, and
 * ticks from TIMER0 at 16 MHz (the nRF51's Cortex-M0 has neither DWT nor SysTick). On the
 * real chip one tick is one CPU cycle at 16 MHz; under QEMU -icount shift=0 it is 62.5
 * instructions. Built for ARMv6-M: QEMU's microbit traps anything newer, which keeps us honest. */
#include <stdint.h>

#include "cortexm.h"
#include "mcugen_board.h"
#include "mcugen_board_api.h"

#define CLOCK_TASKS_HFCLKSTART REG32(0x40000000u)
#define CLOCK_EVENTS_HFCLKSTARTED REG32(0x40000100u)

#define GPIO_OUTSET REG32(0x50000508u)
#define GPIO_DIRSET REG32(0x50000518u)

#define UART_TASKS_STARTRX REG32(BOARD_UART_BASE + 0x000u)
#define UART_TASKS_STARTTX REG32(BOARD_UART_BASE + 0x008u)
#define UART_EVENTS_RXDRDY REG32(BOARD_UART_BASE + 0x108u)
#define UART_EVENTS_TXDRDY REG32(BOARD_UART_BASE + 0x11Cu)
#define UART_ENABLE REG32(BOARD_UART_BASE + 0x500u)
#define UART_PSELTXD REG32(BOARD_UART_BASE + 0x50Cu)
#define UART_PSELRXD REG32(BOARD_UART_BASE + 0x514u)
#define UART_RXD REG32(BOARD_UART_BASE + 0x518u)
#define UART_TXD REG32(BOARD_UART_BASE + 0x51Cu)
#define UART_BAUDRATE REG32(BOARD_UART_BASE + 0x524u)

#define TIMER0_BASE 0x40008000u
#define TIMER0_TASKS_START REG32(TIMER0_BASE + 0x000u)
#define TIMER0_TASKS_STOP REG32(TIMER0_BASE + 0x004u)
#define TIMER0_TASKS_CLEAR REG32(TIMER0_BASE + 0x00Cu)
#define TIMER0_TASKS_CAPTURE0 REG32(TIMER0_BASE + 0x040u)
#define TIMER0_MODE REG32(TIMER0_BASE + 0x504u)
#define TIMER0_BITMODE REG32(TIMER0_BASE + 0x508u)
#define TIMER0_PRESCALER REG32(TIMER0_BASE + 0x510u)
#define TIMER0_CC0 REG32(TIMER0_BASE + 0x540u)

void board_init(void)
{
    /* The crystal gives the UART an accurate baud rate; wait a bounded time (QEMU never reports it). */
    CLOCK_EVENTS_HFCLKSTARTED = 0;
    CLOCK_TASKS_HFCLKSTART = 1;
    for (uint32_t spin = 0; spin < 20000u && !CLOCK_EVENTS_HFCLKSTARTED; spin++) {
    }

    GPIO_OUTSET = 1u << BOARD_UART_TX_PIN; /* idle high before the UART takes the pin */
    GPIO_DIRSET = 1u << BOARD_UART_TX_PIN;
    UART_PSELTXD = BOARD_UART_TX_PIN;
    UART_PSELRXD = BOARD_UART_RX_PIN;
    UART_BAUDRATE = BOARD_UART_BAUDRATE_VALUE;
    UART_ENABLE = 4u;
    UART_EVENTS_RXDRDY = 0;
    UART_EVENTS_TXDRDY = 0;
    UART_TASKS_STARTTX = 1u;
    UART_TASKS_STARTRX = 1u;

    TIMER0_MODE = 0;      /* timer, not counter */
    TIMER0_BITMODE = 3u;  /* 32 bits */
    TIMER0_PRESCALER = 0; /* 16 MHz */
}

int board_uart_read_byte(void)
{
    if (!UART_EVENTS_RXDRDY)
        return -1;
    UART_EVENTS_RXDRDY = 0;
    return (int)(UART_RXD & 0xFFu);
}

void board_uart_write(const uint8_t *data, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        UART_EVENTS_TXDRDY = 0;
        UART_TXD = data[i];
        while (!UART_EVENTS_TXDRDY) {
        }
    }
}

void board_ticks_start(void)
{
    TIMER0_TASKS_STOP = 1u;
    TIMER0_TASKS_CLEAR = 1u;
    TIMER0_TASKS_START = 1u;
}

uint64_t board_ticks_elapsed(void)
{
    TIMER0_TASKS_CAPTURE0 = 1u;
    return TIMER0_CC0;
}

const char *board_tick_unit(void)
{
    return "cycles";
}
