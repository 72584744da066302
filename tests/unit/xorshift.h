/* The deterministic generator of the randomised unit tests: Marsaglia's
 * xorshift64 (13, 7, 17). Each test keeps its own state, seeded with a fixed
 * non-zero constant, so that a failure reproduces run after run. */
#ifndef ISTHMUS_TESTS_UNIT_XORSHIFT_H
#define ISTHMUS_TESTS_UNIT_XORSHIFT_H

#include "kernel/lib/types.h"

static inline u64 xorshift64(u64 *state)
{
    u64 x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

#endif
