/* The partition's PCI host bridge in AML; see guest_aml.h. A tiny emitter: the
 * encodings of ACPI 6.5 chapter 20 that a declaration-only DSDT needs, and the
 * resource descriptors of chapter 6.4 for a host bridge's _CRS. Encodings are the
 * shortest ones, as iasl emits them, so `iasl -d` and a recompile (with -on, which
 * keeps the root prefix of \_SB) give the same bytes back; the unit test checks
 * that when iasl is installed.
 *
 * What is left out on purpose:
 *  - _CID: PNP0A03 in _HID is what the OS matches; a _CID naming the same ID
 *    adds nothing. PNP0A08 (PCI Express) is not claimed: it promises extended
 *    configuration space through ECAM (an MCFG table), and the virtual bus is
 *    reached only through ports 0xCF8/0xCFC.
 *  - _PRT (6.2.13): it maps INTx pins to interrupt inputs, and the virtual bus
 *    delivers no INTx (Interrupt Pin reads 0); devices interrupt through MSI only.
 *  - _OSC (6.2.11): it hands native control of PCIe hotplug, PME, AER and the
 *    PCIe capability to the OS. None of those is emulated, and Linux treats _OSC
 *    as optional on a PNP0A03 bridge: it then only keeps ASPM off.
 *  - _STA: absent means present and enabled (6.3.7).
 *  - _PXM: the bridge is not tied to a node; a partition's devices may sit on any. */
#include "vmm/guest_aml.h"
#include "arch/x86/hw/pc.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

/* ---------------------------------------------------------------- AML opcodes */

/* 20.2.3 Data objects, 20.2.5 Term objects. */
enum {
    AML_ZERO_OP = 0x00,
    AML_ONE_OP = 0x01,
    AML_NAME_OP = 0x08, /* 20.2.5.1 DefName := NameOp NameString DataRefObject */
    AML_BYTE_PREFIX = 0x0a,
    AML_WORD_PREFIX = 0x0b,
    AML_DWORD_PREFIX = 0x0c,
    AML_QWORD_PREFIX = 0x0e,
    AML_SCOPE_OP = 0x10,  /* 20.2.5.1 DefScope := ScopeOp PkgLength NameString TermList */
    AML_BUFFER_OP = 0x11, /* 20.2.5.4 DefBuffer := BufferOp PkgLength BufferSize ByteList */
    AML_EXT_OP_PREFIX = 0x5b,
};
/* After AML_EXT_OP_PREFIX (20.2.5.2): DefDevice := DeviceOp PkgLength NameString TermList */
#define AML_X_DEVICE_OP 0x82

/* 20.2.4 PkgLength: one byte holds up to 63; otherwise bits 7:6 of the lead byte
 * count the bytes that follow (1 to 3), its bits 3:0 are the low nibble and each
 * following byte the next 8 bits. The length counts the PkgLength itself. */
#define PKG_1BYTE_MAX   0x3fu
#define PKG_MAX         0x0fffffffu
#define PKG_COUNT_SHIFT 6

/* 20.2.2 NameString: RootChar then one 4-character NameSeg. */
#define NS_SB      "\\_SB_"
#define NS_PCI0    "PCI0"
#define NS_COM1    "COM1"
#define NS_RTC     "RTC_"
#define ISA_IRQS   16
#define UART_PORTS PC_UART_PORTS
#define RTC_PORTS  PC_RTC_PORTS

/* ---------------------------------------------------------------- resource descriptors */

/* 6.4.2 Small resource: tag bit 7 clear, item name in bits 6:3, length in 2:0.
 * 6.4.3 Large resource: tag bit 7 set, item name in bits 6:0, then a 16-bit length
 * of what follows the 3-byte header. */
