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

With isthmus.net= on the kernel command line the /init instead loads
Debian's own virtio_net (the modules are in the initramfs, with a
modules.dep), brings eth0 up and runs a network role (NET_INIT below;
tests/boot/test_linux_net.py, docs/guests.md).
"""
import glob
import importlib.util
import lzma
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
META = "linux-image-cloud-amd64"

# Modules the network role loads, by name; their dependencies come with them.
NET_MODULES = ["virtio_pci", "virtio_net", "8021q"]

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /sbin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The init's first line, for bench/linux.py's boot time: kvm-clock counts from
# the partition's start (system time 0), and the kernel log's clock from
# kvm-clock's "sched offset" (ns, though the kernel says cycles), so this
# line's own time stamp plus that offset is the time from the partition's
# start to here.
echo "isthmus-init: started, sched offset $(dmesg | sed -n 's/.*using sched offset of \([0-9]*\) cycles.*/\1/p') ns" > /dev/kmsg
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
# Networking with Linux's own driver: /net-init (NET_INIT), which never returns.
grep -q 'isthmus\.net=' /proc/cmdline && . /net-init
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

NET_INIT = r"""#!/bin/busybox sh
# /net-init: sourced by /init when the command line has isthmus.net=. Kept in
# its own file so that the rest of /init (reports, shell, SMP) changes apart.
#
#   isthmus.net=IP/PREFIX  the address (on eth0, or on eth0.VID with isthmus.vlan)
#   isthmus.vlan=VID       an 802.1Q sub-interface eth0.VID (8021q) carries it,
#                          or isthmus.vlan_net=IP/PREFIX, and eth0 keeps isthmus.net
#   isthmus.role=server    isthmus.ports=P1,P2,...: one TCP stream received on
#                          each port in turn (so a second sender waits for the
#                          first), its byte count and MD5 reported
#   isthmus.role=client    isthmus.peer=IP: ping it, then send isthmus.bytes=N
#                          (default 8388608) to isthmus.port=P (default 5000),
#                          retrying the connection for isthmus.wait=S seconds
#
# Every report is a line "isthmus-net: ..." in the kernel log, which the
# console prints. The data sent is deterministic (the numbers 1 to 100000, one
# a line, repeated, cut at N bytes) so a test can compute its MD5 too.
# After the role: the device's counters once the link has been quiet for 8 s,
# "isthmus-net: done", then idle, so the switch's counters can be read at rest.
net_arg() { sed -n "s/.*\bisthmus\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
net_say() { echo "isthmus-net: $*" > /dev/kmsg; }
net_idle() { while :; do sleep 3600; done; }
net_fail() { net_say "failed: $*"; net_idle; }

net_up() {
    echo on > /proc/sys/kernel/printk_devkmsg
    # No IPv6 (router and neighbour solicitations would add frames of their
    # own to the counters a test compares): set before eth0 exists.
    for f in /proc/sys/net/ipv6/conf/default/disable_ipv6 /proc/sys/net/ipv6/conf/all/disable_ipv6; do
        [ -e $f ] && echo 1 > $f
    done
    modprobe virtio_pci || net_fail "modprobe virtio_pci"
    modprobe virtio_net || net_fail "modprobe virtio_net"
    n=0
    while [ ! -e /sys/class/net/eth0 ]; do
        n=$((n + 1)); [ $n -gt 50 ] && net_fail "no eth0 after loading virtio_net"
        usleep 100000
    done
    ip link set lo up
    ip link set eth0 up || net_fail "ip link set eth0 up"
    dev=eth0
    if [ -n "$NET_VLAN" ]; then
        modprobe 8021q || net_fail "modprobe 8021q"
        ip link add link eth0 name eth0.$NET_VLAN type vlan id $NET_VLAN || net_fail "vlan $NET_VLAN"
        ip link set eth0.$NET_VLAN up
        if [ -n "$NET_VLAN_ADDR" ]; then
            ip addr add $NET_VLAN_ADDR dev eth0.$NET_VLAN || net_fail "ip addr add $NET_VLAN_ADDR"
            net_say "vlan eth0.$NET_VLAN $NET_VLAN_ADDR"
        else
            dev=eth0.$NET_VLAN
        fi
    fi
    ip addr add $NET_ADDR dev $dev || net_fail "ip addr add $NET_ADDR dev $dev"
    pci=$(basename "$(readlink -f /sys/class/net/eth0/device/..)")
    drv=$(basename "$(readlink /sys/class/net/eth0/device/driver)")
    pdrv=$(basename "$(readlink /sys/bus/pci/devices/$pci/driver)")
    kinds=$(cat /sys/bus/pci/devices/$pci/msi_irqs/* 2>/dev/null | sort | uniq -c | tr -s ' \n' ' ')
    net_say "up $dev $NET_ADDR mac $(cat /sys/class/net/eth0/address) mtu $(cat /sys/class/net/eth0/mtu)" \
        "driver $drv pci $pci $pdrv features $(cat /sys/class/net/eth0/device/features)" \
        "msi_irqs$kinds modules $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
    grep virtio /proc/interrupts | while IFS= read -r line; do net_say "irq $line"; done
}

# The deterministic stream: the first $1 bytes of "1\n2\n...100000\n" repeated.
net_gen() {
    [ -e /tmp/blk ] || seq 1 100000 > /tmp/blk
    while cat /tmp/blk; do :; done | head -c "$1"
}

net_counters() {
    sed -n 's/^ *eth0: *//p' /proc/net/dev | {
        read rxb rxp rxe rxd x x x x txb txp txe txd x
        net_say "counters eth0 rx_packets=$rxp rx_bytes=$rxb tx_packets=$txp tx_bytes=$txb" \
            "rx_errs=$rxe rx_drop=$rxd tx_errs=$txe tx_drop=$txd"
    }
}

# Counters once no frame has moved for 8 s, so they are final: longer than
# the neighbour table's delay_first_probe_time (5 s), after which Linux sends a
# unicast ARP probe for a peer it last sent to without hearing back.
net_quiet_counters() {
    last=""
    quiet=0
    while [ $quiet -lt 4 ]; do
        now=$(grep 'eth0:' /proc/net/dev)
        if [ "$now" = "$last" ]; then quiet=$((quiet + 1)); else quiet=0; fi
        last=$now
        sleep 2
    done
    net_counters
}

net_uptime() { cut -d' ' -f1 /proc/uptime; }

net_server() {
    # nc -e hands the connection to this script as its stdin; its output goes
    # to files, and the connection closes when it ends.
    cat > /tmp/net-rx <<'RX'
#!/bin/sh
rm -f /tmp/rx.fifo; mkfifo /tmp/rx.fifo
wc -c < /tmp/rx.fifo > /tmp/rx.count &
tee /tmp/rx.fifo | md5sum > /tmp/rx.md5
wait
RX
    chmod +x /tmp/net-rx
    for port in $(echo "${NET_PORTS:-5000}" | tr ',' ' '); do
        net_say "listening port $port"
        rm -f /tmp/rx.count /tmp/rx.md5
        nc -l -p $port -e /tmp/net-rx || net_say "nc -l -p $port failed"
        n=0
        while [ ! -s /tmp/rx.count ] && [ $n -lt 50 ]; do usleep 100000; n=$((n + 1)); done
        net_say "received port $port bytes=$(cat /tmp/rx.count) md5=$(cut -d' ' -f1 /tmp/rx.md5)"
    done
}

net_ping() {
    n=0
    until ping -c 1 -W 1 $NET_PEER > /dev/null 2>&1; do
        n=$((n + 1)); [ $n -gt $NET_WAIT ] && net_fail "no answer from $NET_PEER"
        sleep 1
    done
    out=$(ping -c 5 -W 2 $NET_PEER 2>&1)
    net_say "ping $NET_PEER $(echo "$out" | grep -E 'transmitted|round-trip' | tr '\n' ' ')"
}

net_client() {
    net_ping
    bytes=${NET_BYTES:-8388608}
    port=${NET_PORT:-5000}
    net_gen 1 > /dev/null   # the block, made before the clock starts
    n=0
    while :; do
        rm -f /tmp/tx.fifo /tmp/tx.md5; mkfifo /tmp/tx.fifo
        md5sum < /tmp/tx.fifo > /tmp/tx.md5 &
        t0=$(net_uptime)
        # nc's complaint goes to a file: one "connection refused" a second
        # while the server is busy would push the reports out of the
        # console's ring.
        if net_gen $bytes | tee /tmp/tx.fifo | nc $NET_PEER $port 2> /tmp/tx.err; then
            wait
            break
        fi
        wait
        n=$((n + 1))
        [ $n -gt $NET_WAIT ] && net_fail "no connection to $NET_PEER port $port: $(cat /tmp/tx.err)"
        sleep 1
    done
    net_say "sent port $port bytes=$bytes md5=$(cut -d' ' -f1 /tmp/tx.md5) seconds=$t0..$(net_uptime)"
}

NET_ADDR=$(net_arg net)
NET_VLAN=$(net_arg vlan)
NET_VLAN_ADDR=$(net_arg vlan_net)
NET_PEER=$(net_arg peer)
NET_PORT=$(net_arg port)
NET_PORTS=$(net_arg ports)
NET_BYTES=$(net_arg bytes)
NET_WAIT=$(net_arg wait); NET_WAIT=${NET_WAIT:-900}
net_up
case "$(net_arg role)" in
server) net_server ;;
client) net_client ;;
esac
net_quiet_counters
net_say "done"
net_idle
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


def initramfs(busybox, root, agent=None):
    with open(busybox, "rb") as f:
        bb = f.read()
    d, reg, chr_, file_ = 0o040755, 0o100755, 0o020600, 0o100644
    entries = [
        ("bin", d, b"", (0, 0)),
        ("dev", d, b"", (0, 0)),
        ("dev/console", chr_, b"", (5, 1)),  # the kernel opens it for init's stdio
        ("bin/busybox", reg, bb, (0, 0)),
        ("init", reg, INIT.encode(), (0, 0)),
        ("net-init", reg, NET_INIT.encode(), (0, 0)),
    ]
    if agent:  # the failover agent, built from guest/linux/hb-agent.c
        with open(agent, "rb") as f:
            entries.append(("bin/isthmus-hb-agent", reg, f.read(), (0, 0)))
    version, mods = module_files(root, NET_MODULES)
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
        f.write(initramfs(os.path.join(root, "bin", "busybox"), root, agent))
    print(f"debian-kernel: {vmlinuz}, {vmlinux}, {os.path.join(out, 'initramfs.cpio')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
