/* ACPI 6.5 §7.4.2 (\_S5), §4.8.3.2 (PM1 control: SLP_TYP bits 12:10, SLP_EN bit 13),
 * §4.8.3.7 (hardware-reduced sleep control: SLP_TYP 4:2, SLP_EN 5), §4.8.3.6 (reset register). */
#include "drivers/power.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/paging.h"
#include "kernel/core/console.h"
#include "kernel/core/log.h"
#include "kernel/core/time.h"

static struct power_facts facts;
static bool have_facts;

void power_init(const struct power_facts *f)
{
    if (f) {
        facts = *f;
        have_facts = true;
    }
}

static bool reg_write(const struct power_reg *r, u32 v)
{
    if (!r->addr)
        return false;
    if (r->space == 1) {
        if (r->addr > 0xffff)
            return false;
        u16 port = (u16)r->addr;
        if (r->width_bits == 8)
            outb(port, (u8)v);
        else if (r->width_bits == 32)
            outl(port, v);
        else
            outw(port, (u16)v);
        return true;
    }
    if (r->space == 0) {
        if (paging_map(ALIGN_DOWN(r->addr, PAGE_SIZE), PAGE_SIZE, MAP_WRITE | MAP_UC) < 0)
            return false;
        if (r->width_bits == 8)
            *(volatile u8 *)hpa_to_ptr(r->addr) = (u8)v;
        else if (r->width_bits == 32)
            *(volatile u32 *)hpa_to_ptr(r->addr) = v;
        else
            *(volatile u16 *)hpa_to_ptr(r->addr) = (u16)v;
        return true;
    }
    return false;
}

const char *power_off_method(void)
{
    if (!have_facts || !facts.have_s5)
        return "none (no ACPI \\_S5)";
    return facts.hw_reduced ? "ACPI sleep control register (S5)" : "ACPI PM1 control (S5)";
}

const char *power_reset_method(void)
{
    return have_facts && facts.reset_supported && facts.reset_reg.addr
               ? "ACPI reset register, then port 0xCF9, keyboard controller, triple fault"
               : "port 0xCF9, then keyboard controller, triple fault";
}

void power_off(void)
{
    if (!have_facts || !facts.have_s5) {
        con_printf("poweroff: this machine's ACPI tables give no S5 sleep type; cannot power off\n");
        return;
    }
    con_printf("powering off\n");
    time_delay_us(20000); /* let the UART drain */
    irq_disable();
    bool wrote;
    if (facts.hw_reduced) {
        wrote = reg_write(&facts.sleep_control, ((facts.slp_typ_a & 7u) << 2) | BIT(5));
    } else {
        wrote = reg_write(&facts.pm1a_cnt, ((facts.slp_typ_a & 7u) << 10) | BIT(13));
        reg_write(&facts.pm1b_cnt, ((facts.slp_typ_b & 7u) << 10) | BIT(13));
    }
    time_delay_us(1000000);
    irq_enable();
    con_printf("poweroff: %s\n",
               wrote ? "the machine is still running after the S5 request" : "no usable PM1 control register");
}

void power_reset(void)
{
    con_printf("rebooting\n");
    time_delay_us(20000);
    irq_disable();
    if (have_facts && facts.reset_supported && reg_write(&facts.reset_reg, facts.reset_value))
        time_delay_us(500000);
    /* PIIX/ICH reset control register: system reset, then full reset. */
    outb(0xcf9, 0x02);
    io_delay();
    outb(0xcf9, 0x06);
    time_delay_us(500000);
    /* 8042 keyboard controller pulse on the reset line. */
    for (int i = 0; i < 100000 && (inb(0x64) & 0x02); i++)
        cpu_relax();
    outb(0x64, 0xfe);
    time_delay_us(500000);
    /* Last resort: a triple fault through an empty IDT. */
    struct {
        u16 limit;
        u64 base;
    } __packed empty = { 0, 0 };
    __asm__ volatile("lidt %0; int3" : : "m"(empty));
    irq_enable();
    con_printf("reboot: the machine did not reset\n");
}
