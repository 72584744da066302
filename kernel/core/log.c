/* The log: fixed-size records in a ring (oldest overwritten), printed on the
 * console when at or above the console level. Timestamps are TSC readings
 * turned into seconds since boot with the calibrated TSC frequency. */
#include "kernel/core/log.h"
#include "kernel/core/console.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/spinlock.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"
#include "arch/x86/hw/cpu.h"

#define LOG_RECORDS 512
/* Room for the longest messages (a partition's start line with three memory
 * ranges); anything longer ends in "..." rather than being cut silently. */
#define LOG_TEXT    256

struct log_record {
    u64 tsc;
    u8 level;
    u8 cpu;
    char tag[8];
    char text[LOG_TEXT];
};

static struct log_record ring[LOG_RECORDS];
static u64 log_head; /* records ever written */
static spinlock_t log_lock = SPINLOCK_INIT;
static enum log_level console_level = LOG_INFO;
static u64 dropped_console;

void log_set_console_level(enum log_level lvl) { console_level = lvl; }
enum log_level log_get_console_level(void) { return console_level; }

static int format_record(const struct log_record *r, char *buf, size_t size)
{
    u64 us = time_tsc_to_us(r->tsc);
    static const char *const upper[] = { "ERROR", "WARN", "INFO", "DEBUG" };
    return ksnprintf(buf, size, "[%5llu.%06llu] %-5s %-7s %s\n", (unsigned long long)(us / 1000000),
                     (unsigned long long)(us % 1000000), r->level < 4 ? upper[r->level] : "?", r->tag, r->text);
}

void log_vmsg(enum log_level lvl, const char *tag, const char *fmt, va_list ap)
{
    struct log_record rec;
    rec.tsc = rdtsc();
    rec.level = (u8)lvl;
    rec.cpu = 0;
    kstrlcpy(rec.tag, tag ? tag : "?", sizeof(rec.tag));
    int n = kvsnprintf(rec.text, sizeof(rec.text), fmt, ap);
    if (n >= (int)sizeof(rec.text))
        kstrlcpy(rec.text + sizeof(rec.text) - 4, "...", 4);

    u64 f = irq_save();
    spin_lock(&log_lock);
    ring[log_head % LOG_RECORDS] = rec;
    log_head++;
    spin_unlock(&log_lock);
    irq_restore(f);

    if (lvl <= console_level) {
        char line[LOG_TEXT + 48];
        int len = format_record(&rec, line, sizeof(line));
        if (len > 0)
            con_write_above(line, MIN((size_t)len, sizeof(line) - 1));
        else
            dropped_console++;
    }
}

void log_msg(enum log_level lvl, const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, tag, fmt, ap);
    va_end(ap);
}

void log_dump(enum log_level max_level, u32 last)
{
    u64 f = irq_save();
    spin_lock(&log_lock);
    u64 head = log_head;
    spin_unlock(&log_lock);
    irq_restore(f);
    u64 first = head > LOG_RECORDS ? head - LOG_RECORDS : 0;
    if (last && head - first > last)
        first = head - last;
    if (head > LOG_RECORDS && first == head - LOG_RECORDS)
        con_printf("(%llu older records were overwritten)\n", (unsigned long long)(head - LOG_RECORDS));
    for (u64 i = first; i < head; i++) {
        struct log_record r;
        f = irq_save();
        spin_lock(&log_lock);
        /* A record may have been overwritten while we printed: skip it. */
        bool gone = log_head - i > LOG_RECORDS;
        r = ring[i % LOG_RECORDS];
        spin_unlock(&log_lock);
        irq_restore(f);
        if (gone || r.level > max_level)
            continue;
        char line[LOG_TEXT + 48];
        int n = format_record(&r, line, sizeof(line));
        if (n > 0)
            con_write(line, MIN((size_t)n, sizeof(line) - 1));
    }
}

u64 log_records_written(void) { return log_head; }
