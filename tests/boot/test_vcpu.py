"""The vCPU backend on this machine: `vmtest` runs a tiny guest through the
vendor-neutral interface and checks each exit (OUT, CPUID, hypercall, a fault on
unmapped guest memory, HLT), and leaves no memory behind.

AMD-V runs under QEMU TCG here. The VT-x backend is not built yet; its run is
added with it (see docs/testing.md)."""
import re

from conftest import module_boot

pc1 = module_boot("pc-1node")


def free_pages(hv):
    m = re.search(r"^total: .*\((\d+) pages free", hv.cmd("mem"), re.M)
    assert m
    return int(m.group(1))


def test_vmtest_svm(pc1):
    assert "vCPU backend: svm" in pc1.boot_text
    before_first = free_pages(pc1)
    out = pc1.cmd("vmtest")
    assert "vmtest: 5 of 5 exits as expected on svm: PASS" in out, out
    # The first run enables SVM on this CPU for good (host save area, host state).
    baseline = free_pages(pc1)
    assert before_first - baseline == 2
    for _ in range(3):
        assert "PASS" in pc1.cmd("vmtest")
    assert free_pages(pc1) == baseline
