/* See console_ring.h. */
#include "vmm/console_ring.h"
#include "kernel/lib/string.h"

STATIC_ASSERT((CONSOLE_RING_SIZE & (CONSOLE_RING_SIZE - 1)) == 0, "ring size is a power of two");

void console_ring_init(struct console_ring *r) { r->written = 0; }

void console_ring_put(struct console_ring *r, const u8 *p, size_t n)
{
    u64 w = r->written;
    /* Only the last CONSOLE_RING_SIZE bytes can survive anyway. */
    if (n > CONSOLE_RING_SIZE) {
        w += n - CONSOLE_RING_SIZE;
        p += n - CONSOLE_RING_SIZE;
        n = CONSOLE_RING_SIZE;
    }
    for (size_t i = 0; i < n; i++)
        r->buf[(w + i) & (CONSOLE_RING_SIZE - 1)] = p[i];
    __atomic_store_n(&r->written, w + n, __ATOMIC_RELEASE);
}

size_t console_ring_read(const struct console_ring *r, u64 *cursor, u8 *out, size_t cap, u64 *lost)
{
    u64 w = __atomic_load_n(&r->written, __ATOMIC_ACQUIRE);
    u64 c = *cursor;
    *lost = 0;
    if (c > w)
        c = w; /* a cursor from the future (ring re-initialised): start over at the end */
    if (w - c > CONSOLE_RING_SIZE) {
        *lost = w - CONSOLE_RING_SIZE - c;
        c = w - CONSOLE_RING_SIZE;
    }
    size_t n = (size_t)MIN((u64)cap, w - c);
    for (size_t i = 0; i < n; i++)
        out[i] = r->buf[(c + i) & (CONSOLE_RING_SIZE - 1)];
    /* The writer may have lapped us while we copied: count those bytes as lost. */
    u64 w2 = __atomic_load_n(&r->written, __ATOMIC_ACQUIRE);
    if (w2 - c > CONSOLE_RING_SIZE) {
        u64 over = w2 - c - CONSOLE_RING_SIZE;
        *lost += MIN(over, (u64)n);
    }
    *cursor = c + n;
    return n;
}
