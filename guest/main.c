/* The test guest's main line: read the start info and the command line, find
 * the hypervisor, the vCPUs and the clocks, say hello, run the scenario. */
#include "guest/tg.h"
#include "guest/x86.h"

#define NET_MIN_FRAME 60       /* Ethernet without its FCS */
#define NET_MAX_FRAME 1514

struct tg_state tg;

static void __attribute__((noreturn)) scenario_hello(void) { tick_forever(); }

static void __attribute__((noreturn)) scenario_poweroff(void)
{
    acpi_poweroff();
    halt_forever();
}

static void __attribute__((noreturn)) scenario_burn(void)
{
    say("burn: spinning");
    cli();
    for (;;)
        barrier();
}

static const struct scenario {
    const char *name;
    void (*run)(void);
} scenarios[] = {
    { "hello", scenario_hello },
    { "smp", scenario_smp },
    { "memprobe", scenario_memprobe },
    { "hostile", scenario_hostile },
    { "burn", scenario_burn },
    { "pci", scenario_pci },
    { "net-send", scenario_net_send },
    { "net-recv", scenario_net_recv },
    { "net-watch", scenario_net_watch },
    { "net-corrupt", scenario_net_corrupt },
    { "ha", scenario_ha },
    { "ha-client", scenario_ha_client },
    { "poweroff", scenario_poweroff },
    { "paging", scenario_paging },
    { "abuse", scenario_abuse },
    { "echo", scenario_echo },
    { "dma", scenario_dma },
    { "canary", scenario_canary },
    { "ipiwake", scenario_ipiwake },
};

/* Prints "tg: tick <k>" every tick_ms from the APIC timer's periodic
 * interrupt, sleeping in HLT in between; stops after ticks= ticks if given. */
void tick_forever(void)
{
    uint64_t seen = 0;
    apic_timer_periodic(tg.opt.tick_ms, VEC_TIMER);
    for (;;) {
        cli();
        if (timer_ticks == seen) {
            sti_hlt();
            continue;
        }
        sti();
        uint64_t now = timer_ticks;
        while (seen < now) {
            say("tick %lu", ++seen);
            if (tg.opt.ticks && seen >= tg.opt.ticks) {
                apic_timer_stop();
                say("done after %lu ticks", seen);
                halt_forever();
            }
        }
    }
}

/* Splits the command line in place-independent words: calls f on each. */
static void for_each_word(void (*f)(const char *w, bool first_plain))
{
    char w[TG_CMDLINE_MAX];
    bool seen_plain = false;
    for (const char *p = tg.cmdline; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = 0;
        while (*p && *p != ' ' && *p != '\t')
            w[n++] = *p++;
        w[n] = 0;
        if (!n)
            continue;
        bool plain = true;
        for (size_t i = 0; i < n; i++)
            plain &= w[i] != '=';
        f(w, plain && !seen_plain);
        seen_plain |= plain;
    }
}

static void take_scenario(const char *w, bool first_plain)
{
    if (first_plain)
        copy_str(tg.scenario, w, sizeof(tg.scenario));
}

