"""A stock Debian kernel beside a hostile neighbour (issue 16's tests): two
Linux partitions (the receiver with 2 vCPUs) moving a checksummed TCP stream over the switch with
Debian's own virtio_net, while a test-guest partition (guest/abuse.c, two
racing vCPUs) abuses its NIC, ports, MSRs, APIC page and hypercalls and
sends its frames to the Linux receiver's MAC on the same VLAN. The Linux
pair is undisturbed: the stream arrives whole (MD5 on both ends and here),
no call trace or warning in either kernel's log, no ring error on their
ports, the shell answers throughout. AMD-V under QEMU TCG; test_hostile_net.py
has the abuser against the test guest on both backends.

The images come from `make debian-kernel` (skipped without them)."""
import re
import time

import pexpect
import pytest

from conftest import Hypervisor, line_with
from test_hostile_net import abuse_seed
from test_linux import esp_with_linux, linux_partition, need_debian
from test_linux_net import INITRD, VMLINUZ, counter, expected_md5, net_line, port_block
from test_partitions import console, parts, wait_for

BYTES = 4 << 20
BOOT_S = 240
TRANSFER_S = 300
SHELL_S = 20
MAC = {"server": "02:15:7e:00:00:01", "client": "02:15:7e:00:00:02", "abuser": "02:15:7e:00:00:66"}


def config(seed):
    def linux(name, cpus, args):
        return linux_partition(name, cpus, args, extra=f'mac = "{MAC[name]}"\nvlan = 10\n')

    return ('[hypervisor]\nconsole = "com1"\nlog_level = "info"\n'
            + linux("server", [1, 2], "isthmus.net=10.0.10.1/24 isthmus.role=server isthmus.ports=5000")
            + linux("client", [3], f"isthmus.net=10.0.10.2/24 isthmus.role=client isthmus.peer=10.0.10.1 "
                    f"isthmus.port=5000 isthmus.bytes={BYTES}")
            + f"""
[[partition]]
name = "abuser"
cpus = [4, 5]
memory = "16M"
kernel = "testguest.elf"
cmdline = "abuse seed={seed} dst={MAC['server']} tick_ms=1000"
nic = true
mac = "{MAC['abuser']}"
vlan = 10
cir = "2000000"
pir = "2000000"
cbs = "128K"
pbs = "128K"
wc = false
""")


def test_linux_undisturbed_beside_abuser(tmp_path):
    need_debian(VMLINUZ, INITRD)
    seed = abuse_seed()
    print(f"\nabuse seed {seed} (ISTHMUS_ABUSE_SEED={seed} replays it)")
    hv = Hypervisor("test_linux_hostile", "pc-7cpu", esp_with_linux(tmp_path, config(seed), VMLINUZ))
    try:
        hv.wait_prompt()
        wait_for(hv, "abuser", r"^tg: abuse: \d+ ops ", timeout=120)
        # The server runs SMP: 2 vCPUs online (test_linux_shell.py has 4).
        up, _ = net_line(hv, "server", "up", timeout=BOOT_S)
        assert line_with(up[0], "cpus 2"), up[0]
        # The stream, while the abuser runs; the shell answers all along.
        deadline = time.time() + TRANSFER_S
        while True:
            t = time.time()
            try:
                hv.cmd("parts", timeout=SHELL_S)
            except pexpect.TIMEOUT:
                pytest.fail(f"the shell did not answer 'parts' within {SHELL_S} s")
            if line_with(console(hv, "client"), "isthmus-net:", "sent port 5000"):
                break
            assert time.time() < deadline, "no transfer within %d s" % TRANSFER_S
            time.sleep(max(0, 5 - (time.time() - t)))
        want = expected_md5(BYTES)
        sent, client_text = net_line(hv, "client", "sent port 5000", timeout=10)
        got, server_text = net_line(hv, "server", "received port 5000", timeout=60)
        assert line_with(sent[0], f"bytes={BYTES}", f"md5={want}"), sent[0]
        assert line_with(got[0], f"bytes={BYTES}", f"md5={want}"), got[0]
        for name, text in (("client", client_text), ("server", server_text)):
            for bad in ("Call Trace", "WARNING:", "BUG:", "virtio_net virtio0: ", "Oops"):
                assert bad not in text, (name, [line for line in text.splitlines() if bad in line])
        # The abuser did its worst (its own port shows it), the Linux ports
        # show nothing of it.
        abuse = console(hv, "abuser")
        progress = re.findall(r"^tg: abuse: \d+ ops .*$", abuse, re.M)
        net_out = hv.cmd("net")
        for name in ("server", "client"):
            block = port_block(net_out, name)
            for key in ("ring", "needs-reset", "bar", "msi"):
                assert counter(block, key) == 0, (name, key, block)
        rows, _ = parts(hv)
        assert rows["server"]["state"] == "running" and rows["client"]["state"] == "running", rows
        if rows["abuser"]["state"] == "failed":
            print(f"the abuser was failed: {rows['abuser'].get('reason', '')}")
        print(f"{BYTES >> 20} MiB client -> server beside the abuser, md5 {want}; abuser: "
              f"{progress[-1] if progress else 'no progress line'}; its port: "
              f"{' '.join(l.strip() for l in port_block(net_out, 'abuser').splitlines()[-2:])}")
    finally:
        hv.close()