#define RES_SMALL_TAG(name, len) ((u8)((name) << 3 | (len)))
#define RES_SMALL_IRQ            0x04 /* 6.4.2.1 IRQ Descriptor (with its information byte) */
#define RES_SMALL_IO             0x08 /* 6.4.2.5 I/O Port Descriptor */
#define RES_SMALL_END            0x0f /* 6.4.2.9 End Tag */
#define RES_LARGE                0x80
#define RES_LARGE_DWORD          0x07 /* 6.4.3.5.2 DWord Address Space */
#define RES_LARGE_WORD           0x08 /* 6.4.3.5.3 Word Address Space */
#define RES_LARGE_QWORD          0x0a /* 6.4.3.5.1 QWord Address Space */
#define RES_LARGE_HDR            3

/* IRQ Descriptor information byte: _HE bit 0 (1 edge, 0 level), _LL bit 3
 * (1 active low), _SHR bit 4. Clear: level, active high, exclusive. */
#define RES_IRQ_EDGE BIT(0)

struct res_irq { /* 6.4.2.1, the 3-byte form */
    u8 tag;
    u16 mask; /* bit n: IRQ n */
    u8 info;
} __packed;
STATIC_ASSERT(sizeof(struct res_irq) == 4, "IRQ descriptor with information byte");

/* I/O Port Descriptor information byte. */
#define RES_IO_DECODE16 BIT(0) /* decodes all 16 address bits */

/* Address space descriptors: resource type (byte 3). */
#define RES_TYPE_MEMORY      0
#define RES_TYPE_IO          1
#define RES_TYPE_BUS         2
/* General flags (byte 4). Bit 0 is "ignored" in Word/DWord/QWord descriptors since
 * ACPI 3.0; iasl still puts ResourceUsage there (1 = ResourceConsumer), so it stays
 * 0, ResourceProducer, which is what a bridge window is. Bit 1 clear: positive
 * decode. */
#define RES_GF_CONSUMER      BIT(0)
#define RES_GF_SUB_DECODE    BIT(1) /* _DEC */
#define RES_GF_MIN_FIXED     BIT(2) /* _MIF */
#define RES_GF_MAX_FIXED     BIT(3) /* _MAF */
#define RES_GF_WINDOW        (RES_GF_MIN_FIXED | RES_GF_MAX_FIXED)
/* Type-specific flags (byte 5), 6.4.3.5.5. Memory: _RW bit 0, _MEM bits 2:1 (0
 * non-cacheable, 1 cacheable, 2 write-combining, 3 prefetchable), _MTP bits 4:3
 * (0 AddressRangeMemory), _TTP bit 5. I/O: _RNG bits 1:0, _TTP bit 4, _TRS bit 5. */
#define RES_MEM_RW           BIT(0)
#define RES_MEM_NONCACHEABLE 0
#define RES_MEM_WINDOW       (RES_MEM_RW | RES_MEM_NONCACHEABLE)
#define RES_IO_RNG_ENTIRE    3 /* ISA and non-ISA ranges */

/* Windows of fixed size and place: _MIF = _MAF = 1, _LEN = _MAX - _MIN + 1 and
 * _GRA = 0 (6.4.3.5, valid combinations of the address space fields). Translation
 * offset 0: guest addresses are bus addresses. */

struct res_io_port { /* 6.4.2.5 */
    u8 tag;
    u8 info;
    u16 min, max;
    u8 align, len;
} __packed;
STATIC_ASSERT(sizeof(struct res_io_port) == 8, "I/O port descriptor");
STATIC_ASSERT(offsetof(struct res_io_port, max) == 4, "_MAX at byte 4");
STATIC_ASSERT(offsetof(struct res_io_port, len) == 7, "_LEN at byte 7");

struct res_end_tag { /* 6.4.2.9 */
    u8 tag;
    u8 checksum; /* 0: treated as a good checksum */
} __packed;
STATIC_ASSERT(sizeof(struct res_end_tag) == 2, "end tag");

