"""Partitions on both backends: the test guest's scenarios in isolated partitions.

One boot per backend (module-scoped, parametrised: test IDs end in [svm] or [vmx])
runs six partitions on a 7-CPU machine, the shell keeping CPU 0:
  ticker  hello, 1 vCPU       duo    smp, 2 vCPUs
  probe   memprobe            evil   hostile (with a NIC on its bus)
  burner  burn (starts stopped)
and the tests look at them through the shell: parts, vcpus, console, part, mem."""
import os
import re
import time

import pytest

from conftest import BACKENDS, backend_boot, backend_module_boot, fact_line, line_with, lines_with, make_esp
import bochs
import qemu

CONFIG = """[hypervisor]
log_level = "info"

[[partition]]
name = "ticker"
cpus = [1]
memory = "16M"
kernel = "testguest.elf"
cmdline = "hello tick_ms=100"

[[partition]]
name = "duo"
cpus = [2, 3]
memory = "16M"
kernel = "testguest.elf"
cmdline = "smp tick_ms=100"

[[partition]]
name = "probe"
cpus = [4]
memory = "16M"
kernel = "testguest.elf"
cmdline = "memprobe"

[[partition]]
name = "evil"
cpus = [5]
memory = "16M"
kernel = "testguest.elf"
cmdline = "hostile"
nic = true

[[partition]]
name = "burner"
cpus = [6]
memory = "16M"
kernel = "testguest.elf"
cmdline = "burn"
state = "stopped"
"""

VIOLATION = {"svm": "NPT", "vmx": "EPT"}
NO_NUMA = "vmx: Bochs has no NUMA topology (no SRAT); use ISTHMUS_ACCEL=kvm for NUMA on VT-x"


def has_numa(backend):
    """Whether the backend's machine has the q35 profile's two NUMA nodes: QEMU
    does (TCG for svm, KVM for vmx with ISTHMUS_ACCEL=kvm), Bochs does not."""
    return backend == "svm" or os.environ.get("ISTHMUS_ACCEL") == "kvm"


hv = backend_module_boot(CONFIG, "partitions", "pc-7cpu")


def console(hv, name):
    """Attaches to a partition's console, takes what it holds, detaches."""
    hv.send_raw(f"console {name}\r")
    hv.expect(fact_line("console:", "attached", name, "Ctrl-]").pattern + r"\n")
    hv.send_raw("\x1d")
    text = hv.expect(fact_line("console:", "detached", name))
    hv.expect_prompt()
    return text


def vcpu_dump(hv, name):
    """`vcpus NAME` twice, a second apart (where each vCPU last exited, its
    APIC): for the message of a test that gave up waiting on a guest."""
    try:
        first = hv.cmd(f"vcpus {name}", timeout=20)
        time.sleep(1)
        return f"vcpus {name}:\n{first}\n1 s later:\n{hv.cmd(f'vcpus {name}', timeout=20)}"
    except Exception as e:  # the shell itself may be what hangs
        return f"vcpus {name}: no answer ({e!r})"


def wait_for(hv, name, pattern, timeout=120):
    """Polls the console of `name` until `pattern` (a regex string, searched
    with re.M, or a compiled regex such as fact_line(...)) matches in it:
    returns the console text and the match."""
    deadline = time.time() + timeout
    while True:
        text = console(hv, name)
        m = pattern.search(text) if isinstance(pattern, re.Pattern) else re.search(pattern, text, re.M)
        if m:
            return text, m
        if time.time() > deadline:
            pytest.fail(f"{name}: no {pattern!r} within {timeout} s; console:\n{text}\n{vcpu_dump(hv, name)}")
        time.sleep(1)


def parts(hv):
    rows = {}
    out = hv.cmd("parts")
    for line in out.splitlines():
        m = re.match(r"^(\S+)\s+(running|stopped|stopping|failed|refused)\s+(\d+)\s+(\S+)\s+(\d+) MiB\s+(-?\d+)\s+(\d+)",
                     line)
        if m:
            rows[m.group(1)] = {"state": m.group(2), "vcpus": int(m.group(3)), "cpus": m.group(4),
                                "exits": int(m.group(7))}
        m = re.match(r"^  reason: (.*)", line)
        if m and rows:
            rows[list(rows)[-1]]["reason"] = m.group(1)
    return rows, out


def wait_state(hv, name, state, timeout=120):
    deadline = time.time() + timeout
    while True:
        rows, out = parts(hv)
        if rows.get(name, {}).get("state") == state:
            return rows[name]
        if time.time() > deadline:
            pytest.fail(f"{name} not {state} within {timeout} s:\n{out}")
        time.sleep(1)


