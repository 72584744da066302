"""DMA isolation of an assigned device (issue 19, point 2) on QEMU's VT-d and
AMD-Vi models, with QEMU's edu device (a DMA engine the test guest drives:
guest/README.md, "dma"). A partition owns the edu; a neighbour holds a canary
page. The owner's own memory goes through the device and back (its
guest-physical addresses work as bus addresses: the unit translates them),
its DMA to the neighbour's canary (host address) is blocked and logged with
the device, address and direction, and counted in `pci` and `parts -v`; the
canary is intact. Without an IOMMU (`iommu = "optional"`) the same write
lands: the test can fail. With `iommu = "required"` and no unit the device
is not assigned."""
import re
import time

import pytest

from conftest import line_with, make_esp, partition_toml, Hypervisor
from test_partitions import console, wait_for
import qemu

EDU = qemu.PROFILES["q35-edu"]["edu_bdf"]
CANARY_GPA = 0x800000
# Whether the emulated unit reports its faults: QEMU 7.2's AMD-Vi model never
# writes an event to the event log (a bug in its register helpers, fixed
# upstream in 2025), so on AMD-Vi the blocking is checked and the fault log
# is not (the event decoding is unit-tested: tests/unit/test_amdvi.c).
FAULTS_REPORTED = {"q35-intel-iommu-edu": True, "q35-amd-iommu-edu": False}
CANARY_HEX = "43 41 4e 41 52 59"                                 # "CANARY"


def config(iommu=None):
    top = '[hypervisor]\nlog_level = "info"\n'
    if iommu:
        top += f'iommu = "{iommu}"\n'
    return (top + partition_toml("dma", 1, "dma", extra=f'devices = ["{EDU}"]\n')
            + partition_toml("victim", 2, f"canary canary={CANARY_GPA:#x}"))


def attach(h, name):
    h.send_raw(f"console {name}\r")
    h.expect(r"console: attached to %s" % re.escape(name))


def detach(h):
    h.send_raw("\x1d")
    h.expect(r"console: detached")
    h.expect_prompt()


def type_for(h, text, answer, timeout=60):
    """Types a line at the attached console; returns the match of `answer`."""
    h.send_raw(text + "\r")
    h.p.expect(answer, timeout=timeout)
    return h.p.match


def canary_host(h):
    """The host-physical address of the victim's canary page."""
    m = re.search(r"victim started: .*? \d+ MiB at host (0x[0-9a-f]+)", h.cmd("log"))
    assert m, "victim's host block not in the log"
    return int(m.group(1), 16) + CANARY_GPA


def boot(request, tmp_path, profile, cfg, part=""):
    h = Hypervisor(f"{request.node.name}{part}", profile, make_esp(cfg, str(tmp_path)))
    h.boot_text = h.wait_prompt()
    return h


@pytest.mark.parametrize("profile", ["q35-intel-iommu-edu", "q35-amd-iommu-edu"])
def test_dma_stays_in_its_partition(request, tmp_path, profile):
    h = boot(request, tmp_path, profile, config())
    try:
        text = h.boot_text
        assert line_with(text, "iommu0 on:"), text
        assert line_with(text, "dma:", EDU, "DMA remapped by iommu0"), text
        assert "DMA anywhere" not in text, text
        wait_for(h, "dma", r"^tg: dma: edu at 00:01\.0 BAR0")
        wait_for(h, "victim", r"^tg: canary: 4096 bytes at 0x800000 filled$")
        target = canary_host(h)
        attach(h, "dma")
        # Its own memory through the device and back: translated, not host-physical.
        m = type_for(h, "roundtrip", r"tg: dma: own memory round trip (ok|FAILED)")
        assert m.group(1) == "ok", m.group(0)
        # The neighbour's canary: written and read by host address, both blocked.
        m = type_for(h, f"write {target:#x}", r"tg: dma: write (0x[0-9a-f]+) 64 bytes: (done|timeout)")
        assert int(m.group(1), 16) == target and m.group(2) == "done", m.group(0)
        m = type_for(h, f"read {target:#x}", r"tg: dma: read 0x[0-9a-f]+: (\w+)(: [0-9a-f ]+)?\r?\n")
        assert CANARY_HEX not in (m.group(2) or ""), m.group(0)
        detach(h)
        attach(h, "victim")
        m = type_for(h, "check", r"tg: canary: (intact|changed at offset \d+:)")
        assert m.group(1) == "intact", m.group(0)
        detach(h)
        out = h.cmd("parts -v")
        assert line_with(out, "DMA:", "remapped by iommu0", "domain 1"), out
        acpi = h.cmd("acpi")
        assert line_with(acpi, "DMA remapping:", "1 of 1 units on"), acpi
        assert line_with(acpi, "on:", "1 devices attached"), acpi
        if FAULTS_REPORTED[profile]:
            # The unit recorded both; the management tick logged them.
            log = ""
            for _ in range(30):
                log = h.cmd("log warn")
                if line_with(log, "iommu0:", "DMA read", "(dma) blocked"):
                    break
                time.sleep(1)
            page = f"{target & ~0xfff:#x}"
            assert line_with(log, "iommu0:", "DMA write", page, EDU, "(dma) blocked"), log
            assert line_with(log, "iommu0:", "DMA read", page, EDU, "(dma) blocked"), log
            pci = h.cmd("pci")
            row = re.search(r"^%s\s+1234:11e8\s+\S+\s+dma\s+iommu0\s+(\d+)\s" % re.escape(EDU), pci, re.M)
            assert row and int(row.group(1)) >= 2, pci
            m = line_with(h.cmd("parts -v"), "DMA faults:", re.compile(r"\b(\d+) \(all runs\)"))
            assert m and int(m[1]) >= 2, out
            assert line_with(acpi, "on:", re.compile(r"\b[1-9]\d* faults")), acpi
        # Stopped, the device is blocked again; started, it is remapped again.
        h.cmd("part stop dma")
        assert line_with(h.cmd("acpi"), "on:", "0 devices attached"), h.cmd("acpi")
        h.cmd("part start dma")
        wait_for(h, "dma", r"(?s)tg: dma: edu at.*tg: dma: edu at 00:01\.0 BAR0")
        attach(h, "dma")
        m = type_for(h, "roundtrip", r"tg: dma: own memory round trip (ok|FAILED)")
        assert m.group(1) == "ok", m.group(0)
        detach(h)
    finally:
        h.close()


