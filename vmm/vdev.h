/* The device registry: how emulated devices attach to a partition and claim
 * what its guest does, so that the exit handlers (vmm/exits.c) name no device.
 *
 * A device model is one file in vmm/dev/ (or net/, for the NIC) that defines a
 * struct vdev_type with VDEV_REGISTER(). When a partition starts, the core calls
 * every type's attach() in ascending `order`; attach() looks at the partition's
 * configuration, sets up its per-partition state (kept by the device, indexed by
 * partition id) and claims port-I/O ranges, guest-physical MMIO ranges, MSR
 * ranges and CPUID leaves with vdev_claim_*(). An exit on something claimed
 * goes to the claim's handler; on nothing claimed, the core's default applies
 * (ports read all-ones, MSRs #GP, faults stop the partition, CPUID is the
 * filtered host's). The lifecycle hooks run on CPU 0 except quiesce(), which
 * may also run on a failing vCPU's CPU. docs/architecture.md, "Adding a device".
 *
 * A device may include the VMM core's headers (vmm/), the network (net/),
 * the public header of the bus it sits on (vmm/dev/pcibus.h) and anything
 * below; never another device's internals, vmm/ha/ or the shell. */
#ifndef ISTHMUS_VMM_VDEV_H
#define ISTHMUS_VMM_VDEV_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"

struct partition;
struct vm_vcpu;
struct vcpu_exit;

/* What a handler did with the access. */
enum vdev_result {
    VDEV_DONE,      /* emulated (the handler advanced RIP where it had to: MMIO only) */
    VDEV_UNCLAIMED, /* not this device's after all: the core's default applies */
    VDEV_GP,        /* refused as the hardware would: #GP (MSRs) */
};

/* Port I/O of `size` bytes; *val holds the value written, or receives the value
 * read (the core merges it into RAX). The core advances RIP. */
typedef enum vdev_result (*vdev_pio_fn)(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val);
/* A second-level fault inside the claimed range: the handler decodes and
 * emulates the access and advances RIP, or fails the partition (part_fail). */
typedef enum vdev_result (*vdev_mmio_fn)(struct vm_vcpu *vc, void *dev, const struct vcpu_exit *e);
/* RDMSR (write false: *val receives the value) or WRMSR (*val is the value).
 * The core advances RIP on VDEV_DONE and injects #GP on VDEV_GP. */
typedef enum vdev_result (*vdev_msr_fn)(struct vm_vcpu *vc, void *dev, u32 index, bool write, u64 *val);
/* CPUID: out[] (EAX, EBX, ECX, EDX) holds the core's filtered answer; the
 * handler may change it. */
typedef void (*vdev_cpuid_fn)(struct vm_vcpu *vc, void *dev, u32 leaf, u32 sub, u32 out[4]);

#define VDEV_MAX_PIO   24
#define VDEV_MAX_MMIO  8
#define VDEV_MAX_MSR   32
#define VDEV_MAX_CPUID 4

struct vdev_claim {
    u64 first, last; /* inclusive: ports, guest-physical bytes, MSR indexes or CPUID leaves */
    void *fn;        /* one of the vdev_*_fn types above, by table */
    void *dev;
    const char *owner; /* the vdev_type's name, for `parts -v` and conflicts */
};

/* A partition's claims, rebuilt on every start (before any vCPU runs; only
 * read while vCPUs run, so lookups take no lock). Linear lookups: a partition
 * has a handful of claims, and the common exits (the APIC page, the NIC) are
 * first in their tables. */
struct vdev_table {
    struct vdev_claim pio[VDEV_MAX_PIO], mmio[VDEV_MAX_MMIO], msr[VDEV_MAX_MSR], cpuid[VDEV_MAX_CPUID];
    u32 npio, nmmio, nmsr, ncpuid;
};

/* Claims; -EEXIST when the range overlaps another claim (the message names
 * both owners), -ENOSPC when the table is full, -EINVAL for an empty range. */
