/* Shared by the libFuzzer targets in tests/fuzz/: CHECK (a broken invariant names
 * itself, then traps, which libFuzzer reports as a crash and saves the input),
 * little-endian reads of control bytes, and writing seed inputs into a corpus
 * folder (each target does that when its <NAME>_WRITE_SEEDS variable is set). */
#ifndef ISTHMUS_TESTS_FUZZ_FUZZ_H
#define ISTHMUS_TESTS_FUZZ_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c)) {                                                                                                    \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #c);                                  \
            __builtin_trap();                                                                                          \
        }                                                                                                              \
    } while (0)

/* libFuzzer's entry points, which it declares itself. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static inline uint16_t fz_rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t fz_rd32(const uint8_t *p) { return (uint32_t)fz_rd16(p) | (uint32_t)fz_rd16(p + 2) << 16; }
static inline uint64_t fz_rd64(const uint8_t *p) { return (uint64_t)fz_rd32(p) | (uint64_t)fz_rd32(p + 4) << 32; }

/* Whether the string in buf[0..size) is NUL-terminated. */
static inline int fz_terminated(const char *buf, size_t size) { return memchr(buf, 0, size) != NULL; }

/* Writes one seed input as dir/name; any failure stops the program. */
static inline void fz_write_seed(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, len, f) == len && fclose(f) == 0);
}

#endif