def last_tick(hv, name):
    ticks = [int(t) for t in re.findall(r"^tg: tick (\d+)$", console(hv, name), re.M)]
    return max(ticks) if ticks else 0


def assert_ticking(hv, name, timeout=60):
    first = last_tick(hv, name)
    deadline = time.time() + timeout
    while last_tick(hv, name) <= first:
        if time.time() > deadline:
            pytest.fail(f"{name} stopped ticking at tick {first}")
        time.sleep(0.5)


def free_pages(hv):
    out = hv.cmd("mem")
    m = line_with(out, "total:", re.compile(r"\b(\d+) pages free"))
    assert m, out
    return int(m[1])


def srat_slit(text):
    """What a guest's SRAT and SLIT lines say: {(APIC ID, domain)},
    {(start, end address, domain)} and {domain: [distances]} (sets: the
    console may hold more than one boot's)."""
    apics = {(int(m[1]), int(m[2])) for m in
             fact_line("srat:", re.compile(r"\bAPIC ID (\d+)"), re.compile(r"\bdomain (\d+)")).finditer(text)}
    mem = {(m[1], m[2], int(m[3])) for m in
           fact_line("srat:", "memory", re.compile(r"\b(0x[0-9a-f]+)-(0x[0-9a-f]+)"),
                     re.compile(r"\bdomain (\d+)")).finditer(text)}
    slit = {int(m[1]): [int(d) for d in m[2].split()] for m in
            fact_line("slit:", re.compile(r"\bdomain (\d+): ([\d ]+)$")).finditer(text)}
    return apics, mem, slit


def test_partitions_listed(hv):
    rows, out = parts(hv)
    assert set(rows) == {"ticker", "duo", "probe", "evil", "burner"}, out
    assert rows["ticker"]["cpus"] == "1" and rows["duo"]["cpus"] == "2,3", out
    assert rows["duo"]["vcpus"] == 2, out
    assert rows["burner"]["state"] == "stopped", out
    out = hv.cmd("parts -v")
    assert line_with(out, "placement: node 0", "CPUs", "memory on node 0"), out
    assert line_with(hv.boot_text, "vCPU backend", hv.backend), hv.boot_text


def test_hello_two_partitions_tick(hv):
    text, _ = wait_for(hv, "ticker", r"^tg: tick 3$")
    assert line_with(text, "tg:", "running on Isthmus") and not line_with(text, "not running"), text
    assert line_with(text, "tg:", "hello", "ticker", "partition 0", "1 vCPUs"), text
    assert line_with(text, "madt:", "1 CPUs", "APIC IDs 0", "boot vCPU 0"), text
    apics, mem, slit = srat_slit(text)
    assert apics == {(0, 0)}, text
    assert mem == {("0x0000000000000000", "0x0000000000098000", 0),
                   ("0x0000000000100000", "0x0000000001000000", 0)}, text
    assert slit == {} and line_with(text, "slit:", "none"), text
    assert "warning" not in text, text
    wait_for(hv, "duo", r"^tg: tick 3$")
    assert_ticking(hv, "ticker")
    assert_ticking(hv, "duo")


def test_smp_brings_up_every_vcpu(hv):
    text, _ = wait_for(hv, "duo", fact_line("smp:", re.compile(r"\b\d+ of \d+\b"), "online"))
    assert line_with(text, "smp:", "2 of 2", "vCPUs", "online"), text
    assert line_with(text, "vcpu 1", "APIC ID 1", "online"), text
    assert line_with(text, "tg:", "hello", "duo", "partition 1", "2 vCPUs"), text
    assert "warning" not in text and not line_with(text, "started", "2 times"), text
    out = hv.cmd("vcpus duo")
    assert re.search(r"^duo\s+1\s+3\s+\S+", out, re.M), out
    assert "SIPIs taken 1" in out, out


def test_memprobe_stopped_at_violation(hv):
    row = wait_state(hv, "probe", "failed")
    assert line_with(row["reason"], "write", "0x80000000", "outside", f"{VIOLATION[hv.backend]} violation"), row
    text = console(hv, "probe")
    assert line_with(text, "memprobe:", re.compile(r"\b\d+ pages ok")), text
    assert line_with(text, "memprobe:", "touching", "0x80000000", "outside"), text
    assert "FAIL" not in text, text
    log = hv.cmd("log error")
    assert line_with(log, "probe", "failed", "vCPU 0", "RIP"), log
    assert_ticking(hv, "ticker")