def test_without_iommu_the_write_lands(request, tmp_path):
    """The control: no unit, assignment allowed explicitly; the same write
    reaches the neighbour's canary (so the test above can fail). Only the
    write is tried: without a unit the guest's own pages are host addresses
    to the device, so the pattern it sends is whatever the host holds at its
    page's guest-physical address (read, harmless), and a `read` would write
    host memory there."""
    h = boot(request, tmp_path, "q35-edu", config("optional"))
    try:
        assert line_with(h.boot_text, "dma: no IOMMU is used", EDU, "DMA anywhere"), h.boot_text
        wait_for(h, "dma", r"^tg: dma: edu at 00:01\.0 BAR0")
        wait_for(h, "victim", r"^tg: canary: 4096 bytes at 0x800000 filled$")
        target = canary_host(h)
        attach(h, "dma")
        type_for(h, f"write {target:#x}", r"tg: dma: write 0x[0-9a-f]+ 64 bytes: done")
        detach(h)
        attach(h, "victim")
        m = type_for(h, "check", r"tg: canary: (intact|changed at offset \d+:)")
        assert m.group(1) != "intact", m.group(0)
        detach(h)
        out = h.cmd("parts -v")
        assert line_with(out, "DMA:", "NOT remapped"), out
    finally:
        h.close()


def test_required_without_iommu_refuses_the_device(request, tmp_path):
    h = boot(request, tmp_path, "q35-edu", config("required"))
    try:
        out = h.cmd("parts")
        assert re.search(r"^dma\s+refused", out, re.M), out
        assert re.search(r"^victim\s+running", out, re.M), out
        log = h.cmd("log error")
        assert line_with(log, "dma", EDU, "cannot be assigned", "no usable DMA remapping unit"), log
    finally:
        h.close()


def policy_config(device, action, limit=5):
    return ('[hypervisor]\nlog_level = "info"\n'
            + partition_toml("dma", 1, "dma", extra=f'devices = ["{device}"]\ndevice_fault = "{action}"\n'
                             f"device_fault_limit = {limit}\n")
            + partition_toml("victim", 2, "hello tick_ms=500"))


OUTSIDE = 0x40000000   # 1 GiB: far past the owner's 16 MiB


def storm_until_failed(h):
    """The owner's edu writes outside its memory 20 times; returns `parts -v`
    once the owner has failed (or after a minute)."""
    wait_for(h, "dma", r"^tg: dma: edu at 00:01\.0 BAR0")
    attach(h, "dma")
    h.send_raw(f"storm {OUTSIDE:#x}\r")
    detach(h)
    out = ""
    for _ in range(60):
        out = h.cmd("parts -v")
        if re.search(r"^dma\s+failed", out, re.M):
            break
        time.sleep(1)
    return out


@pytest.mark.parametrize("profile", [p for p, yes in FAULTS_REPORTED.items() if yes])
def test_repeated_faults_fail_the_partition(request, tmp_path, profile):
    """device_fault = "fail": a storm of DMA faults fails the owner with the
    device and the count in its reason; the neighbour runs on; the log stays
    short (rate-limited). VT-d only: QEMU's AMD-Vi reports no faults."""
    h = boot(request, tmp_path, profile, policy_config(EDU, "fail"))
    try:
        out = storm_until_failed(h)
        assert re.search(r"^dma\s+failed", out, re.M), out
        assert line_with(out, EDU, "made 6 DMA faults within 1 s", "device_fault_limit 5"), out
        assert re.search(r"^victim\s+running", out, re.M), out
        log = h.cmd("log warn")
        n = len(re.findall(r"iommu0: DMA write at 0x40000000 from PCI %s \(dma\) blocked" % re.escape(EDU), log))
        assert 1 <= n <= 6, log
    finally:
        h.close()


