"""Debian's kernel under shadow paging (docs/paging.md): a stock vmlinuz with
2 vCPUs and `paging = "shadow"` boots to a shell and runs the memory
workloads of guest/linux/mm.c (/bin/isthmus-mm in the initramfs), with the
shadow MMU's figures read from `paging` around each:

  - two processes ping-ponging over a pipe: the root cache hits at least 95%
    of the address-space switches;
  - a fork/exec loop of 100 processes, all of which exit cleanly (1,000 in
    bench/linux_paging.py);
  - 64 MiB touched, checked and freed;
  - four threads that keep writing and checking their own pages while they
    move themselves between the vCPUs (and unmap and map again, so the
    kernel shoots down TLBs across vCPUs): no word ever wrong.

AMD-V under QEMU TCG, VT-x under Bochs (ISTHMUS_BOCHS); on VT-x the APs'
real-mode start runs with EPT and unrestricted guest (docs/paging.md).

And on an AMD-V CPU without NPT (QEMU's -cpu max,-npt), the same kernel with
no `paging` key falls back to shadow paging by itself, boots with both vCPUs
and runs the fork/exec loop and the migrating threads. (Bochs' CPU models all
have EPT: the fallback runs on AMD-V only.)"""
import re

import pytest

from conftest import BACKENDS, Hypervisor, backend_boot, line_with
from test_linux import esp_with_linux, need_debian
from test_linux_shell import INITRD, MARKER, PROMPT, VMLINUZ, Session

BOOT_TIMEOUT = {"svm": 400, "vmx": 3000}
VCPUS = {"svm": [1, 2], "vmx": [1, 2]}


def config(backend, paging='paging = "shadow"\n'):
    cpus = ", ".join(str(c) for c in VCPUS[backend])
    return f"""
[hypervisor]
log_level = "info"

[[partition]]
name = "linux"
cpus = [{cpus}]
memory = "256M"
kernel = "vmlinuz"
initrd = "initramfs.cpio"
cmdline = "console=ttyS0 isthmus.shell=1"
{paging}"""


PAGING_FIELDS = {
    "cr3": r"CR3 loads (\d+)", "hits": r"root cache hits (\d+)", "misses": r"misses (\d+)",
    "faults": r"shadow faults (\d+)", "pt_writes": r"page-table writes emulated (\d+)",
    "memory": r"shadow memory (\d+) KiB", "limit": r"limit (\d+) KiB", "tables": r"shadow table pages (\d+)",
}


class Shadowed(Session):
    """test_linux_shell's session (attach, detach) with the shadow MMU's figures."""

    def __init__(self, hv, backend):
        super().__init__(hv)
        self.backend = backend

    def paging(self):
        self.detach()
        out = self.hv.cmd("paging linux")
        self.attach()
        vals = {}
        for key, pat in PAGING_FIELDS.items():
            m = re.search(pat, out)
            assert m, (key, out)
            vals[key] = int(m.group(1))
        return vals, out

    def run(self, command, answer, timeout):
        self.hv.send_raw(command + "\r")
        self.hv.expect(re.escape(command), timeout=60)
        self.hv.expect(answer, timeout=timeout)
        return self.hv.p.match


@pytest.fixture(scope="module", params=BACKENDS)
def linux(request, tmp_path_factory):
    need_debian(VMLINUZ, INITRD)
    backend = request.param
    hv = backend_boot(backend, f"test_linux_shadow[{backend}]",
                      esp_with_linux(tmp_path_factory.mktemp("esp"), config(backend), VMLINUZ), profile="pc-4cpu")
    try:
        hv.wait_prompt()
        s = Shadowed(hv, backend)
        s.attach()
        hv.expect(MARKER, timeout=BOOT_TIMEOUT[backend])
        hv.expect(re.escape(PROMPT), timeout=120)
        yield s
    finally:
        hv.close()


def slow(s, seconds):
    return seconds * (20 if s.backend == "vmx" else 1)


