"""A stock Debian kernel (6.1, the cloud flavour) in a partition: boots to its
init with only console=ttyS0, with a clean kernel log. AMD-V under QEMU TCG,
VT-x under Bochs (ISTHMUS_BOCHS).

The kernel and initramfs come from Debian packages: `make debian-kernel`
(tools/debian-kernel.py) puts build/debian/vmlinux (the PVH ELF inside the
vmlinuz) and build/debian/initramfs.cpio (busybox and an /init that reports
the clocksource, the date and the kernel log, then powers off); without
them the test is skipped. What a Linux guest sees: docs/guests.md."""
import os
import re
import subprocess
import time

import pytest

from conftest import BACKENDS, BUILD, backend_boot, clean

DEBIAN = os.path.join(BUILD, "debian")
VMLINUX = os.path.join(DEBIAN, "vmlinux")
INITRD = os.path.join(DEBIAN, "initramfs.cpio")
LINUX_TIMEOUT = {"svm": 200, "vmx": 1800}  # to the init's report: QEMU TCG, Bochs

CONFIG = """
[hypervisor]
console = "com1"
log_level = "info"

[[partition]]
name = "linux"
cpus = [1]
memory = "256M"
kernel = "vmlinux"
initrd = "initramfs.cpio"
cmdline = "console=ttyS0"
"""


def linux_partition(name, cpus, args="", memory="128M", kernel="vmlinuz", nic=True, extra=""):
    """One [[partition]] of Debian's kernel with the initramfs: `args` after
    console=ttyS0 on its command line (the init's isthmus.* options,
    guest/linux/init), a NIC unless nic=False, `extra` keys appended."""
    cpus = cpus if isinstance(cpus, (list, tuple)) else [cpus]
    return (f'\n[[partition]]\nname = "{name}"\ncpus = [{", ".join(str(c) for c in cpus)}]\n'
            f'memory = "{memory}"\nkernel = "{kernel}"\ninitrd = "initramfs.cpio"\n'
            f'cmdline = "console=ttyS0{" " + args if args else ""}"\n'
            + ("nic = true\n" if nic else "") + extra)


def need_debian(*paths):
    """Skips the test, with how to get them, when Debian's files are missing."""
    for path in paths:
        if not os.path.exists(path):
            pytest.skip(f"{os.path.relpath(path, BUILD)} missing: run 'make debian-kernel' "
                        "(apt-get download of Debian's linux-image-cloud-amd64 and busybox-static)")


def esp_with_linux(tmp_path, config=None, kernel=None, initrd=None):
    """An ESP like build/esp.img's, larger, with the kernel and initramfs beside
    isthmus.efi, and `config` (CONFIG by default) as isthmus.toml; `kernel`
    is VMLINUX and `initrd` INITRD unless given."""
    src = os.path.join(BUILD, "esp", "EFI")
    if not os.path.isdir(src):
        pytest.fail("build/esp missing: run 'make esp' (make test does)")
    img = str(tmp_path / "esp.img")
    with open(img, "wb") as f:
        f.truncate(160 << 20)
    subprocess.run(["mformat", "-i", img, "-F", "-v", "ISTHMUS", "::"], check=True)
    subprocess.run(["mcopy", "-i", img, "-s", src, "::/"], check=True)
    cfg = tmp_path / "isthmus.toml"
    cfg.write_text(config or CONFIG)
    for path in (str(cfg), kernel or VMLINUX, initrd or INITRD):
        subprocess.run(["mcopy", "-o", "-i", img, path, "::/EFI/BOOT/"], check=True)
    return img


@pytest.fixture(scope="module", params=BACKENDS)
def linux(request, tmp_path_factory):
    """Boots the hypervisor with the partition, follows its console to the init's
    report, and returns (the guest's console text, host time at its date line)."""
    for path in (VMLINUX, INITRD):
        if not os.path.exists(path):
            pytest.skip(f"{os.path.relpath(path, BUILD)} missing: run 'make debian-kernel' "
                        "(apt-get download of Debian's linux-image-cloud-amd64 and busybox-static)")
    hv = backend_boot(request.param, f"test_linux[{request.param}]", esp_with_linux(tmp_path_factory.mktemp("esp")),
                      profile="pc-4cpu")
    try:
        hv.wait_prompt()
        hv.send_raw("console linux\r")
        hv.expect(r"isthmus-init: date (\d+) wall (\d+\.\d+)\r?\n", timeout=LINUX_TIMEOUT[request.param])
        host_now = time.time()
        guest_date = int(hv.p.match.group(1))
        guest_wall = float(hv.p.match.group(2))
        report = hv.expect(r"isthmus-init: ready", timeout=LINUX_TIMEOUT[request.param])
        hv.send_raw("\x1d")  # detach
        hv.expect_prompt()
        yield {"guest_date": guest_date, "guest_wall": guest_wall, "host_date": host_now, "backend": request.param,
               "report": clean(report), "hv": hv}
    finally:
        hv.close()


