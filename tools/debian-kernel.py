#!/usr/bin/env python3
"""Debian's cloud kernel and the initramfs that boots it in a partition
(make run's demo, tests/boot/test_linux*.py), and Debian's generic kernel for
the tests that need a driver the cloud kernel lacks (e1000e:
tests/boot/test_linux_nic.py). Uses Debian packages only:

    tools/debian-kernel.py fetch [OUT]
        apt-get download linux-image-<abi>-cloud-amd64 busybox-static, once,
        and dpkg -x them into OUT/root (make deps runs this):
        OUT/vmlinuz   a link to the bzImage as shipped (root/boot/vmlinuz-*)
        OUT/vmlinux   the PVH ELF inside the vmlinuz (tools/extract-vmlinux.py)
        Then apt-get download linux-image-<abi>-amd64 (what linux-image-amd64
        depends on: about 70 MB, 400 MB unpacked), once, dpkg -x it into a
        scratch directory, and keep only its vmlinuz, its config and the
        modules of GENERIC_MODULES with their dependencies, in
        OUT/generic/root (about 9 MB); the .deb and the rest are deleted:
        OUT/generic/vmlinuz   a link to that vmlinuz

    tools/debian-kernel.py initramfs --agent PATH --hog PATH --mm PATH --stream PATH [OUT]
        OUT/initramfs.cpio from guest/linux/ (make builds this): busybox
        from the package, the scripts (/init, /net-init, /bin/isthmus-poll,
        /bin/isthmus-fail), the failover agent as /bin/isthmus-hb-agent and the hang
        tool as /bin/isthmus-hog, the memory workloads as /bin/isthmus-mm,
        the TCP streams as /bin/isthmus-stream (all static, built by make), and Debian's
        virtio_pci, virtio_net and 8021q modules with a modules.dep

    tools/debian-kernel.py initramfs --generic [OUT]
        OUT/generic/initramfs.cpio: the same busybox and scripts, with the
        generic kernel's GENERIC_MODULES (and what they need) instead

    tools/debian-kernel.py [--agent PATH] [--hog PATH] [--mm PATH] [--stream PATH] [OUT]   both

OUT is build/debian by default. What /init does, and the kernel command line
options that choose it: guest/linux/init, guest/linux/net-init, docs/guests.md.
"""
import glob
import importlib.util
import lzma
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
META = "linux-image-cloud-amd64"
GENERIC_META = "linux-image-amd64"

# Modules the network role loads, by name; their dependencies come with them.
NET_MODULES = ["virtio_pci", "virtio_net", "8021q"]
# The generic kernel's modules that are kept and put in its initramfs: the
# driver of the e1000e (Intel 82574L) that tests/boot/test_linux_nic.py
# assigns to a partition; the cloud kernel is built without it. It brings ptp
# and pps_core.
GENERIC_MODULES = ["e1000e"]

# The initramfs's scripts, from guest/linux/ (installed as NAME, mode 0755).
SCRIPTS = {"init": "init", "net-init": "net-init", "bin/isthmus-poll": "poll", "bin/isthmus-fail": "fail"}
# The static programs make builds from guest/linux/*.c, by the option that
# names each one's path, and where each goes in the initramfs.
PROGRAMS = {"--agent": "bin/isthmus-hb-agent", "--hog": "bin/isthmus-hog", "--mm": "bin/isthmus-mm",
            "--stream": "bin/isthmus-stream"}