def test_boots_shadowed_with_its_vcpus(linux):
    m = linux.run("echo cpus-$(nproc)", r"\ncpus-(\d+)\r?\n", 60)
    assert int(m.group(1)) == len(VCPUS[linux.backend])
    vals, out = linux.paging()
    assert "linux: shadow paging" in out, out
    assert 0 < vals["memory"] and vals["memory"] - 4 * vals["tables"] < vals["limit"], out


def test_context_switches_hit_the_root_cache(linux):
    before, _ = linux.paging()
    m = linux.run("isthmus-mm pingpong 1000", r"isthmus-mm: pingpong rounds (\d+) switches (\d+) ns (\d+)\r?\n",
                  slow(linux, 300))
    after, out = linux.paging()
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    switches = int(m.group(2))
    rate = hits / max(1, hits + misses)
    print(f"\npingpong: {switches} switches in {int(m.group(3)) / 1e9:.2f} s, {after['cr3'] - before['cr3']} CR3 loads, "
          f"root cache {hits} hits {misses} misses ({100 * rate:.1f}%)")
    assert after["cr3"] - before["cr3"] >= 0.9 * switches, out
    assert rate >= 0.95, out


def test_fork_exec_loop(linux):
    m = linux.run("isthmus-mm forkexec 100", r"isthmus-mm: forkexec processes (\d+) failed (\d+) ns (\d+)\r?\n",
                  slow(linux, 900))
    assert m.group(1) == "100" and m.group(2) == "0"


def test_touch_and_free_64_mib(linux):
    m = linux.run("isthmus-mm touch 64", r"isthmus-mm: touch mib 64 pages (\d+) bad (\d+) ns (\d+)\r?\n",
                  slow(linux, 300))
    assert m.group(1) == "16384" and m.group(2) == "0"
    vals, out = linux.paging()
    assert vals["memory"] <= vals["limit"] + 4096, out


def test_threads_migrating_see_their_own_pages(linux):
    m = linux.run("isthmus-mm threads 4 3",
                  r"isthmus-mm: threads 4 cpus (\d+) rounds (\d+) moves (\d+) bad (-?\d+)\r?\n",
                  slow(linux, 300))
    assert int(m.group(1)) == len(VCPUS[linux.backend])
    assert int(m.group(2)) > 0 and int(m.group(3)) > 0
    assert m.group(4) == "0", m.group(0)


def test_linux_falls_back_on_a_cpu_without_npt(tmp_path):
    need_debian(VMLINUZ, INITRD)
    hv = Hypervisor("test_linux_shadow-no-npt", "pc-4cpu", esp_with_linux(tmp_path, config("svm", paging=""), VMLINUZ),
                    extra=("-cpu", "max,-npt"))
    try:
        hv.wait_prompt()
        text = hv.boot_text
        assert line_with(text, "svm:", "no NPT", "shadow paging"), text
        assert line_with(text, "linux:", "no EPT/NPT", "shadow paging"), text
        s = Shadowed(hv, "svm")
        s.attach()
        hv.expect(MARKER, timeout=BOOT_TIMEOUT["svm"])
        hv.expect(re.escape(PROMPT), timeout=120)
        m = s.run("echo cpus-$(nproc)", r"\ncpus-(\d+)\r?\n", 60)
        assert int(m.group(1)) == len(VCPUS["svm"])
        m = s.run("isthmus-mm forkexec 50", r"isthmus-mm: forkexec processes (\d+) failed (\d+) ns (\d+)\r?\n", 600)
        assert m.group(1) == "50" and m.group(2) == "0"
        m = s.run("isthmus-mm threads 2 2",
                  r"isthmus-mm: threads 2 cpus (\d+) rounds (\d+) moves (\d+) bad (-?\d+)\r?\n",
                  300)
        assert int(m.group(1)) == 2 and int(m.group(3)) > 0 and m.group(4) == "0", m.group(0)
        vals, out = s.paging()
        assert "linux: shadow paging" in out and vals["faults"] > 0, out
    finally:
        hv.close()