def test_hostile_fails_alone(hv):
    row = wait_state(hv, "evil", "failed")
    assert "triple fault" in row["reason"], row
    text = console(hv, "evil")
    # Foreign ports read all-ones and writes vanish.
    assert line_with(text, "hostile:", "outb 0x64", "survived"), text
    # PCI configuration reaches only the partition's own bus: its host bridge
    # (1b36:0008) at 00:00.0, which the write of 0 to its ID left alone.
    assert line_with(text, "hostile:", "inl 0xcfc", "-> 0x81b36"), text
    assert line_with(text, "hostile:", "inb 0xcf9", "-> 0xff"), text
    # The host's MSRs are out of reach; the guest's own SYSENTER_CS is its own.
    assert line_with(text, "hostile:", "rdmsr 0x3a", "#GP"), text
    assert line_with(text, "hostile:", "wrmsr 0x3a", "0x5", "#GP"), text
    assert line_with(text, "hostile:", "wrmsr 0x12345678", "0x0", "#GP"), text
    # A CR0 the CPU refuses is refused as the CPU does: #GP, CR0 unchanged
    # (VT-x, which intercepts the write; on AMD-V the CPU checks it).
    if "CPU vendor GenuineIntel" in text:
        m = line_with(text, "hostile:", "NW without CD", "-> #GP", re.compile(r"cr0 now (0x[0-9a-f]+)"))
        assert m and not int(m[1], 16) & (1 << 29), text
    else:
        assert line_with(text, "hostile:", "cr0 probe skipped", "AMD"), text
    # IPIs reach only the partition's own vCPU.
    assert line_with(text, "hostile:", "APIC ID 0x7f", "sent", "vector 0x40", "0 times"), text
    assert line_with(text, "hostile:", "broadcast", "APIC ID 0xff", "sent", "vector 0x40", "1 times"), text
    for call, result in [(("abi_version",), "65536"), (("console_write", "good"), "34"),
                         (("number 0xdead",), "-38"), (("number 0xffffffffffffffff",), "-38"),
                         (("console_write", "outside RAM"), "-14"), (("console_write", "HC_CONSOLE_MAX+1"), "-7"),
                         (("console_write", "past the end of RAM"), "-14"),
                         (("partition_info", "unaligned"), "-22"), (("partition_info", "outside RAM"), "-14"),
                         (("partition_info", "past the end of RAM"), "-14"), (("networking 0x100",), "-38"),
                         (("heartbeat 0x2ff",), "-38"),
                         # Defined calls, from a partition in no failover group.
                         (("hb_info", "outside a group"), "-2"), (("hb_beat", "outside a group"), "0"),
                         (("hb_beat", "role 7"), "-22")]:
        assert line_with(text, "hostile:", "hypercall", *call, re.compile(r"-> %s$" % re.escape(result))), \
            (call, text)
    assert "partial write" not in text, text
    assert_bar_flood_limited(hv, text)
    assert line_with(text, "hostile:", "triple fault", "now"), text
    assert not line_with(text, "survived", "triple fault"), text
    # The hypervisor, the shell and the other partitions go on.
    assert "Isthmus" in hv.cmd("version")
    rows, out = parts(hv)
    assert rows["ticker"]["state"] == "running" and rows["duo"]["state"] == "running", out
    assert_ticking(hv, "duo")


def assert_bar_flood_limited(hv, text):
    """The hostile guest moved its NIC's BAR over its RAM 200 times: each move
    refused, and the console got its log limit's burst of lines, not 200
    (kernel/core/log_limit.h); the rest are counted as suppressed, and the
    operator sees the counts in `log limits` and `parts -v`."""
    m = line_with(text, "hostile:", "bar:", "moved over RAM", re.compile(r"(\d+) times -> refused (\d+)$"))
    assert m and m[1] == "200" and m[2] == "200", text
    limits = hv.cmd("log limits")
    m = line_with(limits, re.compile(r"(\d+) lines at once"), re.compile(r"then (\d+) a minute"))
    assert m, limits
    burst = int(m[1])
    row = re.search(r"^evil\s+bar\s+(\d+)\s+(\d+)\s+(\d+)$", limits, re.M)
    assert row, limits
    printed, suppressed = int(row[1]), int(row[2])
    assert printed + suppressed == 200 and 1 <= printed <= burst + 1 and suppressed > 0, limits
    log = hv.cmd("log warn")
    assert len(lines_with(log, "evil:", "BAR 0", "00:01.0", "refused")) == printed, log
    out = hv.cmd("parts -v")
    assert line_with(out, "log lines suppressed:", re.compile(r"\bbar %d\b" % suppressed)), out


