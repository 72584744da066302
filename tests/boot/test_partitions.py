"""Partitions on both backends: the test guest's scenarios in isolated partitions.

One boot per backend (module-scoped, parametrised: test IDs end in [svm] or [vmx])
runs six partitions on a 7-CPU machine, the shell keeping CPU 0:
  ticker  hello, 1 vCPU       duo    smp, 2 vCPUs
  probe   memprobe            evil   hostile
  burner  burn (starts stopped)
and the tests look at them through the shell: parts, vcpus, console, part, mem."""
import os
import re
import time

import pytest

from conftest import BACKENDS, backend_boot, backend_module_boot, make_esp
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
    hv.expect(re.escape(f"console: attached to {name} ") + r"[^\n]*Ctrl-\] to detach[^\n]*\n")
    hv.send_raw("\x1d")
    text = hv.expect(re.escape(f"console: detached from {name}"))
    hv.expect_prompt()
    return text


def wait_for(hv, name, pattern, timeout=120):
    deadline = time.time() + timeout
    while True:
        text = console(hv, name)
        m = re.search(pattern, text, re.M)
        if m:
            return text, m
        if time.time() > deadline:
            pytest.fail(f"{name}: no {pattern!r} within {timeout} s; console:\n{text}")
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
    m = re.search(r"^total: .*\((\d+) pages free", hv.cmd("mem"), re.M)
    assert m
    return int(m.group(1))


def test_partitions_listed(hv):
    rows, out = parts(hv)
    assert set(rows) == {"ticker", "duo", "probe", "evil", "burner"}, out
    assert rows["ticker"]["cpus"] == "1" and rows["duo"]["cpus"] == "2,3", out
    assert rows["duo"]["vcpus"] == 2, out
    assert rows["burner"]["state"] == "stopped", out
    out = hv.cmd("parts -v")
    assert "  placement: node 0: its CPUs' node; memory on node 0\n" in out, out
    assert f"vCPU backend: {hv.backend}" in hv.boot_text


def test_hello_two_partitions_tick(hv):
    text, _ = wait_for(hv, "ticker", r"^tg: tick 3$")
    assert "tg: running on Isthmus" in text, text
    assert "tg: hello from ticker (partition 0), 1 vCPUs" in text, text
    assert "tg: madt: 1 CPUs, APIC IDs 0, boot vCPU 0" in text, text
    assert ("tg: srat: APIC ID 0 in domain 0\n"
            "tg: srat: memory 0x0000000000000000-0x000000000009f000 in domain 0\n"
            "tg: srat: memory 0x0000000000100000-0x0000000001000000 in domain 0\n"
            "tg: slit: none\n") in text, text
    assert "warning" not in text, text
    wait_for(hv, "duo", r"^tg: tick 3$")
    assert_ticking(hv, "ticker")
    assert_ticking(hv, "duo")


def test_smp_brings_up_every_vcpu(hv):
    text, _ = wait_for(hv, "duo", r"^tg: smp: \d+ of \d+ vCPUs online$")
    assert "tg: smp: 2 of 2 vCPUs online" in text, text
    assert "tg: vcpu 1 (APIC ID 1) online" in text, text
    assert "tg: hello from duo (partition 1), 2 vCPUs" in text, text
    assert "warning" not in text and "started 2 times" not in text, text
    out = hv.cmd("vcpus duo")
    assert re.search(r"^duo\s+1\s+3\s+\S+", out, re.M), out
    assert "SIPIs taken 1" in out, out


def test_memprobe_stopped_at_violation(hv):
    row = wait_state(hv, "probe", "failed")
    assert re.search(r"write access to guest-physical 0x80000000 outside its memory \(%s violation\)"
                     % VIOLATION[hv.backend], row["reason"]), row
    text = console(hv, "probe")
    assert re.search(r"^tg: memprobe: \d+ pages ok$", text, re.M), text
    assert "tg: memprobe: touching 0x80000000 outside my memory" in text, text
    assert "FAIL" not in text, text
    assert "probe failed: vCPU 0 at RIP" in hv.cmd("log error")
    assert_ticking(hv, "ticker")


