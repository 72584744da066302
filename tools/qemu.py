"""QEMU command lines for Isthmus: the machine profiles the tests use and `make run`.

Each profile is a machine shape (chipset, CPUs, NUMA nodes, devices). The
hypervisor's discovery must report exactly what the profile describes.
"""
import copy
import os
import shutil

OVMF = os.environ.get("ISTHMUS_OVMF", "/usr/share/ovmf/OVMF.fd")


def _numa(nodes):
    """nodes: list of (memory MiB, cpu list string); adds distance 20 between all pairs."""
    args = []
    for i, (mem, cpus) in enumerate(nodes):
        args += ["-object", f"memory-backend-ram,id=m{i},size={mem}M",
                 "-numa", f"node,nodeid={i},cpus={cpus},memdev=m{i}"]
    for i in range(len(nodes)):
        for j in range(i + 1, len(nodes)):
            args += ["-numa", f"dist,src={i},dst={j},val={20 + 10 * (j - i - 1)}"]
    return args


PROFILES = {
    # One CPU, one node, the i440fx chipset with its 116-byte revision-1 FADT.
    "pc-1node": {
        "machine": "pc", "smp": "1", "mem": 512, "args": [],
        "cpus": {0: 0}, "nodes": {0: 512}, "distances": None,
    },
    # Four CPUs in two nodes (distance 20), q35 with ECAM, and an e1000e behind a
    # root port on a PCI expander bridge that ACPI places on node 1.
    "q35-2node-pxb": {
        "machine": "q35", "smp": "4,sockets=2,cores=2", "mem": 512,
        "args": _numa([(256, "0-1"), (256, "2-3")]) + [
            "-device", "pxb-pcie,id=pxb1,bus_nr=128,numa_node=1,bus=pcie.0",
            "-device", "pcie-root-port,id=rp1,bus=pxb1,chassis=1,slot=1",
            "-device", "e1000e,bus=rp1,romfile=,netdev=n1",
            "-netdev", "user,id=n1,restrict=on",
        ],
        "cpus": {0: 0, 1: 0, 2: 1, 3: 1}, "nodes": {0: 256, 1: 256},
        "distances": [[10, 20], [20, 10]], "nic": ("8086", "10d3", 1), "nic_bdf": "0000:81:00.0",
    },
    # Four CPUs, one node: room for partitions beside the shell's CPU 0.
    "pc-4cpu": {
        "machine": "pc", "smp": "4", "mem": 512, "args": [],
        "cpus": {0: 0, 1: 0, 2: 0, 3: 0}, "nodes": {0: 512}, "distances": None,
    },
    # Four CPUs and 1 GiB, one node: two or three stock Linux partitions (a
    # Debian kernel wants 128 MiB or more each).
    "pc-linux": {
        "machine": "pc", "smp": "4", "mem": 1024, "args": [],
        "cpus": {0: 0, 1: 0, 2: 0, 3: 0}, "nodes": {0: 1024}, "distances": None,
    },
    # make run's Linux demo (configs/linux-demo.toml): four CPUs in two nodes
    # of 512 MiB, so the failover pair sits on different nodes, as a pair
    # meant to survive the loss of one would.
    "linux-demo": {
        "machine": "q35", "smp": "4,sockets=2,cores=2", "mem": 1024,
        "args": _numa([(512, "0-1"), (512, "2-3")]),
        "cpus": {0: 0, 1: 0, 2: 1, 3: 1}, "nodes": {0: 512, 1: 512},
        "distances": [[10, 20], [20, 10]],
    },
    # Seven CPUs, one node: the partition boot tests (shell on CPU 0, six for guests).
    "pc-7cpu": {
        "machine": "pc", "smp": "7", "mem": 512, "args": [],
        "cpus": {i: 0 for i in range(7)}, "nodes": {0: 512}, "distances": None,
    },
    # Eight CPUs, one node: the failover boot tests (three groups of two and a client).
    "pc-8cpu": {
        "machine": "pc", "smp": "8", "mem": 512, "args": [],
        "cpus": {i: 0 for i in range(8)}, "nodes": {0: 512}, "distances": None,
    },
    # q35 with QEMU's VT-d model (interrupt remapping on: under TCG the split
    # irqchip KVM would need does not apply) and an e1000e behind a root port,
    # so a device sits behind a bridge. The IOMMU stays off: discovery only.
    "q35-intel-iommu": {
        "machine": "q35", "smp": "2", "mem": 512,
        "args": ["-device", "intel-iommu,intremap=on",
                 "-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1",
                 "-device", "e1000e,bus=rp1,romfile=,netdev=n1",
                 "-netdev", "user,id=n1,restrict=on"],
        "cpus": {0: 0, 1: 0}, "nodes": {0: 512}, "distances": None,
        "iommu": "vt-d",
    },
    # q35 with QEMU's AMD-Vi model (a PCI function of its own on bus 0), the
    # same root port and e1000e.
    "q35-amd-iommu": {
        "machine": "q35", "smp": "2", "mem": 512,
        "args": ["-device", "amd-iommu",
                 "-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1",
                 "-device", "e1000e,bus=rp1,romfile=,netdev=n1",
                 "-netdev", "user,id=n1,restrict=on"],
        "cpus": {0: 0, 1: 0}, "nodes": {0: 512}, "distances": None,
        "iommu": "amd-vi",
    },
    # Three nodes of unequal memory, one CPU each, on the pc chipset (port I/O PCI).
    "pc-3node": {
        "machine": "pc", "smp": "3", "mem": 768,
        "args": _numa([(128, "0"), (256, "1"), (384, "2")]),
        "cpus": {0: 0, 1: 1, 2: 2}, "nodes": {0: 128, 1: 256, 2: 384},
        "distances": [[10, 20, 30], [20, 10, 20], [30, 20, 10]],
    },
}