def test_failed_partition_restarts(hv):
    wait_state(hv, "probe", "failed")
    out = hv.cmd("part restart probe")
    assert line_with(out, "part:", "probe", "running"), out
    text, _ = wait_for(hv, "probe", fact_line("memprobe:", "touching", "0x80000000"))
    wait_state(hv, "probe", "failed")
    assert len(lines_with(console(hv, "probe"), "scenario memprobe")) == 2
    out = hv.cmd("part stop evil")
    assert line_with(out, "part:", "evil", "stopped"), out
    rows, out = parts(hv)
    assert rows["evil"]["state"] == "stopped" and "reason" not in rows["evil"], out


def test_stop_a_partition_spinning_with_interrupts_off(hv):
    out = hv.cmd("part start burner")
    assert line_with(out, "part:", "burner", "running"), out
    wait_for(hv, "burner", r"^tg: burn: spinning$")
    t = time.time()
    out = hv.cmd("part stop burner")
    assert line_with(out, "part:", "burner", "stopped"), out
    assert time.time() - t < 30
    out = hv.cmd("vcpus burner")
    assert line_with(out, "no vCPUs"), out


def test_stop_start_cycles_leak_nothing(hv):
    out = hv.cmd("part stop ticker")
    assert line_with(out, "part:", "ticker", "stopped"), out
    before = free_pages(hv)
    for i in range(100):
        out = hv.cmd("part start ticker")
        assert line_with(out, "part:", "ticker", "running"), (i, out)
        out = hv.cmd("part stop ticker")
        assert line_with(out, "part:", "ticker", "stopped"), (i, out)
    assert free_pages(hv) == before
    out = hv.cmd("part start ticker")
    assert line_with(out, "part:", "ticker", "running"), out
    wait_for(hv, "ticker", r"^tg: tick 2$")


def test_part_command_errors(hv):
    out = hv.cmd("part start nobody")
    assert line_with(out, "no partition", "'nobody'"), out
    out = hv.cmd("part start duo")
    assert line_with(out, "duo", "running"), out
    assert "usage" in hv.cmd("part frobnicate duo").lower()


REFUSED = """[[partition]]
name = "huge"
cpus = 1
memory = "64G"
kernel = "testguest.elf"

[[partition]]
name = "many"
cpus = 8
memory = "16M"
kernel = "testguest.elf"

[[partition]]
name = "first"
cpus = [1]
memory = "16M"
kernel = "testguest.elf"
cmdline = "hello tick_ms=100"

[[partition]]
name = "ghost"
cpus = [9]
memory = "16M"
kernel = "testguest.elf"
"""


TWIN = """
[[partition]]
name = "twin"
cpus = [1]
memory = "16M"
kernel = "testguest.elf"
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_impossible_partitions_refused(backend, request, tmp_path):
    """On the q35 machine: 4 CPUs in two nodes under QEMU (CPUs 0-1, 2-3), one node
    under Bochs. The planner names what is short and what each node has left."""
    h = backend_boot(backend, request.node.name, make_esp(REFUSED, str(tmp_path)), profile="q35-2node-pxb")
    try:
        text = h.wait_prompt()
        two_nodes = line_with(h.cmd("numa"), "2 NUMA nodes", "SRAT")
        # What each node has left: with two nodes, numa = "spread" is suggested.
        free = (("node 0: 0 CPUs", "node 1: 2 CPUs", 'numa = "spread"') if two_nodes else ("node 0: 2 CPUs",))
        for name, needs in (("huge", ("1 CPU", "65536 MiB")), ("many", ("8 CPUs", "16 MiB"))):
            m = line_with(text, f'"{name}"', "needs", *needs, "one node", "free:", *free)
            assert m and (two_nodes or "node 1" not in m[0]), text
        assert line_with(text, '"ghost"', "CPU 9", "not exist", "CPUs 0-3"), text
        rows, out = parts(h)
        for name in ("huge", "many", "ghost"):
            assert rows[name]["state"] == "refused" and rows[name].get("reason"), out
        out = h.cmd("part start ghost")
        assert line_with(out, "ghost", "refused"), out
        assert rows["first"]["state"] == "running", out
        wait_for(h, "first", r"^tg: tick 2$")
    finally:
        h.close()
    # One CPU given twice is a configuration error, with its line; nothing starts
    # and the shell comes up.
    twice = REFUSED + TWIN
    h = backend_boot(backend, request.node.name + "-twice", make_esp(twice, str(tmp_path)), profile="pc-4cpu")
    try:
        text = h.wait_prompt()
        # The line is twin's [[partition]] header (just above its name).
        header = twice.splitlines().index('name = "twin"')
        assert line_with(text, "isthmus.toml:%d:" % header, "CPU 1", "both", '"first"', '"twin"'), text
        assert line_with(text, "no partitions", "start"), text
        out = h.cmd("parts")
        assert line_with(out, "no partitions"), out
    finally:
        h.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_demo_config_runs(backend, request, tmp_path):
    """configs/demo.toml, which the README offers, on the default QEMU machine."""
    from conftest import ROOT
    with open(os.path.join(ROOT, "configs", "demo.toml")) as f:
        demo = f.read()
    h = backend_boot(backend, request.node.name, make_esp(demo, str(tmp_path)), profile="q35-2node-pxb")
    try:
        h.wait_prompt()
        rows, out = parts(h)
        assert rows["hello"]["state"] == "running" and rows["smp"]["state"] == "running", out
        wait_for(h, "smp", fact_line("smp:", "2 of 2", "online"))
        wait_for(h, "hello", r"^tg: tick 2$")
    finally:
        h.close()


PLACED = """[[partition]]
name = "pinned"
cpus = 1
memory = "16M"
kernel = "testguest.elf"
cmdline = "hello tick_ms=100"
node = 1