def test_hostile_fails_alone(hv):
    row = wait_state(hv, "evil", "failed")
    assert "triple fault" in row["reason"], row
    text = console(hv, "evil")
    # Foreign ports read all-ones and writes vanish.
    assert "tg: hostile: outb 0x64 -> survived" in text, text
    # PCI configuration reaches only the partition's own bus: its host bridge
    # (1b36:0008) at 00:00.0, which the write of 0 to its ID left alone.
    assert "tg: hostile: inl 0xcfc -> 0x81b36" in text, text
    assert "tg: hostile: inb 0xcf9 -> 0xff" in text, text
    # The host's MSRs are out of reach; the guest's own SYSENTER_CS is its own.
    assert "tg: hostile: rdmsr 0x3a -> #GP" in text and "tg: hostile: wrmsr 0x3a <- 0x5 -> #GP" in text, text
    assert "tg: hostile: wrmsr 0x12345678 <- 0x0 -> #GP" in text, text
    # IPIs reach only the partition's own vCPU.
    assert "to APIC ID 0x7f -> sent, vector 0x40 arrived here 0 times" in text, text
    assert "(broadcast) to APIC ID 0xff -> sent, vector 0x40 arrived here 1 times" in text, text
    for call, result in [("abi_version", "65536"), ("console_write good", "34"), ("number 0xdead", "-38"),
                         ("number 0xffffffffffffffff", "-38"), ("console_write buffer outside RAM", "-14"),
                         ("console_write length HC_CONSOLE_MAX+1", "-7"),
                         ("console_write buffer past the end of RAM", "-14"),
                         ("partition_info unaligned", "-22"), ("partition_info outside RAM", "-14"),
                         ("partition_info past the end of RAM", "-14"), ("networking 0x100", "-38"),
                         ("heartbeat 0x2ff", "-38"),
                         # Defined calls, from a partition in no failover group.
                         ("hb_info outside a group", "-2"), ("hb_beat outside a group", "0"),
                         ("hb_beat role 7", "-22")]:
        assert f"tg: hostile: hypercall {call} -> {result}\n" in text, (call, text)
    assert "partial write" not in text, text
    assert "tg: hostile: triple fault now" in text and "survived a triple fault" not in text, text
    # The hypervisor, the shell and the other partitions go on.
    assert "Isthmus" in hv.cmd("version")
    rows, out = parts(hv)
    assert rows["ticker"]["state"] == "running" and rows["duo"]["state"] == "running", out
    assert_ticking(hv, "duo")


def test_failed_partition_restarts(hv):
    wait_state(hv, "probe", "failed")
    out = hv.cmd("part restart probe")
    assert "part: probe is running" in out, out
    text, _ = wait_for(hv, "probe", r"tg: memprobe: touching 0x80000000")
    wait_state(hv, "probe", "failed")
    assert console(hv, "probe").count("scenario memprobe") == 2
    assert "part: evil is stopped" in hv.cmd("part stop evil")
    rows, out = parts(hv)
    assert rows["evil"]["state"] == "stopped" and "reason" not in rows["evil"], out


def test_stop_a_partition_spinning_with_interrupts_off(hv):
    assert "part: burner is running" in hv.cmd("part start burner")
    wait_for(hv, "burner", r"^tg: burn: spinning$")
    t = time.time()
    out = hv.cmd("part stop burner")
    assert "part: burner is stopped" in out, out
    assert time.time() - t < 30
    assert "no vCPUs" in hv.cmd("vcpus burner")


def test_stop_start_cycles_leak_nothing(hv):
    assert "part: ticker is stopped" in hv.cmd("part stop ticker")
    before = free_pages(hv)
    for i in range(100):
        out = hv.cmd("part start ticker")
        assert "part: ticker is running" in out, (i, out)
        out = hv.cmd("part stop ticker")
        assert "part: ticker is stopped" in out, (i, out)
    assert free_pages(hv) == before
    assert "part: ticker is running" in hv.cmd("part start ticker")
    wait_for(hv, "ticker", r"^tg: tick 2$")


