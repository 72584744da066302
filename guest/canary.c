/* The canary scenario: 4 KiB of a known pattern at a guest-physical address
 * (canary=, default 0x800000) that nothing of the guest touches afterwards,
 * checked on demand (`check` on the console). With the dma scenario in
 * another partition, a boot test sees whether a neighbour's device could
 * write here.
 *
 * The pattern is 256 records of 16 ASCII bytes, record k (0-255) at offset
 * 16k: "CANARY-BLOCK-" then k in two lowercase hex digits, then "\n". */
#include "guest/tg.h"
#include "guest/x86.h"

#define CANARY_BYTES 4096u
#define RECORD       16u
#define LINE_MAX     120

static void record(char *r, unsigned k) { tg_snprintf(r, RECORD + 1, "CANARY-BLOCK-%02x\n", k & 0xff); }

static void fill(volatile uint8_t *p)
{
    char r[RECORD + 1];
    for (unsigned k = 0; k < CANARY_BYTES / RECORD; k++) {
        record(r, k);
        for (unsigned i = 0; i < RECORD; i++)
            p[k * RECORD + i] = (uint8_t)r[i];
    }
}

static void check(const volatile uint8_t *p)
{
    char r[RECORD + 1];
    for (unsigned k = 0; k < CANARY_BYTES / RECORD; k++) {
        record(r, k);
        for (unsigned i = 0; i < RECORD; i++) {
            unsigned off = k * RECORD + i;
            if (p[off] == (uint8_t)r[i])
                continue;
            char hex[64];
            size_t len = 0;
            hex[0] = 0;
            for (unsigned j = off; j < off + 16 && j < CANARY_BYTES; j++)
                len += (size_t)tg_snprintf(hex + len, sizeof(hex) - len, "%s%02x", j > off ? " " : "", p[j]);
            say("canary: changed at offset %u: %s", off, hex);
            return;
        }
    }
    say("canary: intact");
}

void scenario_canary(void)
{
    uint64_t at = tg.opt.canary, end = at + CANARY_BYTES;
    if (end < at || !mem_is_ram(at, CANARY_BYTES)) {
        say("canary: refused: 0x%lx-0x%lx is not in my RAM", at, end);
        for (;;)
            sti_hlt();
    }
    if (at < mem_own_end() && end > mem_own_start()) {
        say("canary: refused: 0x%lx-0x%lx overlaps my own pages 0x%lx-0x%lx", at, end, mem_own_start(),
            mem_own_end());
        for (;;)
            sti_hlt();
    }
    volatile uint8_t *p = phys(at);
    console_input_init();
    fill(p);
    say("canary: %u bytes at 0x%lx filled", CANARY_BYTES, at);
    char line[LINE_MAX];
    for (;;) {
        console_read_line(line, sizeof(line));
        if (streq(line, "check"))
            check(p);
        else
            say("canary: unknown command '%s'", line);
    }
}
