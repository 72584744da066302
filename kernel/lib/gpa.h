/* Guest-physical addresses as their own type, so that passing one where a
 * host-physical address (hpa_t) or a pointer is expected does not compile. */
#ifndef ISTHMUS_VMM_GPA_H
#define ISTHMUS_VMM_GPA_H

#include "kernel/lib/types.h"

typedef struct {
    u64 v;
} gpa_t;

static inline gpa_t gpa(u64 v) { return (gpa_t){ v }; }
static inline gpa_t gpa_add(gpa_t a, u64 off) { return (gpa_t){ a.v + off }; }

#endif