def test_part_command_errors(hv):
    assert "no partition named 'nobody'" in hv.cmd("part start nobody")
    assert "duo is running" in hv.cmd("part start duo")
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
        two_nodes = "2 NUMA nodes from the SRAT" in h.cmd("numa")
        free = (r'free: node 0: 0 CPUs, \d+ MiB; node 1: 2 CPUs, \d+ MiB \(numa = "spread" allows several nodes\)'
                if two_nodes else r'free: node 0: 2 CPUs, \d+ MiB\n')
        assert re.search(r'partition "huge" needs 1 CPU and 65536 MiB on one node; ' + free, text), text
        assert re.search(r'partition "many" needs 8 CPUs and 16 MiB on one node; ' + free, text), text
        assert 'partition "ghost": CPU 9 does not exist (this machine has CPUs 0-3)' in text, text
        rows, out = parts(h)
        for name in ("huge", "many", "ghost"):
            assert rows[name]["state"] == "refused" and rows[name].get("reason"), out
        assert "was refused at boot" in h.cmd("part start ghost")
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
        assert 'isthmus.toml:%d: CPU 1 is given to both "first" and "twin"' % header in text, text
        assert "no partitions will start" in text, text
        assert "no partitions configured" in h.cmd("parts")
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
        wait_for(h, "smp", r"^tg: smp: 2 of 2 vCPUs online$")
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
        assert "is pinned to node 1, which has 0 free CPUs" in rows["greedy"]["reason"], out
        out = h.cmd("parts -v")
        assert "placement: node 1: the node it is pinned to; memory on node 1" in out, out
        out = h.cmd("numa")
        node1 = out[out.index("\nnode 1:"):out.index("\ndistances")]
        assert "partition pinned (running): 1 of its CPUs 2, its 16 MiB of memory\n" in node1, out
        assert "partition wide (running): 1 of its CPUs 3\n" in node1, out
        assert "partition wide (running): 1 of its CPUs 1, its 16 MiB of memory\n" in out, out
        # Each guest's SRAT shows only its own CPUs and memory, its SLIT only its nodes.
        text, _ = wait_for(h, "pinned", r"^tg: tick 2$")
        assert "tg: srat: APIC ID 0 in domain 0\n" in text, text
        assert "tg: srat: memory 0x0000000000100000-0x0000000001000000 in domain 0\n" in text, text
        assert "tg: slit: none" in text and "domain 1" not in text, text
        text, _ = wait_for(h, "wide", r"^tg: smp: 2 of 2 vCPUs online$")
        assert "tg: srat: APIC ID 0 in domain 0\ntg: srat: APIC ID 1 in domain 1\n" in text, text
        assert "tg: srat: memory 0x0000000000100000-0x0000000001000000 in domain 0\n" in text, text
        assert "tg: slit: domain 0: 10 20\ntg: slit: domain 1: 20 10\n" in text, text
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
    cannot move the BAR over its RAM, and (e1000e) gets its MSIs; the other
    partition's bus holds only its host bridge. A restart finds it again."""
    numa = has_numa(backend)
    prof = qemu.PROFILES["q35-2node-pxb"]
    bdf = prof["nic_bdf"] if numa else bochs.NIC_BDF
    vendor, device = prof["nic"][:2] if numa else bochs.NIC_ID
    msi = device == "10d3"
    h = backend_boot(backend, request.node.name, make_esp(ASSIGNED % bdf, str(tmp_path)), profile="q35-2node-pxb")
    try:
        text = h.wait_prompt()
        assert re.search(r"nic owns PCI %s \(%s:%s, node \d\) as 00:01\.0 on its bus\n" % (re.escape(bdf), vendor,
                                                                                          device), text), text
        assert ("nic: no IOMMU is used: PCI %s can DMA anywhere in host memory once its guest enables bus "
                "mastering" % bdf) in text, text
        rows, out = parts(h)
        assert rows["nic"]["state"] == "running" and rows["other"]["state"] == "running", out
        pci = h.cmd("pci")
        assert re.search(r"^%s\s+%s:%s\s+\S+\s+nic\s" % (re.escape(bdf), vendor, device), pci, re.M), pci
        if numa:
            assert rows["nic"]["cpus"] in ("2", "3") and rows["other"]["cpus"] == "1", out
            out = h.cmd("parts -v")
            assert "placement: node 1: its PCI devices' node; memory on node 1" in out, out
            numa_out = h.cmd("numa")
            node1 = numa_out[numa_out.index("\nnode 1:"):numa_out.index("\ndistances")]
            assert "pci %s %s:%s Ethernet controller, owner nic" % (bdf, vendor, device) in node1, numa_out
            assert "partition nic (running): 1 of its CPUs" in node1 and "its 16 MiB of memory" in node1, numa_out
        # The owner's bus: the host bridge and the NIC, nothing else of the machine.
        text, _ = wait_for(h, "nic", r"^tg: pci: done$")
        assert "tg: pci: 00:00.0 1b36:0008 class 06.00 header 00\n" in text, text
        assert "tg: pci: 00:01.0 %s:%s class 02.00 header 00\n" % (vendor, device) in text, text
        assert "tg: pci: 2 function(s) on bus 0\n" in text, text
        assert "tg: pci: 00:01.0 BAR0 memory at 0xc0000000, 128 KiB\n" in text, text
        if numa:
            # Its SRAT: its one vCPU and its memory in one domain (node 1's), no SLIT.
            assert "tg: srat: APIC ID 0 in domain 0\n" in text, text
            assert "tg: srat: memory 0x0000000000100000-0x0000000001000000 in domain 0\n" in text, text
            assert "tg: slit: none" in text, text
        m = re.search(r"^tg: pci: 00:01\.0 BAR0 register 0x8 reads (0x[0-9a-f]+)$", text, re.M)
        assert m and m.group(1) != "0xffffffff", text
        assert "tg: pci: 00:01.0 BAR0 move over RAM at 0x200000 refused (BAR0 0xc0000000)" in text, text
        assert re.search(r"^tg: pci: 00:01\.0 BAR0 moved to 0x[0-9a-f]+: register 0x8 reads %s there \(same\)$"
                         % m.group(1), text, re.M), text
        if msi:
            # PM, MSI, PCIe: the MSI-X capability is hidden.
            assert "tg: pci: 00:01.0 capabilities: 01 05 10\n" in text, text
            assert "tg: pci: 00:01.0 MSI received 3\n" in text, text
            assert "nic: 00:01.0 has MSI-X, which is not supported yet: hidden from the guest and kept disabled; " \
                   "its guest can use MSI" in h.cmd("log warn"), "MSI-X warning missing"
        out = h.cmd("parts -v")
        assert re.search(r"device %s \(%s:%s, node \d\) as 00:01\.0" % (re.escape(bdf), vendor, device), out), out
        assert re.search(r"pci bus: \d+ config reads, \d+ writes \(\d+ dropped\), 1 BAR placements refused", out), out
        if msi:
            assert "device MSIs forwarded 3" in h.cmd("vcpus nic")
        # The other partition sees no NIC at all.
        text, _ = wait_for(h, "other", r"^tg: pci: done$")
        assert "tg: pci: 1 function(s) on bus 0\n" in text, text
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
            assert text.count("tg: pci: 00:01.0 MSI received 3\n") == 2, text
        assert_ticking(h, "other")
    finally:
        h.close()


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
        m = re.search(r"big started: 1 vCPU\(s\) on CPU\(s\) 1, (.*), kernel ", text)
        assert m and "(node 0)" in m.group(1) and "(node 1)" in m.group(1), text
        blocks = [int(b) for b in re.findall(r"(\d+) MiB at host", m.group(1))]
        assert sum(blocks) == 300, text
        out = h.cmd("parts -v")
        m = re.search(r"memory on node 0 and 1 \((\d+) MiB \+ (\d+) MiB\)", out)
        assert m and int(m.group(1)) + int(m.group(2)) == 300, out
        numa_out = h.cmd("numa")
        node1 = numa_out[numa_out.index("\nnode 1:"):numa_out.index("\ndistances")]
        assert "partition big (running): 0 of its CPUs, %s MiB of memory\n" % m.group(2) in node1 or \
            "partition big (failed): 0 of its CPUs, %s MiB of memory\n" % m.group(2) in node1, numa_out
        wait_state(h, "big", "failed")
        text = console(h, "big")
        assert re.search(r"^tg: memprobe: \d+ pages ok$", text, re.M), text
        assert "FAIL" not in text, text
        assert re.search(r"^tg: srat: memory 0x[0-9a-f]+-0x[0-9a-f]+ in domain 0$", text, re.M), text
        assert re.search(r"^tg: srat: memory 0x[0-9a-f]+-0x0000000012c00000 in domain 1$", text, re.M), text
        assert "tg: slit: domain 0: 10 20\ntg: slit: domain 1: 20 10\n" in text, text
    finally:
        h.close()
