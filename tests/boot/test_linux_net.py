"""Networking with Linux's own driver: Debian's stock virtio_net (a module,
loaded with no options) in three partitions on the switch, AMD-V under QEMU TCG
and VT-x under Bochs (ISTHMUS_BOCHS; test IDs end in [svm] or [vmx]).

The kernel is build/debian/vmlinuz as Debian ships it, and the initramfs
(`make debian-kernel`, tools/debian-kernel.py) carries virtio_pci, virtio_net,
8021q and what they need; its /init, given isthmus.net=, loads them, brings
eth0 up and plays the role the command line names (the NET_INIT script):

  a   access port, VLAN 10, 10.0.10.1, MTU 9000: pings b, then sends a
      deterministic stream of BYTES to b's port 5000 and prints its MD5
  b   trunk port, MTU 9000 (its driver receives a's jumbo frames over
      several mergeable buffers each), native VLAN 10 (10.0.10.2 on eth0) and VLAN 20 (10.0.20.2 on
      the 802.1Q sub-interface eth0.20): receives one stream on port 5000, then
      one on 5001, printing the byte count and MD5 of each
  c   access port, VLAN 20, 10.0.20.1, committed rate CIR_BITS (not
      work-conserving): pings b's eth0.20, then sends RATE_BYTES to port 5001,
      which b opens only after a's stream, so the flows do not overlap

BYTES is 100 MiB: with both ends in guest/linux/stream.c a TCG guest sends
about 9 MB/s on the 2-core CI machine (11 s). Under Bochs (four emulated CPUs,
whose clock runs 10 to 20 times slower than the host's) the streams are smaller
and c's rate is measured over a window of the hypervisor's own clock, which the
shim keeps: SIZES. Every guest reports
through its kernel log, on its console; the test reads the consoles and the
shell's `net`. What a Linux guest sees: docs/guests.md, "Networking"."""
import hashlib
import os
import re
import time

import pytest

from test_linux import CPU_MODEL_LINES, esp_with_linux as linux_esp, linux_partition, need_debian
from conftest import BACKENDS, BUILD, backend_boot, fact_line, line_with
from test_partitions import console, vcpu_dump

DEBIAN = os.path.join(BUILD, "debian")
VMLINUZ = os.path.join(DEBIAN, "vmlinuz")
INITRD = os.path.join(DEBIAN, "initramfs.cpio")
# c's committed rate: 150,000 bytes/s, well under the 200-250 KB/s a loaded TCG
# guest sends, so the shim and not the guest sets the pace. The 64K buckets let
# the flow catch up after its vCPU was not run for a moment (the host is shared),
# and add at most 64K to a window of 3 MB.
CIR_BITS = 1200000
# Per backend: a's stream (BYTES) and c's (RATE_BYTES), how much of c's has
# passed before its window (RATE_START, past the buckets' burst), the window
# (WINDOW_S, seconds of the clock `clock` reads) and the timeouts in host
# seconds for three Linux boots (BOOT_S) and for a stream (TRANSFER_S). Under
# Bochs c's stream lasts 14 s of the hypervisor's clock, 10 s after its start.
# ARGS: more kernel arguments. Bochs's UART sends at the line's 115200 baud in
# its own slow time, a few hundred bytes a second: each look at a console
# (which replays it) would take minutes with the kernel's boot messages in it,
# so there the console shows warnings and worse, which the reports are.
SIZES = {
    "svm": {"BYTES": 100 << 20, "RATE_BYTES": 6 << 20, "RATE_START": 1 << 20, "WINDOW_S": 20,
            "BOOT_S": 240, "TRANSFER_S": 300, "ARGS": ""},
    "vmx": {"BYTES": 4 << 20, "RATE_BYTES": 2 << 20, "RATE_START": 512 << 10, "WINDOW_S": 5, "BOOT_S": 1200,
            "TRANSFER_S": 1200, "ARGS": " loglevel=5"},
}
IP = {"a": "10.0.10.1", "b": "10.0.10.2", "b20": "10.0.20.2", "c": "10.0.20.1"}
# a and b's ports are jumbo (VLAN 10), c's is Ethernet's: virtio_net takes the
# MTU offered, and b receives a's 9014-byte frames over several of its
# mergeable receive buffers (1.5-4 KiB page fragments).
MTU = {"a": 9000, "b": 9000, "c": 1500}
MAC = {"a": "02:15:7e:00:00:01", "b": "02:15:7e:00:00:02", "c": "02:15:7e:00:00:03"}