def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def image_package(meta=META):
    """The versioned image package the meta-package depends on."""
    out = subprocess.run(["apt-cache", "depends", meta], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends: linux-image-"):
            return line.split()[1]
    raise SystemExit(f"debian-kernel: {meta} depends on no linux-image package (apt-get update?)")


def fetch(out):
    """apt-get download and dpkg -x: Debian's packages are the one source of
    stock kernels here."""
    debs = os.path.join(out, "debs")
    root = os.path.join(out, "root")
    os.makedirs(debs, exist_ok=True)
    run(["apt-get", "download", image_package(), "busybox-static"], cwd=debs)
    for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
        run(["dpkg", "-x", deb, root])


def fetch_generic(out):
    """Debian's generic kernel, pruned: apt-get download and dpkg -x into a
    scratch directory, then only the vmlinuz, its config and GENERIC_MODULES
    with their dependencies (uncompressed, at their paths) are kept in
    OUT/generic/root, which appears whole or not at all."""
    gen = os.path.join(out, "generic")
    scratch = os.path.join(gen, "scratch")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    try:
        run(["apt-get", "download", image_package(GENERIC_META)], cwd=scratch)
        debs = glob.glob(os.path.join(scratch, "*.deb"))
        if len(debs) != 1:
            raise SystemExit(f"debian-kernel: apt-get download left {len(debs)} packages in {scratch}")
        print(f"debian-kernel: {os.path.basename(debs[0])}: {os.path.getsize(debs[0])} bytes", flush=True)
        full = os.path.join(scratch, "root")
        run(["dpkg", "-x", debs[0], full])
        version, mods = module_files(full, GENERIC_MODULES)
        keep = {f"boot/vmlinuz-{version}": None, f"boot/config-{version}": None}
        for rel, data, _ in mods.values():
            keep[f"lib/modules/{version}/{rel}"] = data
        new = os.path.join(gen, "root.new")
        shutil.rmtree(new, ignore_errors=True)
        for rel, data in keep.items():
            dst = os.path.join(new, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if data is None:
                if not os.path.exists(os.path.join(full, rel)):
                    raise SystemExit(f"debian-kernel: {rel} not in {os.path.basename(debs[0])}")
                shutil.copy2(os.path.join(full, rel), dst)
            else:
                with open(dst, "wb") as f:
                    f.write(data)
        root = os.path.join(gen, "root")
        shutil.rmtree(root, ignore_errors=True)
        os.replace(new, root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"debian-kernel: kept {', '.join(sorted(keep))}", flush=True)


def cpio_newc(entries):
    """A newc cpio archive: entries of (name, mode, data, (rdev major, minor))."""
    out = bytearray()

    def pad():
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", (0, 0))], 1):
        name_b = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + name_b)
        pad()
        out.extend(data)
        pad()
    return bytes(out)


def modinfo(data, key):
    """A field of a module's .modinfo section ("key=value\\0"), or None."""
    m = re.search(rb"(?:^|\0)" + key.encode() + rb"=([^\0]*)\0", data)
    return m.group(1).decode() if m else None


def module_files(root, names):
    """The modules named and every module they depend on (their modinfo
    "depends="), from the image package's tree: the deb carries no
    modules.dep (depmod makes it at install), so it is made here. Returns
    the kernel version and {name: (path under lib/modules/VER, bytes, deps)}.
    Compressed modules (.ko.xz) are stored uncompressed."""
    trees = sorted(glob.glob(os.path.join(root, "lib", "modules", "*", "kernel")))
    if not trees:
        raise SystemExit(f"debian-kernel: no lib/modules/*/kernel under {root}")
    tree = trees[-1]
    version = os.path.basename(os.path.dirname(tree))
    paths = {}
    for dirpath, _, files in os.walk(tree):
        for f in files:
            for ext in (".ko", ".ko.xz"):
                if f.endswith(ext):
                    paths[f[:-len(ext)].replace("-", "_")] = os.path.join(dirpath, f)
    found, todo = {}, list(names)
    while todo:
        name = todo.pop().replace("-", "_")
        if name in found:
            continue
        if name not in paths:
            raise SystemExit(f"debian-kernel: module {name} not in {tree}")
        with open(paths[name], "rb") as f:
            data = f.read()
        if paths[name].endswith(".xz"):
            data = lzma.decompress(data)
        if modinfo(data, "vermagic").split()[0] != version:
            raise SystemExit(f"debian-kernel: {paths[name]} is not for {version}")
        deps = [d for d in (modinfo(data, "depends") or "").split(",") if d]
        rel = os.path.relpath(paths[name], os.path.dirname(tree)).removesuffix(".xz")
        found[name] = (rel, data, deps)
        todo.extend(deps)
    return version, found


def modules_dep(mods):
    """modules.dep as depmod writes it: each module, then every module it
    needs, directly or not, in the order to load them last to first."""
    def load_order(name, seen, out):
        """Post-order: each module after everything it needs."""
        for d in mods[name][2]:
            if d not in seen:
                seen.add(d)
                load_order(d, seen, out)
                out.append(d)
        return out

    lines = []
    for name in sorted(mods):
        deps = load_order(name, set(), [])[::-1]
        lines.append(mods[name][0] + ":" + "".join(" " + mods[d][0] for d in deps))
    return ("\n".join(lines) + "\n").encode()


def initramfs(busybox, root, modules, programs):
    with open(busybox, "rb") as f:
        bb = f.read()
    d, reg, chr_, file_ = 0o040755, 0o100755, 0o020600, 0o100644
    entries = [
        ("bin", d, b"", (0, 0)),
        ("dev", d, b"", (0, 0)),
        ("dev/console", chr_, b"", (5, 1)),  # the kernel opens it for init's stdio
        ("bin/busybox", reg, bb, (0, 0)),
    ]
    for name, src in SCRIPTS.items():
        with open(os.path.join(ROOT, "guest", "linux", src), "rb") as f:
            entries.append((name, reg, f.read(), (0, 0)))
    # Static programs built by make from guest/linux/*.c.
    for opt, path in sorted(programs.items()):
        with open(path, "rb") as f:
            entries.append((PROGRAMS[opt], reg, f.read(), (0, 0)))
    version, mods = module_files(root, modules)
    base = f"lib/modules/{version}"
    dirs = {base}
    for rel, _, _ in mods.values():
        parent = os.path.dirname(f"{base}/{rel}")
        while parent not in dirs and parent != "lib":
            dirs.add(parent)
            parent = os.path.dirname(parent)
    for path in sorted(dirs | {"lib", "lib/modules"}):
        entries.append((path, d, b"", (0, 0)))
    for rel, data, _ in sorted(mods.values()):
        entries.append((f"{base}/{rel}", file_, data, (0, 0)))
    entries.append((f"{base}/modules.dep", file_, modules_dep(mods), (0, 0)))
    return cpio_newc(entries)


def fetched(root):
    return glob.glob(os.path.join(root, "boot", "vmlinuz-*")) and os.path.exists(
        os.path.join(root, "bin", "busybox"))


def link_vmlinuz(root, out):
    """OUT/vmlinuz, a link to root's boot/vmlinuz-*; returns that file."""
    vmlinuz = sorted(glob.glob(os.path.join(root, "boot", "vmlinuz-*")))[-1]
    link = os.path.join(out, "vmlinuz")
    if os.path.realpath(link) != os.path.realpath(vmlinuz):
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.relpath(vmlinuz, out), link)
    return vmlinuz


