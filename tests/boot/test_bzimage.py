"""A stock Linux bzImage as a partition's kernel: Debian's cloud vmlinuz booted
through the 64-bit boot protocol (vmm/bzimage.c, vmm/boot64.c) prints its
banner, and kernels that are neither format, or a bzImage too old for the 64-bit
entry, are refused with the reason while the shell comes up.

The kernel is build/debian/vmlinuz (`make debian-kernel`, which `make
boot-test` runs), or the file ISTHMUS_VMLINUZ names; the test skips without one.
What the kernel needs after its first lines (timers, interrupts) is not this
test's concern: it looks for the decompressor's and the kernel's first lines."""
import os
import re
import subprocess

import pytest

from conftest import BUILD, Hypervisor, fact_line, line_with, make_esp

VMLINUZ = os.environ.get("ISTHMUS_VMLINUZ", os.path.join(BUILD, "debian", "vmlinuz"))
VERSION_OFF = 0x206  # the boot protocol version in the setup header

CONFIG = """[hypervisor]
log_level = "info"

[[partition]]
name = "linux"
cpus = [1]
memory = "128M"
kernel = "vmlinuz"
cmdline = "console=ttyS0 earlyprintk=serial,ttyS0,115200"
state = "stopped"

[[partition]]
name = "shadowlinux"
cpus = [4]
memory = "128M"
kernel = "vmlinuz"
cmdline = "console=ttyS0 earlyprintk=serial,ttyS0,115200"
paging = "shadow"
state = "stopped"

[[partition]]
name = "notakernel"
cpus = [2]
memory = "16M"
kernel = "notes.txt"

[[partition]]
name = "oldproto"
cpus = [3]
memory = "16M"
kernel = "old.bzimage"
"""


def esp_with_kernels(tmp_path):
    if not os.path.exists(VMLINUZ):
        pytest.skip(f"no {VMLINUZ}: run 'make debian-kernel' (apt-get download of Debian's cloud kernel)")
    img = make_esp(CONFIG, str(tmp_path))
    notes = tmp_path / "notes.txt"
    notes.write_text("these are notes, not a kernel\n" * 40)
    # Debian's header, claiming protocol 2.09 (before xloadflags and the 64-bit entry).
    with open(VMLINUZ, "rb") as f:
        head = bytearray(f.read(0x10000))
    head[VERSION_OFF:VERSION_OFF + 2] = (0x0209).to_bytes(2, "little")
    old = tmp_path / "old.bzimage"
    old.write_bytes(bytes(head))
    for src, name in ((VMLINUZ, "vmlinuz"), (str(notes), "notes.txt"), (str(old), "old.bzimage")):
        subprocess.run(["mcopy", "-o", "-i", img, src, f"::/EFI/BOOT/{name}"], check=True)
    return img


@pytest.fixture(scope="module")
def hv(tmp_path_factory):
    h = Hypervisor("bzimage", "pc-7cpu", esp_with_kernels(tmp_path_factory.mktemp("esp")))
    try:
        h.wait_prompt()
        yield h
    finally:
        h.close()


def test_other_formats_refused_with_the_reason(hv):
    out = hv.cmd("parts")
    assert re.search(r"^notakernel\s+failed", out, re.M), out
    assert re.search(r"^oldproto\s+failed", out, re.M), out
    assert line_with(out, "notes.txt", "neither a PVH ELF kernel", "nor a Linux bzImage"), out
    assert line_with(out, "old.bzimage", "boot protocol 2.09", "older than 2.12"), out
    assert line_with(hv.boot_text, "notakernel", "did not start", "0xAA55"), hv.boot_text


def banner(hv, name):
    """Starts `name`, follows its console until Linux's banner, detaches, and
    returns the part start output and the banner line."""
    out = hv.cmd(f"part start {name}")
    hv.send_raw(f"console {name}\r")
    hv.expect(fact_line("console:", "attached", name).pattern)
    # Decompressing some 50 MiB under TCG (nested) takes a while.
    hv.expect(r"Linux version 6\.1\.\d+\S*", timeout=600)
    line = hv.p.after
    hv.send_raw("\x1d")
    hv.expect(fact_line("console:", "detached", name).pattern)
    hv.expect_prompt()
    return out, line


def test_debian_vmlinuz_prints_its_banner(hv):
    out, line = banner(hv, "linux")
    assert line_with(out, "linux", "bzImage", "boot protocol", "loaded at 0x1000000"), out
    assert line_with(out, "linux started", "entry 0x1000200"), out
    assert line.startswith("Linux version 6.1."), line
    hv.cmd("part stop linux")


def test_debian_vmlinuz_under_shadow_paging(hv):
    """The decompressor and the kernel's early page-table fix-ups (REP STOS,
    ADD to its own tables) run under shadow paging too."""
    out, line = banner(hv, "shadowlinux")
    assert line_with(out, "shadowlinux", "bzImage", "boot protocol"), out
    assert line.startswith("Linux version 6.1."), line
    hv.cmd("part stop shadowlinux")
