/* The few C library functions generated code and GCC may call, for bare-metal builds
 * linked without a libc (-nostdlib). Byte loops: small, obviously correct, and only used for
 * buffer set-up, never in the inner loops of kernels. The optimize attribute stops GCC from
 * recognising these loops as memcpy/memset and turning them into calls to themselves. */
#include <stddef.h>
#include <stdint.h>

#define NOT_A_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

NOT_A_LIBCALL void *memcpy(void *dest, const void *src, size_t n)
{
    uint8_t *d = (uint8_t *)dest;
    const uint8_t *s = (const uint8_t *)src;
    while (n--)
        *d++ = *s++;
    return dest;
}

NOT_A_LIBCALL void *memmove(void *dest, const void *src, size_t n)
{
    uint8_t *d = (uint8_t *)dest;
    const uint8_t *s = (const uint8_t *)src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dest;
}

NOT_A_LIBCALL void *memset(void *dest, int value, size_t n)
{
    uint8_t *d = (uint8_t *)dest;
    while (n--)
        *d++ = (uint8_t)value;
    return dest;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* GCC turns counting loops into strlen calls, so the runtime needs one too. */
NOT_A_LIBCALL size_t strlen(const char *text)
{
    size_t n = 0;
    while (text[n] != '\0')
        n++;
    return n;
}
