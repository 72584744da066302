/* Isthmus test guest: state shared by its parts and their interfaces.
 *
 * The guest runs identity-mapped (virtual = guest-physical) in long mode at
 * CPL 0; one BSP thread of control plus, in the smp scenario, secondary vCPUs
 * that report in and park. */
#ifndef TG_H
#define TG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/hypercall_abi.h"
#include "vmm/pvh.h"

#define TG_VERSION   "1.0"
#define TG_MAX_CPUS  255     /* xAPIC IDs 0-254; 0xff is the broadcast address */
#define TG_MEMMAP_MAX 64
#define TG_CMDLINE_MAX 512
#define TG_STACK_SIZE 16384
#define KiB 1024ul
#define MiB (1024ul * KiB)
#define GiB (1024ul * MiB)

#define ALIGN_UP(x, a)   (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define ARRAY_SIZE(a)    (sizeof(a) / sizeof((a)[0]))

/* Interrupt vectors the guest programs (exceptions are 0-31). */
#define VEC_TIMER    0x30
#define VEC_HOSTILE  0x40    /* the fixed IPI the hostile scenario sends */
#define VEC_MSI      0x50    /* the pci scenario's device MSI */
#define VEC_NET      0x51    /* virtio-net: receive queue (MSI-X entry 1) */
#define VEC_NET_TX   0x52    /* virtio-net: transmit queue (MSI-X entry 2) */
#define VEC_NET_CFG  0x53    /* virtio-net: configuration change (MSI-X entry 0) */
#define VEC_MSIX0    0x54    /* the pci scenario's device MSI-X entry 0 */
#define VEC_MSIX1    0x55    /* and its entry 1 */
#define VEC_UART     0x34    /* echo: COM1's receive and transmit interrupts, through the I/O APIC */
#define VEC_ABUSE    0x60    /* 0x60-0x6f: what the abuse scenario sends itself, counted */
#define VEC_IPIWAKE  0x41    /* the ipiwake scenario's IPI, counted */
#define VEC_SPURIOUS 0xff

/* A pointer to guest-physical address a (the guest is identity-mapped). The
 * empty asm hides the constant from GCC, which otherwise objects to
 * dereferencing small literal addresses such as the BIOS data area. */
static inline void *phys(uint64_t a)
{
    __asm__("" : "+r"(a));
    return (void *)(uintptr_t)a;
}

struct tg_options {
    uint64_t tick_ms;        /* tick_ms=  period of "tg: tick" lines */
    uint64_t ticks;          /* ticks=    stop after this many ticks, 0 = never */
    uint64_t probe;          /* probe=    memprobe's address outside guest RAM */
    bool probe_set;
    uint64_t timeout_ms;     /* timeout_ms= how long smp waits for secondaries */
    char skip[64];           /* skip=     hostile steps to leave out (io,msr,ipi,hc,tf) */
    uint64_t count;          /* count=    net: frames to send / to receive */
    uint64_t size;           /* size=     net: frame bytes (Ethernet header included) */
    uint8_t dst[6];          /* dst=      net: destination MAC */
    char fail[16];           /* fail=     ha: how the primary fails: stop, hang, crash, shutdown (default none) */
    uint64_t fail_ms;        /* fail_ms=  ha: that long after it became primary */
    uint8_t svc[4][6];       /* svc=      ha-client: the services' MACs, comma-separated */
    unsigned nsvc;
    uint64_t period_us;      /* period_us= ha-client: one request to each service this often */
    uint64_t seed;           /* seed=     abuse: the PRNG's seed (default: from the TSC) */
    bool seed_set;
    uint64_t ops;            /* ops=      abuse: operations in all, 0 = forever */
    uint64_t trace;          /* trace=    abuse: 1 prints every operation before it is tried */
    uint64_t stall_ms;       /* stall_ms= net-recv: stop refilling this long after the first frame */
    char stall[8];           /* stall=    net-recv: then halt (default) or spin */
    uint64_t canary;         /* canary=   canary: where its 4 KiB go (default 0x800000) */
    uint64_t hold;           /* hold=     pci: 1 leaves each device decoding its BARs at the end */
};

struct tg_cpu {
    uint32_t apic_id;
    volatile uint32_t arrived;  /* times this vCPU reached ap_main (smp) */
    volatile uint32_t online;   /* set once it has said so */
};

struct tg_state {
    char cmdline[TG_CMDLINE_MAX];
    char scenario[32];
    struct tg_options opt;

    struct hvm_memmap_table_entry memmap[TG_MEMMAP_MAX];
    unsigned memmap_n;
    uint64_t ram_bytes;         /* sum of the RAM ranges */
    uint64_t ram_end;           /* end of the highest RAM range */
    uint64_t rsdp;

    struct tg_cpu cpus[TG_MAX_CPUS];   /* enabled local APICs in MADT order */
    unsigned ncpus;
    unsigned bsp;               /* index of the boot vCPU in cpus[] */

    bool isthmus;
    bool use_vmmcall;           /* AMD: VMMCALL, Intel: VMCALL */
    struct isthmus_partition_info info __attribute__((aligned(8)));   /* the hypervisor may insist */

    /* From the MADT: the first I/O APIC, and ISA IRQ 4's override if any. */
    uint32_t ioapic_addr;       /* 0: none listed */
    uint32_t ioapic_gsi_base;
    bool com1_iso;
    uint32_t com1_gsi;
    uint16_t com1_flags;        /* MPS INTI flags */

