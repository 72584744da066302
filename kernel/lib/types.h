/* Fixed-width types, address types and small helpers shared by every part of Isthmus.
 * This header builds both freestanding (the hypervisor) and hosted (unit tests, tools). */
#ifndef ISTHMUS_KERNEL_TYPES_H
#define ISTHMUS_KERNEL_TYPES_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdarg.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

/* Host-physical address. The hypervisor identity-maps host RAM, so an hpa_t
 * converts to a pointer with hpa_to_ptr(); guest-physical addresses (gpa_t,
 * vmm/) are a distinct struct type so the two can never be mixed silently. */
typedef u64 hpa_t;

#define BIT(n)           (1ULL << (n))
#define ARRAY_SIZE(a)    (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)   (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define IS_ALIGNED(x, a) (((x) & ((a)-1)) == 0)
#define MIN(a, b)        ((a) < (b) ? (a) : (b))
#define MAX(a, b)        ((a) > (b) ? (a) : (b))

#define PAGE_SHIFT 12
#define PAGE_SIZE  4096ULL
#define KiB(x)     ((u64)(x) << 10)
#define MiB(x)     ((u64)(x) << 20)
#define GiB(x)     ((u64)(x) << 30)

#define __packed        __attribute__((packed))
#define __aligned(n)    __attribute__((aligned(n)))
#define __noreturn      __attribute__((noreturn))
#define __must_check    __attribute__((warn_unused_result))
#define __printf(a, b)  __attribute__((format(printf, a, b)))
#define __unused        __attribute__((unused))
#define __inline_always inline __attribute__((always_inline))
#define likely(x)       __builtin_expect(!!(x), 1)
#define unlikely(x)     __builtin_expect(!!(x), 0)

#define STATIC_ASSERT(c, msg) _Static_assert(c, msg)

static inline void *hpa_to_ptr(hpa_t pa) { return (void *)(uintptr_t)pa; }
static inline hpa_t ptr_to_hpa(const void *p) { return (hpa_t)(uintptr_t)p; }

#endif
