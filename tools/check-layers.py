#!/usr/bin/env python3
"""Checks every #include of the hypervisor against its layer table.

The hypervisor is built in layers, bottom to top (docs/architecture.md shows the
same table). A file may include headers of its own layer and of the layers below
it, never above: so the dependencies have no cycles and management sits on top.
A few rules narrow that further (RULES below). Exits 1 and prints
`file:line: message` for every include that breaks a rule.

Usage: check-layers.py [--table]   (--table prints the table as Markdown)
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

# (layer, folders, what it is), bottom to top. A folder's files belong to the
# layer that names it; subfolders are listed on their own.
LAYERS = [
    ("lib", ["kernel/lib"],
     "freestanding library: types, errno, string, printf, TOML, line editor, shell registry, spinlock"),
    ("hw", ["arch/x86/hw"],
     "architectural definitions: MSRs, CR/EFER/RFLAGS bits, page-table bits, vectors, CPU intrinsics"),
    ("core", ["kernel/core"],
     "core services: log, console, memory, time, per-CPU, topology, configuration"),
    ("platform", ["arch/x86", "drivers", "drivers/acpi"],
     "host arch (CPU set-up, APIC, paging, SMP, the vCPU contract) and drivers (UART, ACPI, PCI, timers)"),
    ("backends", ["arch/x86/vmx", "arch/x86/svm"],
     "virtualization backends: VMCS / VMCB <-> the vCPU contract"),
    ("vmm", ["vmm"],
     "VMM core: partitions, vCPU threads, exit dispatch, device registry, memory, paging, loaders"),
    ("net", ["net"],
     "network: virtqueues, virtio-net transport, switch, shim"),
    ("devices", ["vmm/dev"],
     "device models: UART, APIC page, I/O APIC, PCI bus and MSI, NIC, power-off registers, state MSRs"),
    ("ha", ["vmm/ha"],
     "high availability: heartbeat master, failover groups"),
    ("mgmt", ["kernel/shell"],
     "management: the shell and its commands, reading the layers below through query APIs"),
    ("init", ["kernel/init", "boot"],
     "the EFI stage and the boot sequence"),
]

# Narrower rules: (folder prefix of the includer, regex of forbidden includes, why).
RULES = [
    ("vmm/", r"^arch/x86/(vmx|svm)/",
     "the VMM core and what sits on it never name a backend: add a vcpu_backend operation instead"),
    ("net/", r"^arch/x86/(vmx|svm)/", "no backend headers above the vCPU contract"),
    ("kernel/shell/", r"^arch/x86/(vmx|svm)/", "no backend headers above the vCPU contract"),
    ("kernel/shell/", r"^vmm/(partition|exits|shadow_vcpu|gmem)\.h$|^vmm/dev/|^net/vnet\.h$",
     "management reads partitions, devices and ports through their query APIs, not their internals"),
]

# Outside the hypervisor: the test guest may include only the ABI it shares with it.
GUEST_ABI = {"vmm/hypercall_abi.h", "vmm/pvh.h", "net/virtio.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(path):
    d = os.path.dirname(path)
    for i, (_, folders, _) in enumerate(LAYERS):
        if d in folders:
            return i
    return None


def sources():
    for top in ("kernel", "arch", "drivers", "vmm", "net", "boot", "guest"):
        for dirpath, _, names in os.walk(os.path.join(ROOT, top)):
            for n in sorted(names):
                if n.endswith((".c", ".h", ".inc")):
                    yield os.path.relpath(os.path.join(dirpath, n), ROOT)


def check():
    errors = []
    for f in sources():
        with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
            lines = fh.readlines()
        for no, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            if f.startswith("guest/"):
                if not inc.startswith("guest/") and inc not in GUEST_ABI:
                    errors.append(f"{f}:{no}: the test guest includes {inc}: only the guest ABI "
                                  f"({', '.join(sorted(GUEST_ABI))}) is shared with the hypervisor")
                continue
            if not os.path.exists(os.path.join(ROOT, inc)):
                if not os.path.exists(os.path.join(ROOT, os.path.dirname(f), inc)):
                    errors.append(f"{f}:{no}: {inc} does not exist (includes are relative to the tree's root)")
                continue
            lf, li = layer_of(f), layer_of(inc)
            if lf is None:
                errors.append(f"{f}:{no}: {os.path.dirname(f)}/ is in no layer: add it to tools/check-layers.py")
                continue
            if li is None:
                errors.append(f"{f}:{no}: {inc} is in no layer")
                continue
            if li > lf:
                errors.append(f"{f}:{no}: layer '{LAYERS[lf][0]}' includes {inc} of layer "
                              f"'{LAYERS[li][0]}' above it")
            for prefix, pat, why in RULES:
                if f.startswith(prefix) and re.search(pat, inc):
                    errors.append(f"{f}:{no}: includes {inc}: {why}")
    return errors


def table():
    print("| layer | folders | what |")
    print("| --- | --- | --- |")
    for name, folders, what in reversed(LAYERS):
        print(f"| {name} | {', '.join('`' + d + '/`' for d in folders)} | {what} |")


def main():
    if "--table" in sys.argv[1:]:
        table()
        return 0
    errors = check()
    for e in errors:
        print(e)
    n = sum(1 for _ in sources())
    print(f"check-layers: {n} files, {len(errors)} wrong-way includes")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
