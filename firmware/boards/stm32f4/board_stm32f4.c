/* STM32F4 family support (F405, F446, ...): the USART chosen by the board file, with its GPIO
 * pins switched to their alternate function and a real baud divisor, on the 16 MHz HSI the
 * chip boots on; ticks from DWT cycles, or from TIM2 where DWT does not count (QEMU's
 * netduinoplus2, whose TIM2 advances once per instruction under -icount shift=0).
 * QEMU ignores RCC and GPIO writes, a real chip needs them: keep both working. */
#include <stdint.h>

#include "cortexm.h"
#include "mcugen_board.h"
#include "mcugen_board_api.h"

#define RCC_BASE 0x40023800u
#define RCC_AHB1ENR REG32(RCC_BASE + 0x30u)
#define RCC_APB1ENR REG32(RCC_BASE + 0x40u)
#define RCC_UART_ENR REG32(RCC_BASE + BOARD_UART_RCC_ENR_OFFSET)

#define GPIO_MODER REG32(BOARD_GPIO_BASE + 0x00u)
#define GPIO_OSPEEDR REG32(BOARD_GPIO_BASE + 0x08u)
#define GPIO_PUPDR REG32(BOARD_GPIO_BASE + 0x0Cu)
#define GPIO_AFR(pin) REG32(BOARD_GPIO_BASE + 0x20u + 4u * ((pin) / 8u))

#define USART_SR REG32(BOARD_UART_BASE + 0x00u)
#define USART_DR REG32(BOARD_UART_BASE + 0x04u)
#define USART_BRR REG32(BOARD_UART_BASE + 0x08u)
#define USART_CR1 REG32(BOARD_UART_BASE + 0x0Cu)
#define USART_SR_TXE (1u << 7)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_ORE (1u << 3)
#define USART_CR1_UE (1u << 13)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RE (1u << 2)

#define TIM2_BASE 0x40000000u
#define TIM2_CR1 REG32(TIM2_BASE + 0x00u)
#define TIM2_EGR REG32(TIM2_BASE + 0x14u)
#define TIM2_CNT REG32(TIM2_BASE + 0x24u)
#define TIM2_PSC REG32(TIM2_BASE + 0x28u)
#define TIM2_ARR REG32(TIM2_BASE + 0x2Cu)

static int ticks_from_dwt;

static void pin_to_alternate_function(uint32_t pin, uint32_t function)
{
    GPIO_MODER = (GPIO_MODER & ~(3u << (2u * pin))) | (2u << (2u * pin));
    GPIO_OSPEEDR |= 2u << (2u * pin); /* fast edges for 115200 baud and up */
    GPIO_AFR(pin) = (GPIO_AFR(pin) & ~(0xFu << (4u * (pin % 8u)))) | (function << (4u * (pin % 8u)));
}

void board_init(void)
{
    RCC_AHB1ENR |= 1u << BOARD_GPIO_RCC_ENR_BIT;
    RCC_UART_ENR |= 1u << BOARD_UART_RCC_ENR_BIT;
    RCC_APB1ENR |= 1u << 0; /* TIM2 */
    (void)RCC_UART_ENR;     /* the reference manual asks for a read-back delay after enabling */

    pin_to_alternate_function(BOARD_UART_TX_PIN, BOARD_UART_PIN_AF);
    pin_to_alternate_function(BOARD_UART_RX_PIN, BOARD_UART_PIN_AF);
    GPIO_PUPDR = (GPIO_PUPDR & ~(3u << (2u * BOARD_UART_RX_PIN))) | (1u << (2u * BOARD_UART_RX_PIN));

    /* 16x oversampling: BRR = f_uart / baud, rounded (0x8B at 16 MHz, 115200 baud: 0.08 % off). */
    USART_BRR = (BOARD_UART_CLOCK_HZ + BOARD_BAUD / 2u) / BOARD_BAUD;
    USART_CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE;

    ticks_from_dwt = cortexm_dwt_start();
    TIM2_PSC = 0;
    TIM2_ARR = 0xFFFFFFFFu;
    TIM2_EGR = 1u; /* load the prescaler now */
    TIM2_CR1 = 1u;
}

int board_uart_read_byte(void)
{
    if (USART_SR & (USART_SR_RXNE | USART_SR_ORE))
        return (int)(USART_DR & 0xFFu); /* reading DR also clears an overrun */
    return -1;
}

void board_uart_write(const uint8_t *data, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        while (!(USART_SR & USART_SR_TXE)) {
        }
        USART_DR = data[i];
    }
}

void board_ticks_start(void)
{
    if (ticks_from_dwt)
        DWT_CYCCNT = 0;
    else
        TIM2_CNT = 0;
}

uint64_t board_ticks_elapsed(void)
{
    return ticks_from_dwt ? DWT_CYCCNT : TIM2_CNT;
}

const char *board_tick_unit(void)
{
    /* TIM2 runs at 1 GHz of QEMU virtual time, i.e. once per instruction under -icount shift=0. */
    return ticks_from_dwt ? "cycles" : "instructions";
}
