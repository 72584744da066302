/* The Isthmus configuration file (isthmus.toml): its schema and the result of parsing it.
 * docs/configuration.md describes the file for users.
 *
 * The schema is data: each table is a list of key descriptors (name, type, allowed
 * values, where the value goes, a line of help). Adding a key is one descriptor plus
 * one field; adding a table, or an array of tables such as [[partition]], is one
 * struct config_table. The same code runs in the hypervisor and in tools/isthmus-check. */
#ifndef ISTHMUS_KERNEL_CONFIG_H
#define ISTHMUS_KERNEL_CONFIG_H

#include "kernel/lib/types.h"
#include "kernel/core/log.h"
#include "kernel/lib/toml.h"

#define CONFIG_MAX_ERRORS 32
#define CONFIG_MSG_MAX    TOML_MSG_MAX
#define CONFIG_MAX_KEYS   64 /* keys in one table (a bit mask tracks which were seen) */
#define CONFIG_MAX_TABLES 16 /* tables in one schema */

struct config_error {
    u32 line; /* 0: about the whole file */
    char msg[CONFIG_MSG_MAX];
};

struct config_diag {
    u32 nerrors;
    bool more_errors; /* errors beyond CONFIG_MAX_ERRORS were dropped: say so */
    struct config_error err[CONFIG_MAX_ERRORS];
};

#define CONFIG_MAX_PARTITIONS 16
#define CONFIG_MAX_PART_CPUS  64
#define CONFIG_MAX_PART_DEVS  8
#define CONFIG_NAME_MAX       32
#define CONFIG_PATH_MAX       96
#define CONFIG_CMDLINE_MAX    256

#define CONFIG_MAX_TRUNK_VLANS 32

/* A partition's NIC (the nic* keys of [[partition]]): its switch port. Rates
 * are stored in bytes per second (the file gives bits per second), bursts in
 * bytes; 0 means unlimited (rates) or the default (bursts). */
struct config_nic {
    bool enabled; /* nic = true */
    bool mac_set;
    u8 mac[6];
    u8 vlan_mode; /* 0 "access" (default), 1 "trunk" */
    s32 vlan;     /* access VLAN, or a trunk's native VLAN; -1: not given */
    u32 ntrunk;
    u16 trunk[CONFIG_MAX_TRUNK_VLANS]; /* VLANs a trunk carries */
    u64 cir, pir, cbs, pbs;
    bool wc; /* work-conserving (default true) */
    u32 mtu; /* bytes of payload per frame; 0: [network] mtu */
};

/* One [[partition]] table. Checked here for form; whether the machine can hold it
 * (CPUs that exist, free memory) is decided when partitions are created. */
struct config_partition {
    char name[CONFIG_NAME_MAX];     /* letters, digits, '-', '_'; unique */
    u32 ncpus;                      /* how many vCPUs (= pinned physical CPUs) */
    bool cpu_list;                  /* true: cpus[] names the physical CPUs */
    u16 cpus[CONFIG_MAX_PART_CPUS]; /* CPU indices as `cpus` lists them */
    u64 memory;                     /* bytes, a multiple of 2 MiB */
    char kernel[CONFIG_PATH_MAX];   /* PVH ELF image, relative to isthmus.efi's directory */
    char initrd[CONFIG_PATH_MAX];   /* optional module */
    char cmdline[CONFIG_CMDLINE_MAX];
    bool start;   /* state = "running" (default) or "stopped" */
    s32 node;     /* node = N pins it there; -1: any (default) */
    u8 numa;      /* 0 "local" (default): one node; 1 "spread": several */
    s32 priority; /* placed before lower ones (default 0) */
    u32 ndevices;
    u32 devices[CONFIG_MAX_PART_DEVS]; /* PCI functions: seg << 16 | bus << 8 | dev << 3 | fn */
    /* What a device's repeated DMA faults or silence bring (enum
     * config_dev_fault), per entry of devices: one value for all, or a list. */
    u8 device_fault[CONFIG_MAX_PART_DEVS];
    u32 ndevice_fault;      /* entries given as a list; 0: one value for all */
    u32 device_fault_limit; /* DMA faults in one second that count as repeated (default 10) */
    struct config_nic nic;
    u8 paging;         /* enum config_paging */
    u32 shadow_roots;  /* shadow roots cached (default 8; 1: no cache) */
    u32 shadow_tables; /* shadow_memory in 4 KiB pages (0: the default, 16 MiB) */
};

/* device_fault: what happens to an assigned device that keeps faulting or
 * stops answering (docs/configuration.md, "PCI devices"). */
enum config_dev_fault { DEV_FAULT_LOG, DEV_FAULT_RESET, DEV_FAULT_FAIL };

/* How a partition's guest-physical memory is translated (docs/paging.md). */
enum config_paging {
    PAGING_AUTO, /* nested (EPT/NPT) when the CPU has it, else shadow */
    PAGING_NESTED,
    PAGING_SHADOW,
};

#define CONFIG_MAX_GROUPS 8

enum config_failover_mode { FAILOVER_AUTO, FAILOVER_HOT, FAILOVER_COLD };

/* One [[failover]] table: a service kept alive by the heartbeat master
 * (vmm/ha/hb.c). Partition names are resolved to indices once the whole file is
 * read, since the table may come before the partitions it names. */
