#!/usr/bin/python3
"""VM exits of stock Linux partitions (docs/performance.md, "Linux guests").

One boot (profile pc-linux; Bochs for vmx) with three partitions of Debian's
cloud kernel as shipped (build/debian/vmlinuz, `make debian-kernel`), one vCPU
and 128 MiB each:

  tx    isthmus.role=client: sends over one TCP connection to rx, as fast
        as its stack goes (the roles of guest/linux/net-init; both ends are
        /bin/isthmus-stream, guest/linux/stream.c)
  rx    isthmus.role=server: receives it
  idle  isthmus.shell=1: a busybox shell waiting on ttyS0, nothing running

Figures, all read from the hypervisor's shell:

- VM exits per 1,000 frames of the TCP flow, total and by reason: the exits
  of tx and rx (`vcpus NAME`) over the frames the switch carried between them
  in both directions (`net`: the data segments and the ACKs), over a window
  of the flow's steady state (from 1 MiB sent to 1 MiB + the window: 64 MiB
  on svm, 32 MiB on vmx, or ISTHMUS_BENCH_WINDOW_MIB; the flow goes on for a
  quarter of the window more). Per 1,000 data frames too (tx's frames alone).
- VM exits per second of the idle partition, over IDLE_S seconds after the
  flow's window (two minutes or more after its init started), by the
  hypervisor's clock (`version`).
- Boot time to init, per partition: the init's first line says kvm-clock's
  sched offset (the kvm-clock time, from the partition's start, at which the
  kernel log's clock read 0); that plus the line's own time stamp is the time
  from the partition's start to its init. Guest time, so emulator time here:
  only comparable between runs on one machine.

Exits are counts, the same on any host for the same guest behaviour; under
TCG the guest's TCP stack, not the switch, sets the frame rate (a few hundred
frames a second), so the guest's timer tick is a larger share of the exits
per frame than it would be at hardware speed: the breakdown shows it.

  make esp debian-kernel && bench/linux.py [svm|vmx]     (make bench-linux)

vmx runs under Bochs when ISTHMUS_BOCHS names a VMX-capable one; when Linux
does not reach its init there within ISTHMUS_BENCH_BOOT_S (default 1800 s),
the backend is reported as skipped with the reason.
"""
import os
import pathlib
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "boot"))
import pexpect  # noqa: E402
import pytest  # noqa: E402  (the harness reports a missing runner through pytest.skip)

from conftest import BUILD, backend_boot  # noqa: E402
from test_linux import esp_with_linux, linux_partition  # noqa: E402
from test_partitions import console  # noqa: E402

VMLINUZ = os.path.join(BUILD, "debian", "vmlinuz")
INITRD = os.path.join(BUILD, "debian", "initramfs.cpio")
MIB = 1 << 20
WINDOW_MIB = {"svm": 64, "vmx": 32}
IDLE_S = int(os.environ.get("ISTHMUS_BENCH_IDLE_S", "60"))
# Linux ticks several times a second for a minute or more after its init
# started (8 local timer interrupts/s at 45 s), then about once every 1.5 s.
IDLE_SETTLE_S = 120
IP = {"tx": "10.0.10.1", "rx": "10.0.10.2"}



def config(nbytes):
    return ('[hypervisor]\nconsole = "com1"\nlog_level = "info"\n' +
            linux_partition("tx", 1, f"isthmus.net={IP['tx']}/24 isthmus.role=client isthmus.peer={IP['rx']} "
                            f"isthmus.port=5000 isthmus.bytes={nbytes}", extra="vlan = 10\n") +
            linux_partition("rx", 2, f"isthmus.net={IP['rx']}/24 isthmus.role=server isthmus.ports=5000",
                            extra="vlan = 10\n") +
            linux_partition("idle", 3, "isthmus.shell=1", nic=False))

# What the exits were for, from the other lines of `vcpus`: (key, pattern).
COUNTERS = [("interrupts injected", None), ("EOIs", r"APIC: \S+ mode, EOIs (\d+)"), ("PV EOIs", r"PV EOIs (\d+)"),
            ("timer expiries", r"timer expiries (\d+)"), ("TSC-deadline writes", r"TSC-deadline writes (\d+)"),
            ("APIC accesses, x2APIC too", r"APIC accesses (\d+)"),
            ("NIC register accesses", r"NIC register accesses (\d+)"), ("MSIs", r"device MSIs forwarded (\d+)")]


