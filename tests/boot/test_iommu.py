"""DMA remapping discovery (issue 19, point 1) on QEMU's two IOMMU models: q35
with intel-iommu (a DMAR) and with amd-iommu (an IVRS), each with an e1000e
behind a root port. `acpi` must list the unit with its scopes, `pci` must give
every function the unit that covers it, and the hypervisor must still run a
partition normally with the IOMMU present and on (every device blocked until
a partition owns it: tests/boot/test_dma.py drives DMA through it)."""
import re

import pytest

from conftest import line_with, make_esp, partition_toml, Hypervisor
import qemu

CONFIG = '[hypervisor]\nlog_level = "info"\n' + partition_toml("hello", 1, "hello tick_ms=100")

# What QEMU 7.2 puts in the tables of these profiles (tests/unit/fixtures/acpi/).
EXPECT = {
    "q35-intel-iommu": {
        "table": "DMAR", "vendor": "VT-d", "base": "00000000fed90000",
        "scopes": [("I/O APIC 0, source ff:00.0",), ("endpoint 00:00.0 = 00:00.0",),
                   ("bridge 00:01.0 = 00:01.0, buses 01-01",), ("endpoint 00:1f.2 = 00:1f.2",)],
    },
    "q35-amd-iommu": {
        "table": "IVRS", "vendor": "AMD-Vi", "base": "00000000fed80000",
        "scopes": [("devices 00:00.0",), ("devices 01:00.0-01:1f.7",), ("I/O APIC 0, source 00:14.0",)],
    },
}


@pytest.fixture(scope="module", params=sorted(EXPECT))
def hv(request, tmp_path_factory):
    esp = make_esp(CONFIG, str(tmp_path_factory.mktemp("esp")))
    h = Hypervisor(f"iommu-{request.param}", request.param, esp)
    h.profile = request.param
    try:
        h.boot_text = h.wait_prompt()
        yield h
    finally:
        h.close()


def pci_rows(out):
    """{bdf: iommu column} from `pci`."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.\d)\s+[0-9a-f]{4}:[0-9a-f]{4}\s+\S+\s+\S+\s+(\S+)\s", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def test_acpi_lists_the_unit(hv):
    e = EXPECT[hv.profile]
    out = hv.cmd("acpi")
    assert re.search(r"^%s\s+[0-9a-f]{16}\s+\d+\s+\d+\s+BOCHS\s+BXPC\s+ok$" % e["table"], out, re.M), out
    assert line_with(out, "iommu0", e["vendor"], "registers", e["base"], "segment 0", "ok"), out
    assert "NOT USED" not in out, out
    for facts in e["scopes"]:
        assert line_with(out, *facts), (facts, out)
    assert line_with(out, "DMA remapping:", "1 of 1 units on"), out
    assert line_with(out, "on:", e["vendor"], "0 devices attached", "0 faults"), out
    if e["table"] == "DMAR":
        assert line_with(out, "DMAR:", "DMA address width 39 bits", "interrupt remapping supported"), out
    else:
        assert line_with(out, "iommu0", "IVHD 10h", "function 00:01.0"), out


def test_pci_shows_each_function_unit(hv):
    out = hv.cmd("pci")
    rows = pci_rows(out)
    # The host bridge, the root port, the e1000e behind it, the ICH9 functions
    # (and on AMD the IOMMU's own function): QEMU names every one of them.
    assert {"0000:00:00.0", "0000:00:01.0", "0000:01:00.0", "0000:00:1f.0", "0000:00:1f.2"} <= set(rows), out
    assert set(rows.values()) == {"iommu0"}, out
    assert re.search(r"^0000:01:00\.0\s+8086:10d3\s+0\s+hypervisor\s+iommu0\s+0\s+02\.00", out, re.M), out
    assert line_with(out, "IOMMU:", "FAULTS:"), out


def test_boot_log_and_partition_runs(hv):
    assert line_with(hv.boot_text, "iommu", "1 DMA remapping unit(s) found, 1 on"), hv.boot_text
    assert line_with(hv.boot_text, "iommu0 on:", "every device blocked"), hv.boot_text
    assert "names no function" not in hv.boot_text, hv.boot_text
    out = hv.cmd("parts")
    assert re.search(r"^hello\s+running\s+1\s+1\s", out, re.M), out
    log = hv.cmd("log warn")
    assert not re.search(r"\b(acpi|iommu)\b.*(not used|malformed|names no function)", log), log