def config(nbytes, rate_bytes, more=""):
    """The three partitions: a sends nbytes to b, c sends rate_bytes to b's VLAN 20;
    more: kernel arguments for all three."""
    a = linux_partition("a", 1, f"isthmus.net={IP['a']}/24 isthmus.role=client "
                     f"isthmus.peer={IP['b']} isthmus.port=5000 isthmus.bytes={nbytes}{more}")
    b = linux_partition("b", 2, f"isthmus.net={IP['b']}/24 isthmus.vlan=20 "
                     f"isthmus.vlan_net={IP['b20']}/24 isthmus.role=server isthmus.ports=5000,5001{more}")
    c = linux_partition("c", 3, f"isthmus.net={IP['c']}/24 isthmus.role=client "
                     f"isthmus.peer={IP['b20']} isthmus.port=5001 isthmus.bytes={rate_bytes}{more}")
    return ('[hypervisor]\nconsole = "com1"\nlog_level = "info"\n'
            + a + f"vlan = 10\nmtu = {MTU['a']}\n"
            + b + f'vlan_mode = "trunk"\nvlan = 10\ntrunk_vlans = [20]\nmtu = {MTU["b"]}\n'
            + c + f'vlan = 20\ncir = "{CIR_BITS}"\npir = "{CIR_BITS}"\ncbs = "64K"\npbs = "64K"\nwc = false\n')


def expected_md5(n):
    """The MD5 of the first n bytes of the stream the client sends: the
    numbers 1 to 100000, one a line, repeated (guest/linux/stream.c)."""
    block = "".join(f"{i}\n" for i in range(1, 100001)).encode()
    h = hashlib.md5()
    while n > 0:
        h.update(block[:n])
        n -= len(block)
    return h.hexdigest()


def esp_with_linux(tmp_path, sizes):
    return linux_esp(tmp_path, config(sizes["BYTES"], sizes["RATE_BYTES"], sizes["ARGS"]), VMLINUZ)


@pytest.fixture(scope="module", params=BACKENDS)
def hv(request, tmp_path_factory):
    need_debian(VMLINUZ, INITRD)
    sizes = SIZES[request.param]
    h = backend_boot(request.param, f"test_linux_net[{request.param}]",
                     esp_with_linux(tmp_path_factory.mktemp("esp"), sizes), profile="pc-4cpu")
    try:
        h.wait_prompt()
        h.started = time.time()
        h.backend = request.param
        h.sizes = sizes
        yield h
    finally:
        h.close()


def clock(hv):
    """Seconds on the clock c's rate is measured by: the host's under QEMU, whose
    TCG keeps real time; under Bochs, whose clock runs at its own pace (`clock:
    sync=none`), the hypervisor's uptime (`version`), the clock the shim keeps."""
    if hv.backend == "svm":
        return time.monotonic()
    m = re.search(r"^uptime (\d+\.\d+) s", hv.cmd("version"), re.M)
    assert m, "no uptime in 'version'"
    return float(m.group(1))


def net_line(hv, name, *facts, timeout):
    """Waits for an "isthmus-net:" line of `name`'s console holding the facts;
    fails at once on the init's "failed" line."""
    deadline = time.time() + timeout
    while True:
        text = console(hv, name)
        for m in fact_line("isthmus-net:", *facts).finditer(text):
            if text.startswith("\n", m.end()):  # a whole line, not one still being printed
                return m, text
        bad = line_with(text, "isthmus-net:", "failed:")
        assert not bad, bad[0]
        if time.time() > deadline:
            pytest.fail(f"{name}: no isthmus-net line with {facts} within {timeout} s; console:\n{text[-3000:]}\n"
                        f"{vcpu_dump(hv, name)}")
        time.sleep(3)


