/* The host "board": the firmware as a native program. The serial port is stdin/stdout
 * (mcugen connects them to a pseudo-terminal, or any pipe works); ticks are CLOCK_MONOTONIC
 * nanoseconds. The same runtime and wire protocol as on a microcontroller, so protocol and
 * model bugs show up here first, in milliseconds. */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "mcugen_board_api.h"

static uint64_t started_ns;

static uint64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

void board_init(void)
{
}

int board_uart_read_byte(void)
{
    /* Wait at most 1 ms so the runtime's idle-frame timeout counts milliseconds here. */
    struct pollfd input = {.fd = STDIN_FILENO, .events = POLLIN};
    if (poll(&input, 1, 1) <= 0)
        return -1;
    uint8_t byte;
    ssize_t got = read(STDIN_FILENO, &byte, 1);
    if (got == 1)
        return byte;
    if (got == 0 || (input.revents & (POLLHUP | POLLERR)))
        exit(0); /* the host closed its end: nobody is left to serve */
    return -1;
}

void board_uart_write(const uint8_t *data, uint32_t count)
{
    while (count > 0) {
        ssize_t sent = write(STDOUT_FILENO, data, count);
        if (sent <= 0)
            exit(0);
        data += sent;
        count -= (uint32_t)sent;
    }
}

void board_ticks_start(void)
{
    started_ns = now_ns();
}

uint64_t board_ticks_elapsed(void)
{
    return now_ns() - started_ns;
}

const char *board_tick_unit(void)
{
    return "ns";
}

void board_reset(void)
{
    exit(1);
}
