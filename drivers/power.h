/* Machine power-off and reset through ACPI, with the legacy fallbacks. */
#ifndef ISTHMUS_DRIVERS_POWER_H
#define ISTHMUS_DRIVERS_POWER_H

#include "kernel/lib/types.h"

/* ACPI Generic Address Structure, reduced to what power control needs. */
struct power_reg {
    u8 space;      /* 0 system memory, 1 system I/O; anything else unsupported */
    u8 width_bits; /* access width: 8, 16 or 32 */
    u64 addr;
};

struct power_facts {
    bool have_s5;
    u8 slp_typ_a, slp_typ_b; /* from \_S5 */
    struct power_reg pm1a_cnt, pm1b_cnt;
    bool hw_reduced;
    struct power_reg sleep_control;
    bool reset_supported; /* FADT RESET_REG_SUP */
    struct power_reg reset_reg;
    u8 reset_value;
};

void power_init(const struct power_facts *f);
/* Each returns only when every method failed, with a message already printed. */
void power_off(void);
void power_reset(void);
const char *power_off_method(void);
const char *power_reset_method(void);

#endif