static void take_option(const char *w, bool first_plain)
{
    const char *eq = w;
    while (*eq && *eq != '=')
        eq++;
    if (!*eq) {
        if (!first_plain)
            say("ignoring extra word '%s' on the command line", w);
        return;
    }
    char key[32];
    copy_str(key, w, (size_t)(eq - w) + 1 < sizeof(key) ? (size_t)(eq - w) + 1 : sizeof(key));
    const char *val = eq + 1;
    uint64_t v;
    bool num = parse_u64(val, &v);
    if (streq(key, "skip")) {
        copy_str(tg.opt.skip, val, sizeof(tg.opt.skip));
        return;
    }
    if (streq(key, "fail")) {
        copy_str(tg.opt.fail, val, sizeof(tg.opt.fail));
        return;
    }
    if (streq(key, "stall")) {
        copy_str(tg.opt.stall, val, sizeof(tg.opt.stall));
        return;
    }
    if (streq(key, "svc")) {
        char m[18];
        for (const char *p = val; *p && tg.opt.nsvc < 4;) {
            size_t n = 0;
            while (p[n] && p[n] != ',')
                n++;
            copy_str(m, p, n + 1 < sizeof(m) ? n + 1 : sizeof(m));
            if (!parse_mac(m, tg.opt.svc[tg.opt.nsvc]))
                say("option svc: '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", m);
            else
                tg.opt.nsvc++;
            p += n + (p[n] == ',');
        }
        return;
    }
    if (streq(key, "dst")) {
        if (!parse_mac(val, tg.opt.dst))
            say("option dst: '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", val);
        return;
    }
    static const char *const numeric[] = { "tick_ms", "ticks", "probe", "timeout_ms", "count", "size", "fail_ms",
                                           "period_us", "seed", "ops", "trace", "stall_ms", "canary", "hold" };
    uint64_t *const field[] = { &tg.opt.tick_ms, &tg.opt.ticks, &tg.opt.probe, &tg.opt.timeout_ms, &tg.opt.count,
                                &tg.opt.size, &tg.opt.fail_ms, &tg.opt.period_us, &tg.opt.seed, &tg.opt.ops,
                                &tg.opt.trace, &tg.opt.stall_ms, &tg.opt.canary, &tg.opt.hold };
    unsigned k = 0;
    while (k < ARRAY_SIZE(numeric) && !streq(key, numeric[k]))
        k++;
    if (k == ARRAY_SIZE(numeric)) {
        /* The paging scenario reads its own (guest/paging.c). */
        if (streq(key, "spaces") || streq(key, "rounds") || streq(key, "pages"))
            return;
        say("unknown option '%s' (known: tick_ms= ticks= probe= timeout_ms= skip= count= size= dst= fail= "
            "fail_ms= svc= period_us= seed= ops= trace= stall_ms= stall= spaces= rounds= pages= canary= hold=)", w);
        return;
    }
    if (!num) {
        say("option '%s': '%s' is not a number", key, val);
        return;
    }
    if (streq(key, "tick_ms") && !v) {
        say("option tick_ms must not be 0");
    } else if (streq(key, "size") && (v < NET_MIN_FRAME || v > NET_MAX_FRAME)) {
        say("option size must be %u..%u", NET_MIN_FRAME, NET_MAX_FRAME);
    } else {
        *field[k] = streq(key, "period_us") && !v ? 1 : v;
        tg.opt.probe_set |= streq(key, "probe");
        tg.opt.seed_set |= streq(key, "seed");
    }
}

static void say_hello(void)
{
    if (tg.isthmus) {
        const struct isthmus_partition_info *i = &tg.info;
        say("hello from %s (partition %u), %u vCPUs, %lu MiB RAM, ABI %u.%u", i->name, i->partition_id,
            i->vcpus, i->memory_bytes / MiB, i->abi >> 16, i->abi & 0xffff);
        if (i->vcpus != tg.ncpus)
            say("warning: the hypervisor says %u vCPUs, the MADT lists %u", i->vcpus, tg.ncpus);
        if (i->vcpu_index != tg.bsp)
            say("warning: the hypervisor says this is vCPU %u, the MADT makes it %u", i->vcpu_index, tg.bsp);
        if (i->memory_bytes != tg.ram_bytes)
            say("warning: the hypervisor says %lu bytes of RAM, the memory map has %lu", i->memory_bytes,
                tg.ram_bytes);
    } else {
        say("hello from unknown (partition -), %u vCPUs, %lu MiB RAM, ABI -", tg.ncpus, tg.ram_bytes / MiB);
    }
    for (unsigned k = 0; k < tg.memmap_n; k++)
        say("memmap 0x%016lx-0x%016lx %u", tg.memmap[k].addr, tg.memmap[k].addr + tg.memmap[k].size,
            tg.memmap[k].type);
    acpi_report();
}

void tg_main(uint32_t start_info);
void tg_main(uint32_t start_info)
{
    tg.boot_tsc = rdtsc();
    trap_init();
    mem_init((const struct hvm_start_info *)(uintptr_t)start_info);

    tg.opt.tick_ms = 1000;
    tg.opt.timeout_ms = 2000;
    tg.opt.count = 100000;
    tg.opt.size = 128;
    tg.opt.fail_ms = 1000;
    tg.opt.period_us = 1000;
    tg.opt.canary = 0x800000;
    memset(tg.opt.dst, 0xff, sizeof(tg.opt.dst));
    copy_str(tg.scenario, "hello", sizeof(tg.scenario));
    for_each_word(take_scenario);
    say("testguest %s scenario %s cmdline '%s'", TG_VERSION, tg.scenario, tg.cmdline);
    const struct scenario *s = NULL;
    for (unsigned i = 0; i < ARRAY_SIZE(scenarios); i++)
        if (streq(tg.scenario, scenarios[i].name))
            s = &scenarios[i];
    if (!s) {
        char names[160];
        size_t len = 0;
        for (unsigned i = 0; i < ARRAY_SIZE(scenarios) && len < sizeof(names); i++)
            len += (size_t)tg_snprintf(names + len, sizeof(names) - len, " %s", scenarios[i].name);
        say("unknown scenario '%s'", tg.scenario);
        say("scenarios:%s; running hello", names);
        s = &scenarios[0];
    }
    for_each_word(take_option);

    hv_detect();
    acpi_scan();
    mem_map_ram();
    apic_enable();
    timing_init();
    say_hello();
    s->run();
    halt_forever();
}