/* Bytes 0-5 of every address space descriptor. */
struct res_addr_head {
    u8 tag;
    u16 length;
    u8 type;  /* RES_TYPE_* */
    u8 flags; /* RES_GF_* */
    u8 type_flags;
} __packed;
STATIC_ASSERT(sizeof(struct res_addr_head) == 6, "address space descriptor header");

struct res_word_addr { /* 6.4.3.5.3 */
    struct res_addr_head h;
    u16 gra, min, max, tra, len;
} __packed;
STATIC_ASSERT(sizeof(struct res_word_addr) == 16, "Word address space descriptor");
STATIC_ASSERT(offsetof(struct res_word_addr, gra) == 6, "_GRA at byte 6");
STATIC_ASSERT(offsetof(struct res_word_addr, len) == 14, "_LEN at byte 14");

struct res_dword_addr { /* 6.4.3.5.2 */
    struct res_addr_head h;
    u32 gra, min, max, tra, len;
} __packed;
STATIC_ASSERT(sizeof(struct res_dword_addr) == 26, "DWord address space descriptor");
STATIC_ASSERT(offsetof(struct res_dword_addr, min) == 10, "_MIN at byte 10");
STATIC_ASSERT(offsetof(struct res_dword_addr, len) == 22, "_LEN at byte 22");

struct res_qword_addr { /* 6.4.3.5.1 */
    struct res_addr_head h;
    u64 gra, min, max, tra, len;
} __packed;
STATIC_ASSERT(sizeof(struct res_qword_addr) == 46, "QWord address space descriptor");
STATIC_ASSERT(offsetof(struct res_qword_addr, min) == 14, "_MIN at byte 14");
STATIC_ASSERT(offsetof(struct res_qword_addr, len) == 38, "_LEN at byte 38");

/* The _CRS at its largest: bus numbers, config ports, two I/O windows, both
 * memory windows, end tag. */
#define CRS_MAX                                                                                                        \
    (sizeof(struct res_word_addr) * 3 + sizeof(struct res_io_port) + sizeof(struct res_dword_addr) +                   \
     sizeof(struct res_qword_addr) + sizeof(struct res_end_tag))

/* PCI configuration mechanism #1 (vmm/dev/vpci.h): the bridge's own ports, not
 * forwarded to PCI, hence the gap between the two I/O windows. Linux on x86
 * expects exactly this descriptor and drops it from the root bus's windows. */
#define PCI_CONF1_PORT  0xcf8
#define PCI_CONF1_PORTS 8
#define IO_SPACE_END    0xffff

/* ---------------------------------------------------------------- output */

/* Writes past `size` are counted, not stored, so len ends as the length needed. */
struct aml_out {
    u8 *buf;
    u32 size, len;
    bool full;
};

static void put(struct aml_out *o, const void *p, u32 n)
{
    if (!o->full && n <= o->size - o->len)
        memcpy(o->buf + o->len, p, n);
    else
        o->full = true;
    o->len += n;
}

static void put8(struct aml_out *o, u8 v) { put(o, &v, 1); }

static void put_name(struct aml_out *o, const char *s) { put(o, s, (u32)strlen(s)); }

/* Opens a package: one byte is kept for its PkgLength; pkg_close() widens it. */
static u32 pkg_open(struct aml_out *o)
{
    u32 at = o->len;
    put8(o, 0);
    return at;
}

static void pkg_close(struct aml_out *o, u32 at)
{
    u32 body = o->len - at - 1, n = 1;
    while (n < 4 && body + n > (n == 1 ? PKG_1BYTE_MAX : (1u << (4 + 8 * (n - 1))) - 1))
        n++;
    u32 v = body + n; /* tiny here: never near PKG_MAX */
    if (!o->full && n - 1 <= o->size - o->len) {
        memmove(o->buf + at + n, o->buf + at + 1, body);
        if (n == 1) {
            o->buf[at] = (u8)v;
        } else {
            o->buf[at] = (u8)((n - 1) << PKG_COUNT_SHIFT | (v & 0xf));
            for (u32 i = 1; i < n; i++)
                o->buf[at + i] = (u8)(v >> (4 + 8 * (i - 1)));
        }
    } else {
        o->full = true;
    }
    o->len += n - 1;
}

