/* The few things the runtime needs from a board: a byte-wide serial port, a tick counter
 * and a reset. Each firmware/boards/<family>/ folder implements exactly these, nothing more,
 * so porting mcugen to new silicon means writing this file's functions for it. */
#ifndef MCUGEN_BOARD_API_H
#define MCUGEN_BOARD_API_H

#include <stdint.h>

/* Clocks, pins and the serial port, ready for board_uart_*. Called once, first thing. */
void board_init(void);

/* One received byte (0..255), or -1 when none is waiting. Never blocks for long. */
int board_uart_read_byte(void);

/* Send bytes; returns when the last one is handed to the hardware. */
void board_uart_write(const uint8_t *data, uint32_t count);

/* Restart the tick counter at zero, then read how many ticks passed since. Restarting right
 * before each inference makes the count independent of how long the host took to talk. */
void board_ticks_start(void);
uint64_t board_ticks_elapsed(void);

/* What one tick is: "instructions", "cycles" or "ns". May be decided at run time (the STM32
 * port uses DWT cycles on silicon and falls back to TIM2 in QEMU, which lacks DWT). */
const char *board_tick_unit(void);

/* Restart the chip (or end the process on the host): used after a fault. */
void board_reset(void);

#endif