# QEMU's educational device (hw/misc/edu.c, 1234:11e8: a DMA engine with a
# 4 KiB buffer, which guest/dma.c drives) at 00:05.0 on pcie.0, for the DMA
# isolation tests. dma_mask all ones: edu's default (28 bits) would fold
# RAM-side addresses above 256 MiB onto lower ones.
_EDU = ["-device", "edu,addr=0x5,dma_mask=0xffffffffffffffff",
        # A second one alone behind a root port, so that it can be reset
        # through the port (edu has no function level reset).
        "-device", "pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2",
        "-device", "edu,bus=rp2,dma_mask=0xffffffffffffffff"]
_EDU_BDF = "0000:00:05.0"
# The two IOMMU profiles with the device added and a third CPU (the shell's,
# the device owner's and a neighbour's), everything else the same.
for _base in ("q35-intel-iommu", "q35-amd-iommu"):
    PROFILES[_base + "-edu"] = dict(copy.deepcopy(PROFILES[_base]), args=PROFILES[_base]["args"] + _EDU,
                                    edu_bdf=_EDU_BDF, edu2_bdf="0000:02:00.0", smp="3",
                                    cpus={0: 0, 1: 0, 2: 0})
# The two IOMMU profiles with the e1000e's user network open (restrict=off),
# for tests/boot/test_linux_nic.py: a guest driving the NIC reaches the host's
# loopback at 10.0.2.2, where the test serves a file (QEMU's user network
# gives the guest 10.0.2.15/24). The two profiles above stay as they are
# (fixtures were captured from them). On VT-d the NIC stays behind its root
# port. On AMD-Vi it sits on the root bus (00:03.0): QEMU's AMD-Vi model
# (7.2, and upstream as of 2026) fixes a device's bus number when it first
# makes the device's DMA address space, at machine creation, before the
# firmware numbers the root port's secondary bus, so a device behind a
# bridge is translated with the device table entry of 00:<its devfn> (the
# NIC at 01:00.0 with 00:00.0's, the host bridge's) instead of its own: its
# DMA is blocked whatever the hypervisor programs for it (`-trace
# amdvi_translation_result` shows "devid: 00:00.0" for every access).
PROFILES["q35-intel-iommu-net"] = dict(copy.deepcopy(PROFILES["q35-intel-iommu"]),
                                       args=[a.replace("restrict=on", "restrict=off")
                                             for a in PROFILES["q35-intel-iommu"]["args"]],
                                       nic_bdf="0000:01:00.0")
PROFILES["q35-amd-iommu-net"] = dict(copy.deepcopy(PROFILES["q35-amd-iommu"]),
                                     args=["-device", "amd-iommu",
                                           "-device", "e1000e,bus=pcie.0,addr=0x3,romfile=,netdev=n1",
                                           "-netdev", "user,id=n1,restrict=off"],
                                     nic_bdf="0000:00:03.0")
# The device without an IOMMU: its DMA reaches all of the machine's memory.
PROFILES["q35-edu"] = {
    "machine": "q35", "smp": "3", "mem": 512, "args": list(_EDU),
    "cpus": {0: 0, 1: 0, 2: 0}, "nodes": {0: 512}, "distances": None, "edu_bdf": _EDU_BDF,
}


def command(esp, profile="pc-1node", accel=None, extra=(), interactive=False):
    """The QEMU command line. The serial console is on stdio with signal=off, so
    every byte typed (Ctrl-C included) reaches the Isthmus shell; interactive
    adds QEMU's monitor multiplexer (Ctrl-A X quits, Ctrl-A C the monitor)."""
    p = PROFILES[profile]
    accel = accel or os.environ.get("ISTHMUS_ACCEL", "tcg")
    cmd = [shutil.which("qemu-system-x86_64") or "qemu-system-x86_64",
           "-machine", p["machine"], "-smp", p["smp"], "-m", str(p["mem"]),
           "-bios", OVMF,
           "-drive", f"file={esp},format=raw,if=ide,snapshot=on",
           "-nodefaults", "-display", "none", "-vga", "none", "-no-reboot"]
    if interactive:
        # The mux gives input to the frontend attached last: the serial port.
        cmd += ["-chardev", "stdio,id=con,mux=on,signal=off",
                "-mon", "chardev=con,mode=readline", "-serial", "chardev:con"]
    else:
        cmd += ["-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con", "-monitor", "none"]
    if accel == "kvm":
        cmd += ["-accel", "kvm", "-cpu", "host"]
    else:
        cmd += ["-accel", "tcg", "-cpu", "max"]
    return cmd + p["args"] + list(extra)