int vdev_claim_pio(struct partition *p, u16 first, u16 count, vdev_pio_fn fn, void *dev,
                   const char *owner) __must_check;
int vdev_claim_mmio(struct partition *p, gpa_t first, u64 len, vdev_mmio_fn fn, void *dev,
                    const char *owner) __must_check;
int vdev_claim_msr(struct partition *p, u32 first, u32 last, vdev_msr_fn fn, void *dev, const char *owner) __must_check;
int vdev_claim_cpuid(struct partition *p, u32 first, u32 last, vdev_cpuid_fn fn, void *dev,
                     const char *owner) __must_check;

/* Lookups for the exit handlers: the claim covering the address, or NULL. */
const struct vdev_claim *vdev_find(const struct vdev_claim *tab, u32 n, u64 addr);

/* A device model. Every hook is optional. */
struct vdev_type {
    const char *name;
    int order; /* attach order: lower first (a bus before what sits on it) */
    /* Once at boot, before any setup(). */
    void (*boot)(void);
    /* Once per configured partition at boot, after placement: resources that
     * live as long as the hypervisor (the NIC's switch port). */
    void (*setup)(struct partition *p);
    /* At each start, after the partition's memory and second-level tables
     * exist and before its vCPUs do: set up and claim. 0 (also when the
     * partition has no such device), or a negative error with a message in err:
     * the start fails and detach() is called for every type. */
    int (*attach)(struct partition *p, char *err, size_t errlen);
    /* The vCPUs exist and are about to run: the device may interrupt them. */
    void (*start)(struct partition *p);
    /* The partition failed or is stopping: no more DMA, interrupts or frames
     * from this device, now (memory is still there). Idempotent. */
    void (*quiesce)(struct partition *p);
    /* Its memory is about to be freed: release everything of this run. */
    void (*detach)(struct partition *p);
    /* Per vCPU, before each entry: the TSC deadline of the device's next
     * timed work on this vCPU (0 = none), and that work when due. */
    u64 (*deadline)(struct vm_vcpu *vc);
    void (*poll)(struct vm_vcpu *vc);
    /* Appends what `parts -v` shows of the device; returns the bytes written. */
    size_t (*show)(const struct partition *p, char *buf, size_t len);
    /* Bytes typed at the partition's console (`console NAME`, CPU 0, while
     * it runs): the device that is the console (the UART) takes them and
     * returns how many it kept; it counts those it had to drop. */
    u32 (*input)(struct partition *p, const u8 *buf, u32 n);
};

#define VDEV_CONCAT2(a, b) a##b
#define VDEV_CONCAT(a, b)  VDEV_CONCAT2(a, b)
/* VDEV_REGISTER(vuart, .name = "uart", .order = 10, .attach = ...); one per file. */
#define VDEV_REGISTER(id_, ...)                                                                                        \
    static const struct vdev_type VDEV_CONCAT(vdev_type_, id_)                                                         \
        __attribute__((used, section("vdev_types"), aligned(8))) = { __VA_ARGS__ }

extern const struct vdev_type __start_vdev_types[] __attribute__((visibility("hidden")));
extern const struct vdev_type __stop_vdev_types[] __attribute__((visibility("hidden")));

/* The lifecycle, from the core (vmm/partition.c, vmm/vcpu_run.c). The types
 * come from the linker section unless vdev_use_types() gave others (tests). */
void vdev_use_types(const struct vdev_type *types, u32 n);
void vdev_boot_all(void);
void vdev_setup_all(struct partition *p);
int vdev_attach_all(struct partition *p, char *err, size_t errlen) __must_check;
void vdev_start_all(struct partition *p);
void vdev_quiesce_all(struct partition *p);
void vdev_detach_all(struct partition *p);
u64 vdev_deadline(struct vm_vcpu *vc);
void vdev_poll(struct vm_vcpu *vc);
size_t vdev_show_all(const struct partition *p, char *buf, size_t len);
/* Console input to the first type with an input hook; -ENODEV when none has. */
int vdev_console_input(struct partition *p, const u8 *buf, u32 n) __must_check;

#endif