def vcpus(hv, name):
    """`name`'s vCPUs summed: {"exits": n, "r:REASON": n, ..., "c:COUNTER": n}."""
    out = hv.cmd(f"vcpus {name}")
    total = {"exits": 0}

    def bump(key, n):
        total[key] = total.get(key, 0) + n

    for m in re.finditer(r"^%s\s+\d+\s+\d+\s+\S+\s+(\d+)\s+(\d+)$" % re.escape(name), out, re.M):
        bump("exits", int(m[1]))
        bump("c:interrupts injected", int(m[2]))
    for line in re.findall(r"^\s+exits by reason: (.*)$", out, re.M):
        for m in re.finditer(r"([^,]+?) (\d+)(?:, |$)", line):
            bump("r:" + m[1], int(m[2]))
    for key, pat in COUNTERS:
        for m in re.finditer(pat, out) if pat else ():
            bump("c:" + key, int(m[1]))
    if not total["exits"]:
        raise SystemExit(f"vcpus {name}: no vCPU line:\n{out}")
    return total


def port(hv, name):
    out = hv.cmd("net")
    m = re.search(r"^port \d+ %s .*?(?=^port |\Z)" % re.escape(name), out, re.M | re.S)
    if not m:
        raise SystemExit(f"net: no port {name}:\n{out}")
    block = m[0]
    tx = re.search(r"^\s+tx frames=(\d+) bytes=(\d+)", block, re.M)
    rx = re.search(r"^\s+rx frames=(\d+) bytes=(\d+)", block, re.M)
    nt = re.search(r"notifies=(\d+) interrupts=(\d+)", block)
    return {"tx": int(tx[1]), "tx_bytes": int(tx[2]), "rx": int(rx[1]), "notifies": int(nt[1]),
            "interrupts": int(nt[2])}


def uptime_ms(hv):
    m = re.search(r"uptime (\d+)\.(\d+) s", hv.cmd("version"))
    return int(m[1]) * 1000 + int(m[2])


def boot_ms(text):
    """Partition start to the init's first line, from that line (see above)."""
    m = re.search(r"^\[\s*(\d+)\.(\d+)\] isthmus-init: started, sched offset (\d+) ns", text, re.M)
    if not m:
        return None
    return int(m[1]) * 1000 + int(m[2]) / 1000 + int(m[3]) / 1e6


def delta(a, b):
    return {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b)}


def add(a, b):
    return {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)}


def wait_boot(hv, names, timeout):
    """Polls the consoles until each init's first line; returns {name: ms}."""
    got, deadline = {}, time.time() + timeout
    while len(got) < len(names):
        for name in names:
            if name not in got:
                text = console(hv, name)
                ms = boot_ms(text)
                if ms is not None:
                    got[name] = ms
                elif "isthmus-init:" in text or "isthmus-net:" in text:
                    raise SystemExit(f"{name}: its init ran but its first line scrolled out of the console "
                                     f"ring, or the initramfs is older than this bench (make debian-kernel)")
        if time.time() > deadline:
            return got
        time.sleep(2)
    return got


def wait_tx_bytes(hv, at_least, timeout):
    deadline = time.time() + timeout
    while True:
        p = port(hv, "tx")
        if p["tx_bytes"] >= at_least:
            return
        if time.time() > deadline:
            raise SystemExit(f"tx sent {p['tx_bytes']} bytes, not {at_least}, within {timeout} s")
        time.sleep(1)


def sample(hv):
    return {"tx": vcpus(hv, "tx"), "rx": vcpus(hv, "rx"), "ptx": port(hv, "tx"), "prx": port(hv, "rx"),
            "ms": uptime_ms(hv)}


def idle_sample(hv):
    return {"idle": vcpus(hv, "idle"), "ms": uptime_ms(hv)}