def port_block(net_out, name):
    m = re.search(r"^port \d+ %s .*?(?=^port |\Z)" % re.escape(name), net_out, re.M | re.S)
    assert m, net_out
    return m.group(0)


def port_counters(block):
    tx = re.search(r"^\s+tx frames=(\d+) bytes=(\d+)", block, re.M)
    rx = re.search(r"^\s+rx frames=(\d+) bytes=(\d+)", block, re.M)
    assert tx and rx, block
    return {"tx_packets": int(tx[1]), "tx_bytes": int(tx[2]), "rx_packets": int(rx[1]), "rx_bytes": int(rx[2])}


def counter(block, key):
    m = re.search(r"\b%s=(\d+)" % re.escape(key), block)
    return int(m.group(1)) if m else 0


def test_virtio_net_binds_with_msix(hv):
    """Debian's virtio_net binds to the NIC through virtio-pci with no options,
    with its three MSI-X vectors (configuration, receive, transmit)."""
    for name in ("a", "b", "c"):
        m, text = net_line(hv, name, "up", timeout=hv.sizes["BOOT_S"])
        up = m[0]
        assert line_with(up, "driver virtio_net", "virtio-pci", MAC[name], f"mtu {MTU[name]}"), up
        assert line_with(up, re.compile(r"msi_irqs 3 msix\b")), up
        # The irq lines follow the up line: wait for the last one.
        _, text = net_line(hv, name, "irq", "virtio0-output.0", timeout=60)
        for vec in ("virtio0-config", "virtio0-input.0", "virtio0-output.0"):
            assert line_with(text, "isthmus-net: irq", vec), (name, vec, text[-2000:])
        text = "\n".join(line for line in text.splitlines() if not any(m in line for m in CPU_MODEL_LINES))
        for bad in ("Call Trace", "WARNING:", "virtio_net: probe of", "failed to"):
            assert bad not in text, [line for line in text.splitlines() if bad in line]
    # Linux's probe does not trip the hypervisor: its log (on the same serial
    # line) has no warning about the PCI bus, its ports or the NIC.
    hv.log.flush()
    with open(hv.logpath, encoding="utf-8", errors="replace") as f:
        log = [line for line in f if re.search(r"\b(WARN|ERROR)\s", line)]
    for bad in (r"\bvpci\b", r"port 0xcf[89a-f]", r"\bnet\b", r"\bvnic\b", r"MSI"):
        assert not [line for line in log if re.search(bad, line)], log


def test_ping_across_the_switch(hv):
    m, _ = net_line(hv, "a", "ping", IP["b"], timeout=hv.sizes["BOOT_S"])
    assert line_with(m[0], "5 packets transmitted", "5 packets received"), m[0]
    print(f"ping a -> b {time.time() - hv.started:.0f} s after the prompt: {m[0]}")


def test_checksummed_tcp_transfer(hv):
    """BYTES over TCP from a to b, in 9000-byte frames: both ends print the MD5
    of what went through their socket, and both equal the stream's, computed
    here; b's port counts frames received over several mergeable buffers."""
    t0 = time.time()
    nbytes = hv.sizes["BYTES"]
    sent, _ = net_line(hv, "a", "sent port 5000", timeout=hv.sizes["TRANSFER_S"])
    got, _ = net_line(hv, "b", "received port 5000", timeout=60)
    want = expected_md5(nbytes)
    assert line_with(sent[0], f"bytes={nbytes}", f"md5={want}"), sent[0]
    assert line_with(got[0], f"bytes={nbytes}", f"md5={want}"), got[0]
    # Jumbo frames reached b's driver over several receive buffers each.
    merged = counter(port_block(hv.cmd("net"), "b"), "merged")
    assert merged > 0, hv.cmd("net")
    print(f"b received {merged} frames over several buffers")
    print(f"{nbytes >> 20} MiB a -> b, md5 {want}; done {time.time() - hv.started:.0f} s after the prompt "
          f"(waited {time.time() - t0:.0f} s here); guest: {sent[0]}")


