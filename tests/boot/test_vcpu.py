"""The vCPU backends: `vmtest` runs a tiny guest through the vendor-neutral interface
and checks each exit (OUT, CPUID, hypercall, a fault on unmapped guest memory, HLT),
and leaves no memory behind. Parametrised by backend: svm under QEMU TCG, vmx under
a VMX-capable Bochs (ISTHMUS_BOCHS) or QEMU/KVM."""
import re

import pytest

from conftest import BACKENDS, backend_boot, make_esp


def free_pages(hv):
    m = re.search(r"^total: .*\((\d+) pages free", hv.cmd("mem"), re.M)
    assert m
    return int(m.group(1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_vmtest(backend, request):
    hv = backend_boot(backend, request.node.name, make_esp())
    try:
        hv.wait_prompt()
        assert f"vCPU backend: {backend}" in hv.boot_text, hv.boot_text
        before_first = free_pages(hv)
        out = hv.cmd("vmtest", timeout=120)
        assert f"vmtest: 5 of 5 exits as expected on {backend}: PASS" in out, out
        # The first run enables virtualization on this CPU for good: SVM needs a
        # host save area and a host VMCB, VMX one VMXON region.
        baseline = free_pages(hv)
        assert before_first - baseline == (2 if backend == "svm" else 1)
        for _ in range(3):
            assert "PASS" in hv.cmd("vmtest", timeout=120)
        assert free_pages(hv) == baseline
    finally:
        hv.close()