def report(backend, window, boot, s0, s1, i0, i1):
    dtx, drx = delta(s0["tx"], s1["tx"]), delta(s0["rx"], s1["rx"])
    ex = add(dtx, drx)
    port_d = {k: (s1["ptx"][k] - s0["ptx"][k], s1["prx"][k] - s0["prx"][k]) for k in ("notifies", "interrupts")}
    data = s1["ptx"]["tx"] - s0["ptx"]["tx"]
    frames = data + s1["prx"]["tx"] - s0["prx"]["tx"]
    secs = (s1["ms"] - s0["ms"]) / 1000
    idle, isecs = delta(i0["idle"], i1["idle"]), (i1["ms"] - i0["ms"]) / 1000

    if not data or secs <= 0:
        raise SystemExit(f"backend {backend}: no frame in the window: the flow ended before the first look "
                         f"(ISTHMUS_BENCH_WINDOW_MIB larger than {window >> 20})")

    def per_k(n):
        return 1000 * n / frames

    print(f"\nbackend {backend}: TCP flow tx -> rx, a window of {window >> 20} MiB: {data} data frames and "
          f"{frames - data} back, in {secs:.1f} s of hypervisor time ({frames / secs:.0f} frames/s)")
    print(f"VM exits per 1,000 frames (both directions): {per_k(ex['exits']):.1f}; "
          f"per 1,000 data frames: {1000 * ex['exits'] / data:.1f}")
    print(f"  {'by reason':30} {'per 1,000':>10} {'tx':>8} {'rx':>8}")
    for k in sorted((k for k in ex if k.startswith("r:") and ex[k]), key=lambda k: -ex[k]):
        print(f"  {k[2:]:30} {per_k(ex[k]):10.1f} {dtx.get(k, 0):8} {drx.get(k, 0):8}")
    print("  what for (not exits themselves):")
    for key, _ in COUNTERS:
        k = "c:" + key
        if ex.get(k):
            print(f"    {key:28} {per_k(ex[k]):10.1f} {dtx.get(k, 0):8} {drx.get(k, 0):8}")
    for key, (a, b) in port_d.items():
        print(f"    {'NIC ' + key + ' (switch)':28} {per_k(a + b):10.1f} {a:8} {b:8}")
    print(f"idle partition: {idle['exits'] / isecs:.2f} exits/s over {isecs:.1f} s; " +
          ", ".join(f"{k[2:]} {idle[k] / isecs:.2f}" for k in sorted(idle) if k[1] == ":" and idle[k]))
    print("boot to init: " + ", ".join(f"{n} {boot[n] / 1000:.2f} s" for n in sorted(boot)))


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "svm"
    for path in (VMLINUZ, INITRD):
        if not os.path.exists(path):
            raise SystemExit(f"{path} missing: make debian-kernel")
    boot_s = int(os.environ.get("ISTHMUS_BENCH_BOOT_S", "1800" if backend == "vmx" else "300"))
    window = int(os.environ.get("ISTHMUS_BENCH_WINDOW_MIB", WINDOW_MIB.get(backend, 4))) * MIB
    nbytes = 1 * MIB + window + window // 4  # the flow goes on past the window's end
    try:
        hv = backend_boot(backend, f"bench-linux-{backend}",
                          esp_with_linux(pathlib.Path(tempfile.mkdtemp(prefix="isthmus-bench-")), config(nbytes), VMLINUZ),
                          profile="pc-linux")
    except pytest.skip.Exception as e:
        print(f"backend {backend}: skipped: {e}")
        return
    try:
        try:
            hv.wait_prompt(timeout=boot_s)
        except pexpect.TIMEOUT:
            print(f"backend {backend}: skipped: no shell prompt within {boot_s} s (log: {hv.logpath})")
            return
        boot = wait_boot(hv, ["tx", "rx", "idle"], boot_s)
        idle_seen = time.time()
        if len(boot) < 3:
            missing = sorted({"tx", "rx", "idle"} - set(boot))
            print(f"backend {backend}: skipped: Linux did not reach its init within {boot_s} s in {missing} "
                  f"(log: {hv.logpath})")
            return
        wait_tx_bytes(hv, 1 * MIB, boot_s)
        s0 = sample(hv)
        wait_tx_bytes(hv, 1 * MIB + window, 1800)
        s1 = sample(hv)
        # The idle one after the flow, once its init's start-up work is over.
        time.sleep(max(0, IDLE_SETTLE_S - (time.time() - idle_seen)))
        i0 = idle_sample(hv)
        time.sleep(IDLE_S)
        i1 = idle_sample(hv)
        report(backend, window, boot, s0, s1, i0, i1)
    finally:
        hv.close()


if __name__ == "__main__":
    main()