def do_fetch(out):
    """The packages (once), the vmlinuz links and the vmlinux inside the
    cloud kernel's."""
    root = os.path.join(out, "root")
    if not fetched(root):
        fetch(out)
    vmlinuz = link_vmlinuz(root, out)
    vmlinux = os.path.join(out, "vmlinux")
    if not os.path.exists(vmlinux) or os.path.getmtime(vmlinux) < os.path.getmtime(vmlinuz):
        spec = importlib.util.spec_from_file_location("extract_vmlinux", os.path.join(ROOT, "tools",
                                                                                      "extract-vmlinux.py"))
        ev = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ev)
        with open(vmlinuz, "rb") as f:
            elf = ev.extract(f.read())
        with open(vmlinux + ".tmp", "wb") as f:
            f.write(elf)
        os.replace(vmlinux + ".tmp", vmlinux)
    print(f"debian-kernel: {vmlinuz}, {vmlinux}")
    gen = os.path.join(out, "generic")
    if not glob.glob(os.path.join(gen, "root", "boot", "vmlinuz-*")):
        fetch_generic(out)
    print(f"debian-kernel: {link_vmlinuz(os.path.join(gen, 'root'), gen)}")


def do_initramfs(out, programs, generic=False):
    root = os.path.join(out, "root")
    mod_root, dest, modules = root, out, NET_MODULES
    if generic:
        mod_root, dest, modules = os.path.join(out, "generic", "root"), os.path.join(out, "generic"), GENERIC_MODULES
    if not fetched(root) or not glob.glob(os.path.join(mod_root, "boot", "vmlinuz-*")):
        raise SystemExit(f"debian-kernel: no Debian kernel and busybox in {root} and {mod_root}: "
                         "run 'make deps' (or tools/debian-kernel.py fetch)")
    path = os.path.join(dest, "initramfs.cpio")
    with open(path + ".tmp", "wb") as f:
        f.write(initramfs(os.path.join(root, "bin", "busybox"), mod_root, modules, programs))
    os.replace(path + ".tmp", path)
    print(f"debian-kernel: {path}")


def main(argv):
    opts = {}
    for key in PROGRAMS:  # PATH: the static programs for the initramfs
        if key in argv:
            i = argv.index(key)
            opts[key] = argv[i + 1]
            argv = argv[:i] + argv[i + 2:]
    generic = "--generic" in argv  # initramfs: the generic kernel's (OUT/generic/initramfs.cpio)
    if generic:
        argv.remove("--generic")
    what = "both"
    if len(argv) > 1 and argv[1] in ("fetch", "initramfs"):
        what = argv.pop(1)
    out = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(ROOT, "build", "debian"))
    if what in ("fetch", "both"):
        do_fetch(out)
    if what in ("initramfs", "both"):
        do_initramfs(out, opts, generic)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