def test_repeated_faults_reset_the_device(request, tmp_path):
    """device_fault = "reset": the edu alone behind a root port is reset by a
    secondary bus reset (it has no FLR) and the partition goes on, its device
    still working; the one on the root bus cannot be reset, so its owner fails."""
    prof = qemu.PROFILES["q35-intel-iommu-edu"]
    h = boot(request, tmp_path, "q35-intel-iommu-edu", policy_config(prof["edu2_bdf"], "reset"))
    try:
        wait_for(h, "dma", r"^tg: dma: edu at 00:01\.0 BAR0")
        attach(h, "dma")
        type_for(h, f"storm {OUTSIDE:#x}", r"tg: dma: storm 0x40000000 20 writes: done", timeout=120)
        m = type_for(h, "roundtrip", r"tg: dma: own memory round trip (ok|FAILED)")
        assert m.group(1) == "ok", m.group(0)
        detach(h)
        log = h.cmd("log warn")
        assert line_with(log, "dma: PCI", prof["edu2_bdf"], "DMA faults within 1 s", "reset by secondary bus reset",
                         "partition goes on"), log
        out = h.cmd("parts -v")
        assert re.search(r"^dma\s+running", out, re.M), out
        m = line_with(out, "DMA:", "remapped", 'device_fault = "reset"', re.compile(r"\b(\d+) resets\b"))
        assert m and int(m[1]) >= 1, out
    finally:
        h.close()
    h = boot(request, tmp_path, "q35-intel-iommu-edu", policy_config(EDU, "reset"), part="-root-bus")
    try:
        out = storm_until_failed(h)
        assert line_with(out, EDU, "cannot be reset", "no function level reset", "root bus"), out
    finally:
        h.close()


NIC = "0000:01:00.0"   # the e1000e behind the root port in the IOMMU profiles


@pytest.mark.parametrize("profile", ["q35-intel-iommu-edu", "q35-amd-iommu-edu"])
def test_interrupts_remapped(request, tmp_path, profile):
    """Interrupt remapping: the assigned e1000e's MSI and MSI-X interrupts
    arrive through the unit's entries (VT-d: remappable messages whose
    entries name the NIC as their only requester; AMD-Vi: entries of the
    NIC's own table), one entry per live interrupt, none after the
    partition stops. A device forging messages is not tried here: QEMU
    7.2's VT-d model neither blocks compatibility-format messages nor
    checks the requester of one a device writes by DMA, and its AMD-Vi
    model takes such a write for the I/O APIC's (docs/acpi.md); the
    entries' encoding is unit-tested (tests/unit/test_vtd.c,
    tests/unit/test_amdvi.c)."""
    cfg = ('[hypervisor]\nlog_level = "info"\n'
           + partition_toml("nic", 1, "pci tick_ms=500", extra=f'devices = ["{NIC}"]\n'))
    h = boot(request, tmp_path, profile, cfg)
    try:
        on = line_with(h.boot_text, "iommu0 on:", "interrupt remapping")
        assert on and "NO interrupt remapping" not in on[0], h.boot_text
        assert line_with(h.boot_text, "nic: PCI", NIC, "its interrupts remapped too"), h.boot_text
        text, _ = wait_for(h, "nic", r"^tg: pci: done$")
        got = line_with(text, "pci:", "00:01.0", re.compile(r"\bMSI received (\d+)$"))
        assert got and int(got[1]) >= 3 and "did not arrive" not in text, text
        got = line_with(text, "pci:", "00:01.0", re.compile(r"\bMSI-X received: entry 0 (\d+), entry 1 (\d+)$"))
        assert got and int(got[1]) >= 3 and int(got[2]) >= 3, text
        out = h.cmd("parts -v")
        assert line_with(out, re.compile(r"\bMSI-X 0: guest vector 0x54 -> CPU \d+ vector 0x[0-9a-f]+")), out
        fwd = line_with(h.cmd("vcpus nic"), re.compile(r"\bdevice MSIs forwarded (\d+)\b"))
        assert fwd and int(fwd[1]) >= 9, fwd
        # The unit holds one entry per live interrupt (MSI-X entries 0 and 1);
        # stopped, the NIC's entries are gone.
        acpi = h.cmd("acpi")
        m = line_with(acpi, "on:", re.compile(r"\b(\d+) interrupt entries\b"))
        assert m and int(m[1]) >= 2, acpi
        h.cmd("part stop nic")
        acpi = h.cmd("acpi")
        assert line_with(acpi, "on:", "0 interrupt entries"), acpi
    finally:
        h.close()
