"""Running Isthmus under a VMX-capable Bochs (the VT-x backend's test runner).

ISTHMUS_BOCHS names the bochs binary, built from upstream source outside this
repository (Debian's bochs package has no VMX), with the two-line fix to its
cpu_run_trace() that docs/testing.md gives: with more than one CPU, an unfixed
Bochs now and then reports a guest RIP its last exception had already left at
a VM exit. Its CPU model corei7_skylake_x
offers EPT, VPID and unrestricted guest; it boots Debian's OVMF. The serial port
is a TCP socket on loopback that the tests connect to.
"""
import os
import socket
import subprocess
import tempfile
import time

OVMF = os.environ.get("ISTHMUS_OVMF", "/usr/share/ovmf/OVMF.fd")


def binary():
    """(path, None) when a usable Bochs is configured, else (None, reason)."""
    path = os.environ.get("ISTHMUS_BOCHS")
    if not path:
        return None, "ISTHMUS_BOCHS is not set (path to a VMX-capable bochs)"
    if not os.access(path, os.X_OK):
        return None, f"ISTHMUS_BOCHS={path} is not an executable"
    return path, None


def vgabios(bochs):
    """Bochs insists on a VGA BIOS even without a display."""
    here = os.path.dirname(os.path.realpath(bochs))
    for p in (os.environ.get("ISTHMUS_BOCHS_VGABIOS"),
              os.path.join(here, "bios", "VGABIOS-lgpl", "VGABIOS-lgpl-latest.bin"),
              os.path.join(here, "..", "share", "bochs", "VGABIOS-lgpl-latest.bin"),
              "/usr/local/share/bochs/VGABIOS-lgpl-latest.bin",
              "/usr/share/bochs/VGABIOS-lgpl-latest.bin",
              "/usr/share/vgabios/vgabios.bin"):
        if p and os.path.exists(p):
            return p
    raise FileNotFoundError("no VGA BIOS for Bochs; set ISTHMUS_BOCHS_VGABIOS")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Where the NIC of start(nic=True) sits: Bochs's i440FX puts PCI slot 1 here.
NIC_BDF = "0000:00:02.0"
NIC_ID = ("8086", "100e")   # 82540EM


def start(esp, cpus=1, mem_mb=512, nic=False):
    """Starts Bochs on a private copy of the ESP; returns (process, socket, workdir).
    nic: an e1000 (82540EM, no MSI capability) in PCI slot 1, not connected."""
    bochs, why = binary()
    if not bochs:
        raise RuntimeError(why)
    work = tempfile.mkdtemp(prefix="isthmus-bochs-")
    disk = os.path.join(work, "esp.img")
    with open(esp, "rb") as src, open(disk, "wb") as dst:
        dst.write(src.read())
    port = free_port()
    rc = os.path.join(work, "bochsrc")
    with open(rc, "w") as f:
        f.write(f"""megs: {mem_mb}
cpu: model=corei7_skylake_x, count={cpus}, ips=400000000
romimage: file={OVMF}, address=0xffe00000
vgaromimage: file={vgabios(bochs)}
display_library: nogui
fw_cfg: enabled=1
pci: enabled=1, chipset=i440fx{", slot1=e1000" if nic else ""}
{"e1000: enabled=1, mac=52:54:00:12:34:56, ethmod=null" if nic else ""}
ata0-master: type=disk, path={disk}, mode=flat
boot: disk
com1: enabled=1, mode=socket-server, dev=127.0.0.1:{port}
clock: sync=none
log: {os.path.join(work, "bochs.log")}
panic: action=fatal
""")
    proc = subprocess.Popen([bochs, "-q", "-f", rc], cwd=work, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            return proc, sock, work
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"bochs did not open its serial socket (see {work}/bochs.log)")
            time.sleep(0.2)
