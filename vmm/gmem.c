/* See gmem.h. */
#include "vmm/gmem.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

int gmem_add(struct gmem *m, hpa_t hpa, u8 *hva, u64 size, s32 node)
{
    if (m->n >= GMEM_MAX_CHUNKS)
        return -ENOSPC;
    if (!size || !hva)
        return -EINVAL;
    m->c[m->n++] = (struct gmem_chunk){ m->size, size, hpa, hva, node };
    m->size += size;
    return 0;
}

const struct gmem_chunk *gmem_chunk_of(const struct gmem *m, u64 g)
{
    for (u32 i = 0; i < m->n; i++)
        if (g >= m->c[i].gpa && g - m->c[i].gpa < m->c[i].size)
            return &m->c[i];
    return NULL;
}

static bool inside(const struct gmem *m, u64 g, u64 len) { return g <= m->size && len <= m->size - g; }

/* Walks [g, g + len) chunk by chunk: fn(chunk pointer, offset into the range, bytes). */
static void walk(const struct gmem *m, u64 g, u64 len, void (*fn)(u8 *at, u64 off, u64 n, void *arg), void *arg)
{
    u64 done = 0;
    while (done < len) {
        const struct gmem_chunk *c = gmem_chunk_of(m, g + done);
        u64 in = g + done - c->gpa;
        u64 n = MIN(len - done, c->size - in);
        fn(c->hva + in, done, n, arg);
        done += n;
    }
}

static void do_read(u8 *at, u64 off, u64 n, void *arg) { memcpy((u8 *)arg + off, at, n); }
static void do_write(u8 *at, u64 off, u64 n, void *arg) { memcpy(at, (const u8 *)arg + off, n); }
static void do_zero(u8 *at, u64 off, u64 n, void *arg)
{
    (void)off;
    (void)arg;
    memset(at, 0, n);
}

int gmem_read(const struct gmem *m, u64 g, void *dst, u64 len)
{
    if (!inside(m, g, len))
        return -ERANGE;
    walk(m, g, len, do_read, dst);
    return 0;
}

int gmem_write(const struct gmem *m, u64 g, const void *src, u64 len)
{
    if (!inside(m, g, len))
        return -ERANGE;
    walk(m, g, len, do_write, (void *)src);
    return 0;
}

int gmem_zero(const struct gmem *m, u64 g, u64 len)
{
    if (!inside(m, g, len))
        return -ERANGE;
    walk(m, g, len, do_zero, NULL);
    return 0;
}

void *gmem_ptr(const struct gmem *m, u64 g, u64 len)
{
    const struct gmem_chunk *c = gmem_chunk_of(m, g);
    if (!c || len > c->size - (g - c->gpa))
        return NULL;
    return c->hva + (g - c->gpa);
}