/* 20.2.3 ComputationalData: the shortest integer encoding. */
static void put_int(struct aml_out *o, u64 v)
{
    if (v == 0) {
        put8(o, AML_ZERO_OP);
    } else if (v == 1) {
        put8(o, AML_ONE_OP);
    } else if (v <= 0xff) {
        put8(o, AML_BYTE_PREFIX);
        put8(o, (u8)v);
    } else if (v <= 0xffff) {
        u16 w = (u16)v;
        put8(o, AML_WORD_PREFIX);
        put(o, &w, sizeof(w));
    } else if (v <= 0xffffffffu) {
        u32 d = (u32)v;
        put8(o, AML_DWORD_PREFIX);
        put(o, &d, sizeof(d));
    } else {
        put8(o, AML_QWORD_PREFIX);
        put(o, &v, sizeof(v));
    }
}

/* ASL EisaId() (19.6.35, format in 6.1.5): three letters of 5 bits each (A = 1)
 * and four hex digits, stored big-endian in a DWord. id is a valid 7-character
 * literal of this file. */
static u32 eisaid(const char *id)
{
    u32 v = 0;
    for (int i = 0; i < 3; i++)
        v = v << 5 | ((u32)id[i] - '@');
    for (int i = 3; i < 7; i++)
        v = v << 4 | (u32)(id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10);
    return __builtin_bswap32(v); /* 31 bits: bit 31 (reserved) stays 0 */
}

/* Name(seg, integer) */
static void name_int(struct aml_out *o, const char *seg, u64 v)
{
    put8(o, AML_NAME_OP);
    put_name(o, seg);
    put_int(o, v);
}

/* Scope (\_SB) { Device (name) { ...: opens both packages; sb_device_close()
 * closes them. at[0] is the scope's PkgLength, at[1] the device's. */
static void sb_device_open(struct aml_out *o, const char *name, u32 at[2])
{
    put8(o, AML_SCOPE_OP);
    at[0] = pkg_open(o);
    put_name(o, NS_SB);
    put8(o, AML_EXT_OP_PREFIX);
    put8(o, AML_X_DEVICE_OP);
    at[1] = pkg_open(o);
    put_name(o, name);
}

static void sb_device_close(struct aml_out *o, const u32 at[2])
{
    pkg_close(o, at[1]);
    pkg_close(o, at[0]);
}

/* Name (_CRS, Buffer () { crs }) */
static void name_crs(struct aml_out *o, const u8 *crs, u32 crs_len)
{
    put8(o, AML_NAME_OP);
    put_name(o, "_CRS");
    put8(o, AML_BUFFER_OP);
    u32 b = pkg_open(o);
    put_int(o, crs_len);
    put(o, crs, crs_len);
    pkg_close(o, b);
}

/* ---------------------------------------------------------------- _CRS */

/* A fixed-size, fixed-place bridge window (see RES_GF_WINDOW). */
static struct res_addr_head addr_head(u8 item, u32 size, u8 type, u8 type_flags)
{
    struct res_addr_head h = {
        .tag = RES_LARGE | item,
        .length = (u16)(size - RES_LARGE_HDR),
        .type = type,
        .flags = RES_GF_WINDOW,
        .type_flags = type_flags,
    };
    return h;
}

/* A fixed window [min, max] as a Word address space descriptor. */
static void res_word(struct aml_out *o, u8 type, u8 tflags, u16 min, u16 max)
{
    struct res_word_addr d = {
        .h = addr_head(RES_LARGE_WORD, sizeof(d), type, tflags),
        .min = min,
        .max = max,
        .len = (u16)(max - min + 1), /* callers keep it < 0x10000 */
    };
    put(o, &d, sizeof(d));
}