struct config_failover {
    char name[CONFIG_NAME_MAX];
    char primary_name[CONFIG_NAME_MAX];
    char standby_name[CONFIG_NAME_MAX];   /* "" : no hot standby partition */
    s32 primary, standby;                 /* partition indices; standby -1: none */
    u8 mode;                              /* enum config_failover_mode */
    u32 interval_ms;                      /* agents beat this often (default 100) */
    u32 misses;                           /* missed beats that declare a failure (default 3) */
    u32 grace_ms;                         /* a started partition's first beat is due within this (default 5000) */
    char standby_kernel[CONFIG_PATH_MAX]; /* cold standby image, booted on the failed primary's resources */
    char standby_initrd[CONFIG_PATH_MAX];
    char standby_cmdline[CONFIG_CMDLINE_MAX];
    bool mac_set;
    u8 mac[6]; /* the service's MAC address (default 02:15:7e:ff:00:NN) */
    bool ip_set;
    u8 ip[4]; /* announced in the gratuitous ARP (default 0.0.0.0) */
    s32 vlan; /* the service's VLAN (default: the primary's access VLAN) */
    u32 line; /* of the [[failover]] header, for errors found later */
};

/* [hypervisor] iommu: whether an assigned device needs DMA remapping. */
enum config_iommu { CONFIG_IOMMU_AUTO, CONFIG_IOMMU_REQUIRED, CONFIG_IOMMU_OPTIONAL };

struct isthmus_config {
    /* [hypervisor] */
    enum log_level log_level; /* console log level */
    char console[8];          /* "com1".."com4" or "none" */
    u16 console_port;         /* I/O port of console, 0 for "none" */
    u32 baud;
    bool banner;       /* print the boot banner */
    bool reserve_cpu0; /* CPU 0 runs the shell and management, never a partition */
    enum config_iommu iommu;
    /* [network] */
    u32 mac_age;      /* seconds a learnt MAC address lives without traffic */
    u64 net_capacity; /* bytes/s the switch carries in all (what yellow borrows from); 0 = unlimited */
    u32 net_mtu;      /* the ports' MTU unless a NIC gives its own (default 1500) */
    /* [[partition]] */
    u32 npartitions;
    struct config_partition partition[CONFIG_MAX_PARTITIONS];
    /* [[failover]] */
    u32 ngroups;
    struct config_failover group[CONFIG_MAX_GROUPS];
};

/* ------------------------------------------------------------------ schema */

enum config_key_type {
    CONFIG_BOOL,   /* stored as bool */
    CONFIG_INT,    /* in [min, max], and one of allowed[] if given; stored in size bytes */
    CONFIG_ENUM,   /* a string from choices[]; its index is stored in size bytes */
    CONFIG_STRING, /* stored NUL-terminated in a char[size] */
    CONFIG_CUSTOM, /* parse() checks and stores the raw value (lists, sizes) */
};

struct config_key {
    const char *name;
    enum config_key_type type;
    bool required;
    u16 offset;         /* of the field in the table's object */
    u16 size;           /* of the field */
    s64 min, max;       /* CONFIG_INT */
    const s64 *allowed; /* CONFIG_INT, optional, nallowed values */
    u32 nallowed;
    const char *const *choices; /* CONFIG_ENUM, NULL-terminated */
    /* Optional, replaces the store for keys with derived fields. Called with the
     * validated value: the integer, 0/1, the choice index (and its name), or the string. */
    void (*apply)(void *obj, s64 num, const char *str);
    /* CONFIG_CUSTOM: stores v into obj, or returns < 0 with why (after "key: ") in msg. */
    int (*parse)(void *obj, const struct toml_value *v, char *msg, size_t size);
    const char *help; /* one line, for docs and isthmus-check --keys */
};

struct config_table {
    const char *name; /* [name], or [[name]] when array */
    bool array;
    u32 max_count; /* array: at most this many elements */
    const struct config_key *keys;
    u32 nkeys;
    size_t object_size; /* of what object() returns; checked by config_schema_check */
    /* The object this table's keys fill: for an array, element index (0 for a table).
     * Also where an array records its element count. */
    void *(*object)(void *cfg, u32 index);
    /* Optional: checks across keys of a complete table. On failure returns < 0 with a
     * message in msg (reported at the header's line). */
    int (*finish)(void *cfg, void *obj, char *msg, size_t size);
    /* Optional: told the line of the table's header (for checks made later). */
    void (*at_line)(void *obj, u32 line);
    const char *help;
};

struct config_schema {
    const struct config_table *tables;
    u32 ntables;
    void (*defaults)(void *cfg);
    /* Optional: checks across tables once the whole file is read (names that
     * refer to other tables). Reports each error with report(); stops when it
     * returns false (the error list is full). */
    void (*finish)(void *cfg, bool (*report)(void *ctx, u32 line, const char *msg), void *ctx);
};

extern const struct config_schema config_schema_isthmus;

/* ------------------------------------------------------------------ API */

void config_defaults(struct isthmus_config *cfg);

/* Parses text (not NUL-terminated, len bytes). On any error returns -EINVAL, fills diag
 * (sorted by line), and leaves cfg at defaults (a bad file configures nothing).
 * Needs about 5 KiB of stack; keeps no state between calls. */
int config_parse(const char *text, size_t len, struct isthmus_config *cfg, struct config_diag *diag) __must_check;

/* config_parse() with another schema (tests, and future configuration files). */
int config_parse_schema(const struct config_schema *schema, const char *text, size_t len, void *cfg,
                        struct config_diag *diag) __must_check;

/* Formats diag entry i as "<file>:<line>: <msg>" ("<file>: <msg>" for line 0). */
void config_format_error(const struct config_diag *d, u32 i, const char *file, char *buf, size_t size);

/* "log_level=info console=com1 baud=115200 banner=true" */
void config_summary(const struct isthmus_config *cfg, char *buf, size_t size);

/* Consistency of a schema (offsets, sizes, names, choices). 0, or -EINVAL with why in msg. */
int config_schema_check(const struct config_schema *schema, char *msg, size_t size) __must_check;

#endif
