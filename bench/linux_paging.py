#!/usr/bin/python3
"""Shadow against nested paging with Linux (docs/performance.md, "With Linux").

One boot (pc-7cpu; Bochs for vmx) with two partitions of Debian's kernel,
the same initramfs with a shell: "sh" under shadow paging and
"ne" under nested paging (160 MiB each, so that the profile's node holds
both; 2 vCPUs each on AMD-V, 1 each under Bochs). Each runs guest/linux/mm.c's workloads, one partition after
the other (the partitions' CPUs are separate, but under an emulator the host's
cores are shared): two processes ping-ponging on one vCPU (20,000 switches), a
fork/exec loop of 1,000 processes, and 64 MiB touched, checked and freed.
Printed: the guest's own time for each and the shadow/nested ratio, VM exits
per context switch and per fork/exec'd process for both (and the shadow MMU's
faults, emulated page-table writes, floods, CR3 loads and vCPU syncs per
process), the root-cache hit rate over the ping-pong, and
the shadow memory held per GiB of guest memory. Times are emulator time, for
the ratio only; exits per switch and the hit rate are counts.

  make esp guest linux-guest && bench/linux_paging.py [svm|vmx]   (vmx needs ISTHMUS_BOCHS)
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "boot"))
import pytest  # noqa: E402

from conftest import backend_boot, fact_line  # noqa: E402
from test_linux import esp_with_linux  # noqa: E402
from test_linux_shell import MARKER, PROMPT, VMLINUZ  # noqa: E402
from test_partitions import parts  # noqa: E402

SWITCHES, PROCS, MIB, GUEST_MIB = 20000, 1000, 64, 160


def config(backend):
    cpus = {"sh": "1, 2", "ne": "3, 4"} if backend == "svm" else {"sh": "1", "ne": "2"}
    text = '[hypervisor]\nlog_level = "warn"\n'
    for name, paging in (("sh", "shadow"), ("ne", "nested")):
        text += (f'\n[[partition]]\nname = "{name}"\ncpus = [{cpus[name]}]\nmemory = "{GUEST_MIB}M"\n'
                 f'kernel = "vmlinuz"\ninitrd = "initramfs.cpio"\ncmdline = "console=ttyS0 isthmus.shell=1"\n'
                 f'paging = "{paging}"\n')
    return text


SHADOW_COUNTS = {"faults": r"shadow faults (\d+)", "reflected": r"reflected to the guest (\d+)",
                 "pt_writes": r"page-table writes emulated (\d+)", "floods": r"write floods (\d+)",
                 "cr3": r"CR3 loads (\d+)", "syncs": r"vCPU syncs (\d+)"}


def shadow_counts(hv):
    out = hv.cmd("paging sh")
    return {k: int(re.search(p, out)[1]) for k, p in SHADOW_COUNTS.items()}


class Guest:
    def __init__(self, hv, name):
        self.hv, self.name = hv, name

    def attach(self, timeout=60):
        self.hv.send_raw(f"console {self.name}\r")
        self.hv.expect(fact_line("console:", "attached", self.name).pattern + r"\n", timeout=timeout)

    def detach(self):
        self.hv.send_raw("\x1d")
        self.hv.expect(fact_line("console:", "detached", self.name).pattern + r"\n")
        self.hv.expect_prompt()

    def run(self, command, answer, timeout):
        self.attach()
        self.hv.send_raw(command + "\r")
        self.hv.expect(re.escape(command), timeout=60)
        self.hv.expect(answer, timeout=timeout)
        m = self.hv.p.match
        self.detach()
        return m

    def exits(self):
        rows, _ = parts(self.hv)
        return rows[self.name]["exits"]


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "svm"
    try:
        import tempfile
        import pathlib
        esp = esp_with_linux(pathlib.Path(tempfile.mkdtemp()), config(backend), VMLINUZ)
        hv = backend_boot(backend, f"bench-linux-paging-{backend}", esp, profile="pc-7cpu")
    except pytest.skip.Exception as e:
        raise SystemExit(f"cannot run {backend}: {e}")
    slow = 20 if backend == "vmx" else 1
    try:
        hv.wait_prompt(timeout=600)
        rows, out = parts(hv)
        for n in ("sh", "ne"):
            if rows.get(n, {}).get("state") != "running":
                raise SystemExit(f"partition {n} is not running:\n{out}")
        guests = {n: Guest(hv, n) for n in ("sh", "ne")}
        for g in guests.values():
            g.attach()
            hv.expect(MARKER, timeout=600 * slow)
            hv.expect(re.escape(PROMPT), timeout=120)
            g.detach()
        res = {}
        for name, g in guests.items():
            r = {}
            if name == "sh":
                out = hv.cmd("paging sh")
                h0, m0 = (int(x) for x in re.search(r"root cache hits (\d+), misses (\d+)", out).groups())
            e0 = g.exits()
            m = g.run(f"isthmus-mm pingpong {SWITCHES // 2}",
                      r"isthmus-mm: pingpong rounds \d+ switches (\d+) ns (\d+)\r?\n",
                      600 * slow)
            r["exits_per_switch"] = (g.exits() - e0) / int(m[1])
            r["pingpong"] = int(m[2])
            if name == "sh":
                out = hv.cmd("paging sh")
                h1, m1 = (int(x) for x in re.search(r"root cache hits (\d+), misses (\d+)", out).groups())
                r["hit_rate"] = (h1 - h0) / max(1, (h1 - h0) + (m1 - m0))
            e0 = g.exits()
            s0 = shadow_counts(hv) if name == "sh" else None
            m = g.run(f"isthmus-mm forkexec {PROCS}",
                      r"isthmus-mm: forkexec processes \d+ failed (\d+) ns (\d+)\r?\n",
                      1800 * slow)
            assert m[1] == "0", m[0]
            r["forkexec"] = int(m[2])
            r["exits_per_proc"] = (g.exits() - e0) / PROCS
            if s0:
                s1 = shadow_counts(hv)
                r["per_proc"] = {k: (s1[k] - s0[k]) / PROCS for k in s0}
            m = g.run(f"isthmus-mm touch {MIB}", r"isthmus-mm: touch mib \d+ pages \d+ bad (\d+) ns (\d+)\r?\n",
                      600 * slow)
            assert m[1] == "0", m[0]
            r["touch"] = int(m[2])
            res[name] = r
        out = hv.cmd("paging sh")
        mem_kib = int(re.search(r"shadow memory (\d+) KiB", out)[1])
        peak_kib = int(re.search(r"peak (\d+) KiB", out)[1])
        sh, ne = res["sh"], res["ne"]
        print(f"backend {backend}: Debian's kernel, {GUEST_MIB} MiB, shadow (sh) vs nested (ne) paging")
        print(f"{'workload':34} {'shadow ms':>10} {'nested ms':>10} {'ratio':>7}")
        for key, label in (("pingpong", f"pipe ping-pong, {SWITCHES} switches"),
                           ("forkexec", f"fork/exec of {PROCS} processes"), ("touch", f"touch and free {MIB} MiB")):
            print(f"{label:34} {sh[key] / 1e6:10.1f} {ne[key] / 1e6:10.1f} {sh[key] / ne[key]:7.2f}")
        print(f"VM exits per context switch: shadow {sh['exits_per_switch']:.2f}, nested {ne['exits_per_switch']:.2f}")
        print(f"root-cache hit rate over the ping-pong: {100 * sh['hit_rate']:.1f}%")
        print(f"VM exits per fork/exec'd process: shadow {sh['exits_per_proc']:.0f}, nested {ne['exits_per_proc']:.0f}; "
              "shadow, per process: " + ", ".join(f"{k} {v:.0f}" for k, v in sh["per_proc"].items()))
        print(f"shadow memory: {mem_kib} KiB now, tables' peak {peak_kib} KiB: "
              f"{mem_kib / 1024 * 1024 / GUEST_MIB:.1f} MiB per GiB of guest memory")
    finally:
        hv.close()


if __name__ == "__main__":
    main()
