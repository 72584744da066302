#!/usr/bin/env python3
"""Debian's cloud kernel and a small initramfs, for booting stock Linux in a
partition (tests/boot/test_linux.py). Uses Debian packages only:

  apt-get download linux-image-<abi>-cloud-amd64 busybox-static
  dpkg -x ... OUT/root
  OUT/vmlinuz          a link to the bzImage as shipped (root/boot/vmlinuz-*)
  OUT/vmlinux          the PVH ELF inside the vmlinuz (tools/extract-vmlinux.py)
  OUT/initramfs.cpio   busybox and an /init that reports, then powers off

    tools/debian-kernel.py [--agent PATH] [OUT]   (default build/debian; fetches once)

--agent adds the failover agent (guest/linux/hb-agent.c, built by make) as
/bin/isthmus-hb-agent; with isthmus.ha=1 on the command line /init runs it.

The /init writes to the kernel log (so to the console) lines starting
"isthmus-init:": the clocksource in use, the date (seconds since 1970),
"dmesg follows", the kernel log so far with each line prefixed
"isthmus-dmesg: ", "dmesg ends" and "ready", then powers the partition off.

With isthmus.shell=1 on the kernel command line it prints "isthmus-init: shell
on ttyS0 (boot ID)" (the kernel's boot_id, new at every boot) instead and runs a busybox shell on /dev/ttyS0 (tests/boot/
test_linux_shell.py); poweroff, reboot and halt in that shell work.
"""
import glob
import importlib.util
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
META = "linux-image-cloud-amd64"

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /sbin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# isthmus.shell=1: a shell on the serial port, for `console NAME` in the
# management shell, instead of the report below. The shell gets ttyS0 as its
# controlling tty (so Ctrl-C and job control work), and comes back when it
# exits. Init stays pid 1 and does what busybox's init would on the signals
# its poweroff, reboot and halt send to pid 1 (there is no busybox init here).
case " $(cat /proc/cmdline) " in *" isthmus.shell=1 "*)
    trap 'poweroff -f' USR2
    trap 'reboot -f' TERM
    trap 'halt -f' USR1
    echo "isthmus-init: shell on ttyS0 (boot $(cat /proc/sys/kernel/random/boot_id))" > /dev/kmsg
    export PS1='linux:\w# ' HOME=/ TERM=vt100
    (while :; do setsid -c sh </dev/ttyS0 >/dev/ttyS0 2>&1; sleep 1; done) &
    while :; do wait; done;;
esac
# Through the kernel log, so that the report and the kernel's own lines
# reach the console in one order, with the kernel's timestamps. The console is a 115200-baud line that the kernel's own log keeps busy for
# seconds: only warnings from here on, a pause for it to drain before the
# date (whose arrival time a test compares), and the log paced to the line.
echo on > /proc/sys/kernel/printk_devkmsg
echo 5 > /proc/sys/kernel/printk
say() { echo "isthmus-init: $*" > /dev/kmsg; }

# ---- failover (isthmus.ha=1): the heartbeat agent, and a scripted failure
# once this partition serves as primary: isthmus.fail=panic:SECONDS (kernel
# panic through sysrq) or isthmus.fail=agent:SECONDS (the agent is killed).
if grep -q 'isthmus.ha=1' /proc/cmdline; then
    fail=$(sed -n 's/.*isthmus\.fail=\([a-z]*:[0-9]*\).*/\1/p' /proc/cmdline)
    cat > /bin/ha-hook <<HOOK
#!/bin/busybox sh
fail="$fail"
echo "isthmus-ha: now \$1" > /dev/kmsg
if [ "\$1" = primary ] && [ -n "$fail" ]; then
    ( sleep \${fail#*:}; echo "isthmus-ha: failing (\${fail%%:*})" > /dev/kmsg
      case \${fail%%:*} in
      panic) echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger ;;
      agent) killall isthmus-hb-agent ;;
      esac ) &
fi
HOOK
    chmod +x /bin/ha-hook
    /bin/isthmus-hb-agent /bin/ha-hook > /dev/kmsg 2>&1 &
    say "ha: agent started"
    while :; do sleep 3600; done
fi
say "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
sleep 4
say "date $(date +%s)"
say "dmesg follows"
dmesg | while IFS= read -r line; do echo "isthmus-dmesg: $line" > /dev/kmsg; usleep 8000; done
say "dmesg ends"
say "ready"
poweroff -f
"""


def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def image_package():
    """The versioned image package the meta-package depends on."""
    out = subprocess.run(["apt-cache", "depends", META], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends: linux-image-"):
            return line.split()[1]
    raise SystemExit(f"debian-kernel: {META} depends on no linux-image package (apt-get update?)")


def fetch(out):
    """apt-get download and dpkg -x: Debian's packages are the one source of
    stock kernels here."""
    debs = os.path.join(out, "debs")
    root = os.path.join(out, "root")
    os.makedirs(debs, exist_ok=True)
    run(["apt-get", "download", image_package(), "busybox-static"], cwd=debs)
    for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
        run(["dpkg", "-x", deb, root])


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


def initramfs(busybox, agent=None):
    with open(busybox, "rb") as f:
        bb = f.read()
    extra = []
    if agent:  # the failover agent, built from guest/linux/hb-agent.c
        with open(agent, "rb") as f:
            extra.append(("bin/isthmus-hb-agent", 0o100755, f.read(), (0, 0)))
    d, reg, chr_ = 0o040755, 0o100755, 0o020600
    return cpio_newc([
        ("bin", d, b"", (0, 0)),
        ("dev", d, b"", (0, 0)),
        ("dev/console", chr_, b"", (5, 1)),  # the kernel opens it for init's stdio
        ("bin/busybox", reg, bb, (0, 0)),
        ("init", reg, INIT.encode(), (0, 0)),
    ] + extra)


def main(argv):
    agent = None
    if "--agent" in argv:  # --agent PATH: the failover agent goes in as /bin/isthmus-hb-agent
        i = argv.index("--agent")
        agent = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    out = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(ROOT, "build", "debian"))
    root = os.path.join(out, "root")
    if not glob.glob(os.path.join(root, "boot", "vmlinuz-*")) or not os.path.exists(
            os.path.join(root, "bin", "busybox")):
        fetch(out)
    vmlinuz = sorted(glob.glob(os.path.join(root, "boot", "vmlinuz-*")))[-1]
    link = os.path.join(out, "vmlinuz")
    if os.path.realpath(link) != os.path.realpath(vmlinuz):
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.relpath(vmlinuz, out), link)
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
    with open(os.path.join(out, "initramfs.cpio"), "wb") as f:
        f.write(initramfs(os.path.join(root, "bin", "busybox"), agent))
    print(f"debian-kernel: {vmlinuz}, {vmlinux}, {os.path.join(out, 'initramfs.cpio')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