/* [base, end) with end - base < 4 GiB and end <= 4 GiB. */
static void res_dword_mem(struct aml_out *o, u64 base, u64 end)
{
    struct res_dword_addr d = {
        .h = addr_head(RES_LARGE_DWORD, sizeof(d), RES_TYPE_MEMORY, RES_MEM_WINDOW),
        .min = (u32)base,
        .max = (u32)(end - 1),
        .len = (u32)(end - base),
    };
    put(o, &d, sizeof(d));
}

static void res_qword_mem(struct aml_out *o, u64 base, u64 end)
{
    struct res_qword_addr d = {
        .h = addr_head(RES_LARGE_QWORD, sizeof(d), RES_TYPE_MEMORY, RES_MEM_WINDOW),
        .min = base,
        .max = end - 1,
        .len = end - base,
    };
    put(o, &d, sizeof(d));
}

/* The resource template (6.2.2 _CRS, 6.4.1): the bus number range, the
 * configuration ports, then the windows forwarded to PCI. Memory windows are
 * non-cacheable: they hold device registers (BARs are mapped UC), and a
 * prefetchable window would keep Linux from placing non-prefetchable BARs in it. */
static u32 build_crs(u8 crs[CRS_MAX], const struct guest_aml_pci *cfg)
{
    struct aml_out o = { .buf = crs, .size = CRS_MAX };

    res_word(&o, RES_TYPE_BUS, 0, 0, 0); /* bus 0 only (vmm/dev/vpci.h) */

    struct res_io_port io = {
        .tag = RES_SMALL_TAG(RES_SMALL_IO, sizeof(struct res_io_port) - 1),
        .info = RES_IO_DECODE16,
        .min = PCI_CONF1_PORT,
        .max = PCI_CONF1_PORT,
        .align = 1,
        .len = PCI_CONF1_PORTS,
    };
    put(&o, &io, sizeof(io));

    res_word(&o, RES_TYPE_IO, RES_IO_RNG_ENTIRE, 0, PCI_CONF1_PORT - 1);
    res_word(&o, RES_TYPE_IO, RES_IO_RNG_ENTIRE, PCI_CONF1_PORT + PCI_CONF1_PORTS, IO_SPACE_END);
    res_dword_mem(&o, cfg->mmio32_base, cfg->mmio32_end);
    if (cfg->mmio64_end > cfg->mmio64_base)
        res_qword_mem(&o, cfg->mmio64_base, cfg->mmio64_end);

    struct res_end_tag end = {
        .tag = RES_SMALL_TAG(RES_SMALL_END, sizeof(struct res_end_tag) - 1),
        .checksum = 0,
    };
    put(&o, &end, sizeof(end));
    return o.len; /* CRS_MAX covers every case: never full */
}

/* ---------------------------------------------------------------- API */

static bool cfg_valid(const struct guest_aml_pci *c)
{
    if (c->mmio32_base >= c->mmio32_end || c->mmio32_end > GiB(4) || c->mmio32_end - c->mmio32_base > 0xffffffffu)
        return false;
    return c->mmio64_end <= c->mmio64_base || c->mmio64_base >= GiB(4);
}

int guest_aml_pci_root(u8 *buf, u32 size, const struct guest_aml_pci *cfg, u32 *len)
{
    if (!cfg || !len || (!buf && size))
        return -EINVAL;
    *len = 0;
    if (!cfg_valid(cfg))
        return -EINVAL;

    u8 crs[CRS_MAX];
    u32 crs_len = build_crs(crs, cfg);

    struct aml_out o = { .buf = buf, .size = size };
    u32 at[2];
    sb_device_open(&o, NS_PCI0, at);
    name_int(&o, "_HID", eisaid("PNP0A03")); /* 6.1.5; PCI host bridge */
    name_int(&o, "_UID", 0);                 /* 6.1.12: the only one */
    name_int(&o, "_SEG", 0);                 /* 6.5.6: segment group 0 */
    name_int(&o, "_BBN", 0);                 /* 6.5.5: its bus is bus 0 */
    name_crs(&o, crs, crs_len);
    sb_device_close(&o, at);

    *len = o.len;
    return o.full ? -ENOSPC : 0;
}