def test_vlan_subinterface_on_trunk(hv):
    """b's eth0.20 (8021q, tagged frames on its trunk port) answers c, an
    access port on VLAN 20, and a's VLAN 10 never reaches it."""
    m, _ = net_line(hv, "b", "vlan eth0.20", timeout=hv.sizes["BOOT_S"])
    m, _ = net_line(hv, "c", "ping", IP["b20"], timeout=hv.sizes["BOOT_S"])
    assert line_with(m[0], "5 packets transmitted", "5 packets received"), m[0]
    out = hv.cmd("net")
    assert line_with(port_block(out, "b"), "trunk", "native 10", "vlans 20"), out
    assert re.search(r"^\s+20\s+%s\s" % re.escape(MAC["b"]), hv.cmd("net mac"), re.M | re.I), "b not learnt on VLAN 20"


def test_rate_limited_flow_holds_committed_rate(hv):
    """c's TCP flow to b, shaped by the shim on c's port: its bytes over a
    WINDOW_S window, from the switch's counters, are within 5% of cir/8."""
    rate_bytes, window = hv.sizes["RATE_BYTES"], hv.sizes["WINDOW_S"]
    deadline = time.time() + hv.sizes["TRANSFER_S"] + hv.sizes["BOOT_S"]
    while True:
        block = port_block(hv.cmd("net"), "c")
        if counter(block, "bytes") >= hv.sizes["RATE_START"]:  # tx frames=... bytes=... of c's port comes first
            break
        assert time.time() < deadline, (block, console(hv, "c")[-1500:], hv.cmd("vcpus c"))
        time.sleep(1)

    def sample():
        out = hv.cmd("net")
        now = clock(hv)
        return now, port_counters(port_block(out, "c"))["tx_bytes"], port_block(out, "c")

    t0, b0, _ = sample()
    if hv.backend == "svm":
        time.sleep(window)
    else:
        while clock(hv) < t0 + window:
            time.sleep(5)
    t1, b1, block = sample()
    assert b1 - b0 < rate_bytes, "c's flow ended inside the window"
    rate, want = (b1 - b0) / (t1 - t0), CIR_BITS / 8
    print(f"committed {want:.0f} B/s, measured {rate:.0f} B/s over {t1 - t0:.1f} s")
    assert abs(rate - want) <= 0.05 * want, (rate, want, block)
    assert counter(block, "red") > 0 and counter(block, "held") > 0, block  # the shim, not the guest, held it
    sent, _ = net_line(hv, "c", "sent port 5001",
                       timeout=rate_bytes / want * 2 + 60 if hv.backend == "svm" else hv.sizes["TRANSFER_S"])
    got, _ = net_line(hv, "b", "received port 5001", timeout=60)
    want_md5 = expected_md5(rate_bytes)
    assert line_with(sent[0], f"bytes={rate_bytes}", f"md5={want_md5}"), sent[0]
    assert line_with(got[0], f"bytes={rate_bytes}", f"md5={want_md5}"), got[0]


def test_guest_and_switch_counters_agree(hv):
    """Once a guest's link has been quiet for 8 s it prints eth0's counters from
    /proc/net/dev (what `ip -s link` shows); they must equal its port's in
    `net` exactly: the guest's tx packets and bytes are the port's tx (frames
    from the guest), its rx the port's rx (frames to it). Both count each
    Ethernet frame from the destination address to the end of the payload, with
    the 802.1Q tag when the frame carries one (b's VLAN 20 frames), without the
    virtio-net header and without a frame check sequence."""
    guest = {}
    for name in ("a", "b", "c"):
        m, _ = net_line(hv, name, "counters eth0", timeout=hv.sizes["TRANSFER_S"])
        guest[name] = {k: int(v) for k, v in re.findall(r"\b(rx_packets|rx_bytes|tx_packets|tx_bytes)=(\d+)", m[0])}
        net_line(hv, name, "done", timeout=60)
    out = hv.cmd("net")
    for name in ("a", "b", "c"):
        port = port_counters(port_block(out, name))
        print(f"{name}: guest {guest[name]} switch {port}")
        assert guest[name] == port, (name, guest[name], port)