[[partition]]
name = "wide"
cpus = [1, 3]
memory = "16M"
kernel = "testguest.elf"
cmdline = "smp tick_ms=100"
numa = "spread"

[[partition]]
name = "greedy"
cpus = 2
memory = "16M"
kernel = "testguest.elf"
node = 1
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_numa_pin_is_honoured(backend, request, tmp_path):
    """On the two-node q35 machine (CPUs 0-1 node 0, 2-3 node 1): a pinned partition
    lands on its node with its memory there; a pin that cannot be met is refused."""
    if not has_numa(backend):
        pytest.skip(NO_NUMA)
    h = backend_boot(backend, request.node.name, make_esp(PLACED, str(tmp_path)), profile="q35-2node-pxb")
    try:
        h.wait_prompt()
        rows, out = parts(h)
        assert rows["pinned"]["state"] == "running" and rows["pinned"]["cpus"] == "2", out
        assert rows["wide"]["cpus"] == "1,3", out
        assert rows["greedy"]["state"] == "refused", out
        assert line_with(rows["greedy"]["reason"], "pinned", "node 1", "0 free CPUs"), out
        out = h.cmd("parts -v")
        assert line_with(out, "placement: node 1", "pinned", "memory on node 1"), out
        out = h.cmd("numa")
        node0, node1 = out[:out.index("\nnode 1:")], out[out.index("\nnode 1:"):out.index("\ndistances")]
        # Per node, each partition: its state, how many of its CPUs (and which) and MiB are there.
        assert line_with(node1, "partition pinned", "(running)", "1 of its CPUs", "CPUs 2", "16 MiB"), out
        m = line_with(node1, "partition wide", "(running)", "1 of its CPUs", "CPUs 3")
        assert m and "MiB" not in m[0], out
        assert line_with(node0, "partition wide", "(running)", "1 of its CPUs", "CPUs 1", "16 MiB"), out
        # Each guest's SRAT shows only its own CPUs and memory, its SLIT only its nodes.
        text, _ = wait_for(h, "pinned", r"^tg: tick 2$")
        apics, mem, slit = srat_slit(text)
        assert apics == {(0, 0)}, text
        assert ("0x0000000000100000", "0x0000000001000000", 0) in mem, text
        assert slit == {} and line_with(text, "slit:", "none") and "domain 1" not in text, text
        text, _ = wait_for(h, "wide", fact_line("smp:", "2 of 2", "online"))
        apics, mem, slit = srat_slit(text)
        assert apics == {(0, 0), (1, 1)}, text
        assert ("0x0000000000100000", "0x0000000001000000", 0) in mem, text
        assert slit == {0: [10, 20], 1: [20, 10]}, text
    finally:
        h.close()


