"""The vCPU backends: `vmtest` runs a tiny guest through the vendor-neutral interface
and checks each exit (OUT, CPUID, hypercall, a fault on unmapped guest memory, HLT),
and leaves no memory behind. Parametrised by backend: svm under QEMU TCG, vmx under
a VMX-capable Bochs (ISTHMUS_BOCHS) or QEMU/KVM."""
import re

import pytest

from conftest import BACKENDS, backend_boot, line_with, make_esp


def free_pages(hv):
    out = hv.cmd("mem")
    m = line_with(out, "total:", re.compile(r"\b(\d+) pages free"))
    assert m, out
    return int(m[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_vmtest(backend, request):
    hv = backend_boot(backend, request.node.name, make_esp())
    try:
        hv.wait_prompt()
        assert line_with(hv.boot_text, "vCPU backend", backend), hv.boot_text
        before_first = free_pages(hv)
        out = hv.cmd("vmtest", timeout=120)
        assert line_with(out, "vmtest:", "5 of 5", backend, "PASS"), out
        # The first run enables virtualization on this CPU for good: SVM needs a
        # host save area and a host VMCB, VMX one VMXON region.
        baseline = free_pages(hv)
        assert before_first - baseline == (2 if backend == "svm" else 1)
        for _ in range(3):
            assert "PASS" in hv.cmd("vmtest", timeout=120)
        assert free_pages(hv) == baseline
    finally:
        hv.close()


IPIWAKE_CONFIG = """[hypervisor]
log_level = "info"

[[partition]]
name = "waker"
cpus = [1, 2]
memory = "16M"
kernel = "testguest.elf"
cmdline = "ipiwake ops=%d"
"""
# IPIs in one run: each lands while the target goes back to sleep (guest/ipiwake.c).
IPIWAKE_OPS = {"svm": 20000, "vmx": 2000}


@pytest.mark.parametrize("backend", BACKENDS)
def test_ipi_wakes_a_halted_vcpu_every_time(backend, request):
    """A vCPU asleep in HLT with its timer off is woken by each fixed IPI the
    other sends, the next sent as soon as the last was counted: none may wait
    for a wake-up that never comes (vmm/vcpu_run.c, wait())."""
    from test_partitions import wait_for
    ops = IPIWAKE_OPS[backend]
    hv = backend_boot(backend, request.node.name, make_esp(IPIWAKE_CONFIG % ops), profile="pc-4cpu")
    try:
        hv.wait_prompt()
        text, m = wait_for(hv, "waker", r"ipiwake: (\d+) sent, (\d+) taken, (\d+) late, longest (\d+) us", timeout=600)
        print(f"\n{m[0]}")
        assert int(m[3]) == 0, text  # late: a wake-up lost (the guest sent it again)
        assert int(m[1]) == ops and int(m[2]) == ops, text
    finally:
        hv.close()