    uint64_t boot_tsc;          /* the TSC when tg_main started */
    uint64_t tsc_khz;
    uint64_t apic_khz;          /* local APIC timer input clock, before its divider */
};

extern struct tg_state tg;

/* lib.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
bool streq(const char *a, const char *b);
void copy_str(char *d, const char *s, size_t n);   /* always NUL-terminates */
int tg_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int tg_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool parse_u64(const char *s, uint64_t *out);
bool parse_mac(const char *s, uint8_t mac[6]);     /* aa:bb:cc:dd:ee:ff */

/* console.c: every line goes out as "tg: <text>\n", whole, under one lock. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void say_from_trap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vsay(const char *fmt, va_list ap);
void console_lock(void);
void console_unlock(void);
/* Polled console input (dma, canary): init turns the FIFOs on and starts the
 * APIC timer (VEC_TIMER, every 10 ms); read_line sleeps in HLT until a line
 * (ended by CR or LF; empty lines and control characters dropped, the rest
 * of a line longer than size - 1 too) has come, NUL-terminated. */
void console_input_init(void);
size_t console_read_line(char *buf, size_t size);

/* trap.c */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;   /* pushed by the CPU */
};
void trap_init(void);          /* builds the IDT and loads it on this vCPU */
void trap_load(void);          /* loads the IDT on a secondary vCPU */
void triple_fault(void);       /* an empty IDT and INT3: the vCPU shuts down (returns only if it survives) */
extern volatile uint64_t timer_ticks;
extern volatile uint32_t hostile_ipis;
extern volatile bool gp_recover;     /* hostile: #GP on RDMSR/WRMSR skips it */
extern volatile uint32_t gp_count;
extern volatile uint64_t gp_error;
extern volatile uint64_t net_rx_irqs, net_tx_irqs, net_cfg_irqs;
extern volatile uint64_t abuse_irqs;
/* When set, sees every exception (vectors 0-31) first; true: handled, the
 * (possibly changed) frame is resumed. The paging scenario's #PF recovery. */
extern bool (*volatile exception_hook)(struct trap_frame *f);
void __attribute__((noreturn)) halt_forever(void);

/* hv.c */
void hv_detect(void);
int64_t hypercall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4);

/* acpi.c */
void acpi_scan(void);
void acpi_report(void);
void acpi_poweroff(void);      /* returns only when it could not power off */
uint16_t acpi_sleep_port(void); /* the FADT's sleep control port, 0 if none */

/* apic.c */
#define APIC_BASE 0xfee00000ull
uint32_t apic_id(void);
void apic_enable(void);
void apic_eoi(void);
void timing_init(void);
uint64_t tsc_after_ms(uint64_t ms);
bool tsc_passed(uint64_t deadline);
void delay_us(uint64_t us);
uint64_t ms_since_boot(void);
void apic_timer_periodic(uint64_t ms, uint8_t vector);
void apic_timer_stop(void);
bool apic_send_ipi(uint32_t dest, uint32_t icr_low);
int cpu_index_of(uint32_t apic_id);
#define ICR_FIXED    0x00000000u
#define ICR_INIT     0x00000500u
#define ICR_STARTUP  0x00000600u
#define ICR_ASSERT   0x00004000u

/* mem.c */
void mem_init(const struct hvm_start_info *si);
void mem_map_ram(void);                        /* RAM above 4 GiB, after acpi_scan() */
void mem_map(uint64_t addr, uint64_t len);     /* identity-map, 2 MiB pages */
void *mem_alloc(uint64_t bytes);               /* page-aligned, zeroed, never freed */
uint64_t mem_own_start(void);
uint64_t mem_own_end(void);                    /* everything the guest uses so far */
bool mem_is_ram(uint64_t addr, uint64_t len);

/* smp.c: smp_start() starts the other vCPUs and returns how many are online;
 * each secondary then runs ap_work (if set) with its index, or parks. */
void scenario_smp(void);
unsigned smp_start(void);
extern void (*volatile ap_work)(unsigned cpu);
void ap_main(uint32_t slot);

/* main.c */
void __attribute__((noreturn)) tick_forever(void);

/* memprobe.c, hostile.c, paging.c */
void __attribute__((noreturn)) scenario_memprobe(void);
void __attribute__((noreturn)) scenario_hostile(void);
void __attribute__((noreturn)) scenario_paging(void);

/* pci.c */
extern volatile uint32_t msi_count;
extern volatile uint32_t msix_count[2];      /* by MSI-X entry */
void __attribute__((noreturn)) scenario_pci(void);

/* net.c, net_corrupt.c */
void __attribute__((noreturn)) scenario_net_send(void);
void __attribute__((noreturn)) scenario_net_recv(void);
void __attribute__((noreturn)) scenario_net_watch(void);
void __attribute__((noreturn)) scenario_net_corrupt(void);
void __attribute__((noreturn)) scenario_abuse(void);
void __attribute__((noreturn)) scenario_echo(void);
void echo_irq(void);           /* echo.c: the COM1 interrupt */
void __attribute__((noreturn)) scenario_ha(void);
void __attribute__((noreturn)) scenario_ha_client(void);

/* dma.c: DMA through QEMU's edu device; canary.c: a pattern others must not touch. */
void __attribute__((noreturn)) scenario_dma(void);
void __attribute__((noreturn)) scenario_canary(void);
void scenario_ipiwake(void);
extern volatile uint64_t ipiwake_irqs;

#endif
