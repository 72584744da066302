/* HPET description table (IA-PC HPET Specification 1.0a, 3.2.4). */
#include "drivers/acpi/internal.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

#define HPET_ID_NUM_TIM_SHIFT 8       /* bits 12:8: number of comparators - 1 */
#define HPET_ID_COUNT_SIZE    BIT(13) /* main counter is 64 bits wide */
#define HPET_ID_LEGACY_ROUTE  BIT(15) /* legacy replacement routing capable */

int acpi_parse_hpet(const void *tbl, u32 len, struct acpi_info *out)
{
    const struct acpi_hpet *t = tbl;
    struct acpi_hpet_info *h = &out->hpet;

    memset(h, 0, sizeof(*h));
    out->have_hpet = false;
    if (len < sizeof(*t)) {
        log_warn(ACPI_TAG, "HPET: length %u is shorter than 56: skipped", len);
        return -EINVAL;
    }
    if (t->base.space_id != ACPI_SPACE_MEMORY || t->base.address == 0) {
        log_warn(ACPI_TAG,
                 "HPET: base register is in address space %u at %#llx, not in "
                 "system memory: skipped",
                 t->base.space_id, (unsigned long long)t->base.address);
        return -EINVAL;
    }
    h->base = t->base.address;
    h->block_id = t->event_timer_block_id;
    h->vendor_id = (u16)(h->block_id >> 16);
    h->comparators = (u8)(((h->block_id >> HPET_ID_NUM_TIM_SHIFT) & 0x1f) + 1);
    h->counter_64bit = (h->block_id & HPET_ID_COUNT_SIZE) != 0;
    h->legacy_replacement = (h->block_id & HPET_ID_LEGACY_ROUTE) != 0;
    h->number = t->hpet_number;
    h->min_tick = t->min_tick;
    out->have_hpet = true;
    return 0;
}