def dmesg(linux):
    m = re.search(r"isthmus-init: dmesg follows\n(.*)isthmus-init: dmesg ends", linux["report"], re.S)
    assert m, linux["report"][-2000:]
    return "\n".join(re.findall(r"isthmus-dmesg: (.*)", m.group(1)))


def test_boots_to_init_with_kvm_clock(linux):
    log = dmesg(linux)
    assert "Hypervisor detected: KVM" in log
    assert re.search(r"kvm-clock: Using msrs 4b564d01 and 4b564d00", log)
    m = re.search(r"tsc: Detected (\d+\.\d+) MHz processor", log)
    assert m and float(m.group(1)) > 0, log
    assert re.search(r"isthmus-init: clocksource (kvm-clock|tsc)", linux["report"])


# The CPU's own speculation status, not the hypervisor's doing: Bochs's
# Skylake-X model has no IBRS (CPUID.7.0:EDX[26] clear on the host too), so
# Linux warns about RETBleed on it with or without a hypervisor beneath.
CPU_MODEL_LINES = ("RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable to RETBleed attacks",)


def test_clean_kernel_log(linux):
    log = "\n".join(line for line in dmesg(linux).splitlines() if not any(m in line for m in CPU_MODEL_LINES))
    for bad in ("TSC unstable", "Marking TSC unstable", "calibrate against PIT", "unchecked MSR access",
                "Call Trace", "FW_BUG", "[Firmware Bug]", "Unable to read current time from RTC",
                "No reference (HPET/PMTIMER)", "WARNING:"):
        assert bad not in log, [line for line in log.splitlines() if bad in line]


def test_local_apic_timer_without_calibration(linux):
    log = dmesg(linux)
    assert "TSC deadline timer available" in log
    assert "APIC calibration not consistent" not in log
    assert "APIC timer disabled" not in log


def test_pat_on_and_mtrrs_sane(linux):
    log = dmesg(linux)
    assert re.search(r"x86/PAT: Configuration \[0-7\]: WB +WC +UC- +UC", log), log


def test_clock_set_from_cmos_rtc(linux):
    """Linux loses the late ticks of its early, jiffies-kept time; it sets its
    clock again from the CMOS clock once it keeps time by the TSC (docs/guests.md)."""
    assert re.search(r"rtc_cmos \S+: registered as rtc0", dmesg(linux)), dmesg(linux)
    assert re.search(r"rtc_cmos \S+: setting system clock to", dmesg(linux)), dmesg(linux)


def test_date_matches_host(linux):
    """The date the guest keeps is the host's (the hypervisor's clock from
    the firmware, Linux's from the CMOS RTC). Its line reaches the test
    after an unknown delay through the console (over a second on a loaded
    host), so this is a sanity bound; test_linux_shell.py checks the second
    with a round trip. Bochs's clock follows its instruction count, not the
    host's (`clock: sync=none`, tools/bochs.py): there to the minute."""
    diff = linux["guest_wall"] - linux["host_date"]
    print(f"\nguest wall clock - host at the line's arrival: {diff:+.3f} s ({linux['backend']})")
    assert abs(diff) <= (60 if linux["backend"] == "vmx" else 5), linux


def test_init_powers_off_cleanly(linux):
    """The init's poweroff reaches the partition's sleep registers: stopped, not failed."""
    hv = linux["hv"]
    deadline = time.time() + 60
    while True:
        out = hv.cmd("parts")
        if re.search(r"^linux\s+stopped", out, re.M):
            break
        assert time.time() < deadline and not re.search(r"^linux\s+failed", out, re.M), out
        time.sleep(1)