ASSIGNED = """[hypervisor]
log_level = "info"

[[partition]]
name = "nic"
cpus = 1
memory = "16M"
kernel = "testguest.elf"
cmdline = "pci tick_ms=100"
devices = ["%s"]

[[partition]]
name = "other"
cpus = 1
memory = "16M"
kernel = "testguest.elf"
cmdline = "pci tick_ms=100"
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_assigned_nic(backend, request, tmp_path):
    """A NIC given to one partition: under QEMU the e1000e behind the expander
    bridge on node 1 (so its owner runs on node 1's CPUs and memory), under
    Bochs its e1000. The owner reads it through its own PCI bus, uses its BAR,
    cannot move the BAR over its RAM, and (e1000e) gets its MSIs, then its
    MSI-X interrupts on the vector of each entry (the table trapped in BAR3);
    the other partition's bus holds only its host bridge. A restart finds it
    again."""
    numa = has_numa(backend)
    prof = qemu.PROFILES["q35-2node-pxb"]
    bdf = prof["nic_bdf"] if numa else bochs.NIC_BDF
    vendor, device = prof["nic"][:2] if numa else bochs.NIC_ID
    msi = device == "10d3"
    h = backend_boot(backend, request.node.name, make_esp(ASSIGNED % bdf, str(tmp_path)), profile="q35-2node-pxb")
    try:
        text = h.wait_prompt()
        assert line_with(text, "nic", "owns", bdf, f"{vendor}:{device}", re.compile(r"\bnode \d\b"), "00:01.0"), text
        assert line_with(text, "nic:", "no IOMMU", bdf, "DMA", "anywhere"), text
        rows, out = parts(h)
        assert rows["nic"]["state"] == "running" and rows["other"]["state"] == "running", out
        pci = h.cmd("pci")
        assert re.search(r"^%s\s+%s:%s\s+\S+\s+nic\s" % (re.escape(bdf), vendor, device), pci, re.M), pci
        if numa:
            assert rows["nic"]["cpus"] in ("2", "3") and rows["other"]["cpus"] == "1", out
            out = h.cmd("parts -v")
            assert line_with(out, "placement: node 1", "PCI devices", "memory on node 1"), out
            numa_out = h.cmd("numa")
            node1 = numa_out[numa_out.index("\nnode 1:"):numa_out.index("\ndistances")]
            assert line_with(node1, "pci", bdf, f"{vendor}:{device}", "Ethernet", "owner nic"), numa_out
            assert line_with(node1, "partition nic", "(running)", "1 of its CPUs", "16 MiB"), numa_out
        # The owner's bus: the host bridge and the NIC, nothing else of the machine.
        text, _ = wait_for(h, "nic", r"^tg: pci: done$")
        assert line_with(text, "pci:", "00:00.0", "1b36:0008", "class 06.00", "header 00"), text
        assert line_with(text, "pci:", "00:01.0", f"{vendor}:{device}", "class 02.00", "header 00"), text
        assert line_with(text, "pci:", "2 function(s)", "bus 0"), text
        assert line_with(text, "pci:", "00:01.0", "BAR0", "memory", "0xc0000000", "128 KiB"), text
        if numa:
            # Its SRAT: its one vCPU and its memory in one domain (node 1's), no SLIT.
            apics, mem, slit = srat_slit(text)
            assert apics == {(0, 0)}, text
            assert ("0x0000000000100000", "0x0000000001000000", 0) in mem, text
            assert slit == {} and line_with(text, "slit:", "none"), text
        m = line_with(text, "pci:", "00:01.0", "BAR0", re.compile(r"\bregister 0x8 reads (0x[0-9a-f]+)\b"))
        assert m and "moved" not in m[0] and m[1] != "0xffffffff", text
        assert line_with(text, "pci:", "00:01.0", "BAR0", "move", "0x200000", "refused", "BAR0 0xc0000000"), text
        assert line_with(text, "pci:", "00:01.0", "BAR0", re.compile(r"\bmoved to 0x[0-9a-f]+"),
                         f"reads {m[1]}", "same"), text
        if msi:
            # PM, MSI, PCIe, MSI-X: the device's own list.
            assert line_with(text, "pci:", "00:01.0", re.compile(r"\bcapabilities: 01 05 10 11$")), text
            # Three causes set through ICS, each waited for: at least three MSIs.
            # QEMU's e1000e may send a cause again before the guest has read ICR
            # (more when the host is loaded), so the count is a floor.
            assert "did not arrive" not in text, text
            got = line_with(text, "pci:", "00:01.0", re.compile(r"\bMSI received (\d+)$"))
            assert got and int(got[1]) >= 3, text
            check_msix(text)
            log = h.cmd("log warn")
            assert not line_with(log, "MSI-X", "hidden"), log
            # The guest's 2-byte read of its table: dropped, said once.
            assert len(lines_with(log, "nic:", "2-byte read at offset 0x8 of BAR 3 of 00:01.0",
                                  "(its MSI-X table page) dropped")) == 1, log
        out = h.cmd("parts -v")
        assert line_with(out, "device", bdf, f"{vendor}:{device}", re.compile(r"\bnode \d\b"), "00:01.0"), out
        assert line_with(out, "pci bus:", "config reads", "1 BAR placements refused"), out
        if msi:
            check_msix_routes(out)
            out = h.cmd("vcpus nic")
            fwd = line_with(out, re.compile(r"\bdevice MSIs forwarded (\d+)\b"))
            assert fwd and int(fwd[1]) >= 3 + 7, out
        else:
            assert line_with(out, "MSI-X: none"), out
        # The other partition sees no NIC at all.
        text, _ = wait_for(h, "other", r"^tg: pci: done$")
        assert line_with(text, "pci:", "1 function(s)", "bus 0"), text
        assert "%s:%s" % (vendor, device) not in text, text
        # Stopped, the device is quiet and still the partition's; started again,
        # the guest finds and drives it as before.
        h.cmd("part stop nic")
        wait_state(h, "nic", "stopped")
        pci = h.cmd("pci")
        assert re.search(r"^%s\s+%s:%s\s+\S+\s+nic\s" % (re.escape(bdf), vendor, device), pci, re.M), pci
        h.cmd("part start nic")
        wait_for(h, "nic", r"(?s)tg: pci: done.*tg: pci: done")
        text = console(h, "nic")
        if msi:
            counts = [int(n) for n in re.findall(r"^tg: pci: 00:01\.0 MSI received (\d+)$", text, re.M)]
            assert len(counts) == 2 and min(counts) >= 3 and "did not arrive" not in text, text
            check_msix(text.split("tg: pci: done")[1])
            check_msix_routes(h.cmd("parts -v"))
            # The forwarded count is not compared with the guest's: MSIs posted
            # before the guest takes one are one interrupt to it, and the device
            # may still send after the guest disables MSI (then dropped as stray).
            # At least 3 MSIs and 7 MSI-X interrupts (3 + 3, and the one held
            # while its entry was masked).
            out = h.cmd("vcpus nic")
            fwd = line_with(out, re.compile(r"\bdevice MSIs forwarded (\d+)\b"))
            assert fwd and int(fwd[1]) >= 3 + 7, out
        assert_ticking(h, "other")
    finally:
        h.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_assigned_nic_under_shadow_paging(backend, request, tmp_path):
    """The same NIC given to a shadowed partition: the guest maps its BAR
    write-back in its own tables (its identity map), yet the shadow leaf the
    vCPU runs with is uncacheable, as EPT/NPT's memory type would make it
    under nested paging; its RAM stays write-back. The device works as
    under nested paging (BAR read, moved, moved back)."""
    numa = has_numa(backend)
    prof = qemu.PROFILES["q35-2node-pxb"]
    bdf = prof["nic_bdf"] if numa else bochs.NIC_BDF
    vendor, device = prof["nic"][:2] if numa else bochs.NIC_ID
    config = (ASSIGNED % bdf).replace('devices = ["%s"]' % bdf, 'devices = ["%s"]\npaging = "shadow"' % bdf)
    config = config.replace('cmdline = "pci tick_ms=100"\ndevices', 'cmdline = "pci tick_ms=100 hold=1"\ndevices')
    assert "hold=1" in config
    h = backend_boot(backend, request.node.name, make_esp(config, str(tmp_path)), profile="q35-2node-pxb")
    try:
        h.wait_prompt()
        text, _ = wait_for(h, "nic", r"^tg: pci: done$")
        assert line_with(text, "pci:", "00:01.0", f"{vendor}:{device}", "class 02.00"), text
        assert line_with(text, "pci:", "00:01.0", "BAR0", "memory", "0xc0000000"), text
        m = line_with(text, "pci:", "00:01.0", "BAR0", re.compile(r"\bregister 0x8 reads (0x[0-9a-f]+)\b"))
        assert m and m[1] != "0xffffffff", text
        assert line_with(text, "pci:", "00:01.0", "BAR0", re.compile(r"\bmoved to 0x[0-9a-f]+"), "same"), text
        assert line_with(text, "pci:", "00:01.0", "BAR0", "back at 0xc0000000", f"reads {m[1]}", "same"), text
        assert "FAIL" not in text and "exception" not in text, text
        out = h.cmd("paging nic")
        assert line_with(out, "nic:", "shadow paging"), out
        # The BAR's first page, read last by the guest (hold=1: still decoding).
        assert line_with(text, "pci:", "00:01.0", "left decoding", f"reads {m[1]}"), text
        out = h.cmd("paging nic 0xc0000000")
        bar = line_with(out, "nic:", "vCPU 0", "0xc0000000", "shadow leaf",
                        re.compile(r"\bPAT entry (\d+)"))
        assert bar and bar[1] == "3" and "uncacheable" in bar[0], out
        # The guest's own image (loaded at 1 MiB), ordinary RAM.
        out = h.cmd("paging nic 0x100000")
        ram = line_with(out, "nic:", "vCPU 0", "0x100000", "shadow leaf", re.compile(r"\bPAT entry (\d+)"))
        assert ram and ram[1] == "0" and "write-back" in ram[0], out
        out = h.cmd("paging nic 0x7f0000000000")
        assert line_with(out, "nic:", "no shadow leaf"), out
        out = h.cmd("paging other 0x100000")
        assert line_with(out, "other", "not running under shadow paging"), out
        out = h.cmd("paging nic 0x100000 7")
        assert line_with(out, "nic", "no vCPU 7"), out
        rows, out = parts(h)
        assert rows["nic"]["state"] == "running", out
    finally:
        h.close()


def check_msix(text):
    """The pci scenario's MSI-X lines on QEMU's e1000e: its 5 entries, table at
    0 of BAR3 and PBA at 0x2000 as the device has them, entries 0 and 1 each
    getting the interrupts of the cause routed to them, and a cause raised
    while its entry is masked held in the device's PBA until it is unmasked."""
    assert line_with(text, "pci:", "00:01.0", "MSI-X: 5 entries, table BAR3+0x0, PBA BAR3+0x2000"), text
    assert line_with(text, "pci:", "00:01.0", "MSI-X enabled: entry 0 vector 0x54, entry 1 vector 0x55",
                     "to APIC ID 0", "(control 0x8004)"), text
    # The shadow table reads back what was written, 8 bytes at once too; a
    # 2-byte read is dropped and reads all-ones.
    assert line_with(text, "pci:", "00:01.0", "MSI-X entry 0 reads data 0x54 control 0x0 (8 bytes), 0xffff (2 bytes)"), text
    # Three of each cause, each waited for on its own vector: floors, as for MSI.
    got = line_with(text, "pci:", "00:01.0", re.compile(r"\bMSI-X received: entry 0 (\d+), entry 1 (\d+)$"))
    assert got and int(got[1]) >= 3 and int(got[2]) >= 3, text
    assert line_with(text, "pci:", "00:01.0", "MSI-X entry 1 masked: 0 received, PBA 0x2; unmasked: delivered"), text


def check_msix_routes(out):
    """`parts -v` on the NIC's partition: MSI-X left enabled by the guest, its
    two entries routed to one CPU on two host vectors, and the bus's counts
    (2 routes when the function was unmasked, 1 more when entry 1 was)."""
    assert line_with(out, "MSI-X: 5 entries (5 usable), table BAR3+0, PBA BAR3+0x2000, enabled"), out
    e0 = line_with(out, re.compile(r"\bMSI-X 0: guest vector 0x54 -> CPU (\d+) vector (0x[0-9a-f]+)$"))
    e1 = line_with(out, re.compile(r"\bMSI-X 1: guest vector 0x55 -> CPU (\d+) vector (0x[0-9a-f]+)$"))
    assert e0 and e1 and e0[1] == e1[1] and e0[2] != e1[2], out
    assert line_with(out, "pci bus:", "3 MSI-X routes (0 refused, 1 table accesses dropped)"), out


SPREAD = """[[partition]]
name = "big"
cpus = 1
memory = "300M"
numa = "spread"
kernel = "testguest.elf"
cmdline = "memprobe"
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_memory_split_over_nodes(backend, request, tmp_path):
    """More memory than node 0 has free, with numa = "spread": node 0 gives what it
    has and node 1 the rest. The guest's SRAT shows both, and every page of its RAM
    is its own (memprobe), before its deliberate write outside it stops it."""
    if not has_numa(backend):
        pytest.skip(NO_NUMA)
    h = backend_boot(backend, request.node.name, make_esp(SPREAD, str(tmp_path)), profile="q35-2node-pxb")
    try:
        text = h.wait_prompt()
        # Its memory blocks, each with its node: some on node 0, the rest on node 1.
        m = line_with(text, "big", "started", "1 vCPU(s)", "CPU(s) 1")
        assert m and "(node 0)" in m[0] and "(node 1)" in m[0], text
        blocks = [int(b) for b in re.findall(r"\b(\d+) MiB at host", m[0])]
        assert sum(blocks) == 300, text
        out = h.cmd("parts -v")
        m = line_with(out, "memory on node 0 and 1", re.compile(r"\((\d+) MiB \+ (\d+) MiB\)"))
        assert m and int(m[1]) + int(m[2]) == 300, out
        numa_out = h.cmd("numa")
        node1 = numa_out[numa_out.index("\nnode 1:"):numa_out.index("\ndistances")]
        assert line_with(node1, "partition big", re.compile(r"\((running|failed)\)"), "0 of its CPUs",
                         f"{m[2]} MiB"), numa_out
        wait_state(h, "big", "failed")
        text = console(h, "big")
        assert line_with(text, "memprobe:", re.compile(r"\b\d+ pages ok")), text
        assert "FAIL" not in text, text
        _, mem, slit = srat_slit(text)
        assert {d for _, _, d in mem} == {0, 1}, text
        assert any(end == "0x0000000012c00000" and d == 1 for _, end, d in mem), text
        assert slit == {0: [10, 20], 1: [20, 10]}, text
    finally:
        h.close()