int guest_aml_s5(u8 *buf, u32 size, u8 slp_typ, u32 *len)
{
    /* NameOp \_S5_ PackageOp PkgLength(9) NumElements(4)
     * BytePrefix typ, BytePrefix typ, ZeroOp, ZeroOp (20.2.5.1, 20.2.5.4). */
    const u8 aml[GUEST_AML_S5_LEN] = { 0x08, '\\', '_',     'S',  '5',     '_',  0x12, 0x08,
                                       0x04, 0x0a, slp_typ, 0x0a, slp_typ, 0x00, 0x00 };
    if (!len || (!buf && size))
        return -EINVAL;
    *len = sizeof(aml);
    if (size < sizeof(aml))
        return -ENOSPC;
    memcpy(buf, aml, sizeof(aml));
    return 0;
}

/* IO (Decode16, port, port, 1, count) */
static struct res_io_port io_ports(u16 port, u8 count)
{
    const struct res_io_port io = {
        .tag = RES_SMALL_TAG(RES_SMALL_IO, sizeof(struct res_io_port) - 1),
        .info = RES_IO_DECODE16,
        .min = port,
        .max = port,
        .align = 1,
        .len = count,
    };
    return io;
}

static const struct res_end_tag end_tag = { .tag = RES_SMALL_TAG(RES_SMALL_END, sizeof(struct res_end_tag) - 1) };

int guest_aml_com1(u8 *buf, u32 size, u16 port, u8 irq, bool level, u32 *len)
{
    if (!len || (!buf && size))
        return -EINVAL;
    *len = 0;
    if (irq >= ISA_IRQS || (u32)port + UART_PORTS - 1 > IO_SPACE_END)
        return -EINVAL;
    const struct res_io_port io = io_ports(port, UART_PORTS);
    const struct res_irq ir = {
        .tag = RES_SMALL_TAG(RES_SMALL_IRQ, sizeof(struct res_irq) - 1),
        .mask = (u16)BIT(irq),
        .info = level ? 0 : RES_IRQ_EDGE,
    };
    u8 crs[sizeof(io) + sizeof(ir) + sizeof(end_tag)];
    memcpy(crs, &io, sizeof(io));
    memcpy(crs + sizeof(io), &ir, sizeof(ir));
    memcpy(crs + sizeof(io) + sizeof(ir), &end_tag, sizeof(end_tag));
    struct aml_out o = { .buf = buf, .size = size };
    u32 at[2];
    sb_device_open(&o, NS_COM1, at);
    name_int(&o, "_HID", eisaid("PNP0501")); /* 16550A-compatible serial port */
    name_int(&o, "_UID", 1);
    name_crs(&o, crs, sizeof(crs));
    sb_device_close(&o, at);
    *len = o.len;
    return o.full ? -ENOSPC : 0;
}

int guest_aml_rtc(u8 *buf, u32 size, u16 port, u32 *len)
{
    if (!len || (!buf && size))
        return -EINVAL;
    *len = 0;
    if ((u32)port + RTC_PORTS - 1 > IO_SPACE_END)
        return -EINVAL;
    const struct res_io_port io = io_ports(port, RTC_PORTS);
    u8 crs[sizeof(io) + sizeof(end_tag)];
    memcpy(crs, &io, sizeof(io));
    memcpy(crs + sizeof(io), &end_tag, sizeof(end_tag));
    struct aml_out o = { .buf = buf, .size = size };
    u32 at[2];
    sb_device_open(&o, NS_RTC, at);
    name_int(&o, "_HID", eisaid("PNP0B00")); /* AT real-time clock */
    name_crs(&o, crs, sizeof(crs));
    sb_device_close(&o, at);
    *len = o.len;
    return o.full ? -ENOSPC : 0;
}
