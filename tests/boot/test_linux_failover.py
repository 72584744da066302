"""Failover of stock Linux partitions: a hot-standby pair of Debian kernels,
each running the failover agent of guest/linux/hb-agent.c (a static program
in the initramfs, no kernel module) over the heartbeat port. The primary's
kernel panics (sysrq c), or its agent is killed; the master detects it,
fences the primary and promotes the standby, whose agent runs its hook and
acknowledges. AMD-V under QEMU TCG; the VT-x runs of the same master are in
test_failover.py (test guest), a Linux pair under Bochs is too slow for CI.

The images come from `make debian-kernel` (skipped without them)."""
import os
import re

import pytest

from conftest import BUILD, Hypervisor, line_with
from test_failover import check_takeover, wait_hb
from test_linux import INITRD, VMLINUX, esp_with_linux
from test_partitions import parts, wait_for

AGENT_TIMEOUT = 240    # boot to the agent's first beat under TCG
INTERVAL_MS = 200
MISSES = 3


def config(fail):
    part = """
[[partition]]
name = "{name}"
cpus = [{cpu}]
memory = "192M"
kernel = "vmlinux"
initrd = "initramfs.cpio"
cmdline = "console=ttyS0 isthmus.ha=1{extra}"
"""
    return ("[hypervisor]\nconsole = \"com1\"\nlog_level = \"info\"\n"
            + part.format(name="web-a", cpu=1, extra=f" isthmus.fail={fail}")
            + part.format(name="web-b", cpu=2, extra="")
            + f"""
[[failover]]
name = "web"
primary = "web-a"
standby = "web-b"
mode = "hot"
interval_ms = {INTERVAL_MS}
misses = {MISSES}
grace_ms = 120000
""")


@pytest.mark.parametrize("fail,how", [("panic:4", ("missed", "beats")),
                                      ("agent:4", ("missed", "beats"))])
def test_linux_pair_fails_over(fail, how, tmp_path):
    for path in (VMLINUX, INITRD):
        if not os.path.exists(path):
            pytest.skip(f"{os.path.relpath(path, BUILD)} missing: run 'make debian-kernel'")
    hv = Hypervisor(f"test_linux_failover_{fail.split(':')[0]}", "pc-linux", esp_with_linux(tmp_path, config(fail)))
    hv.backend = "svm"
    try:
        hv.wait_prompt()
        # Both agents beat, web-a as primary; its hook ran and says so.
        wait_hb(hv, "web-a", "primary", "ALIVE", timeout=AGENT_TIMEOUT)
        wait_hb(hv, "web-b", "standby", "ALIVE", timeout=AGENT_TIMEOUT)
        text, _ = wait_for(hv, "web-a", r"isthmus-ha: now primary", timeout=60)
        assert re.search(r"isthmus-hb: beating every \d+ ms \(interval %d ms\)" % INTERVAL_MS, text), text
        # The scripted failure, then the takeover by web-b's agent.
        detect, takeover = check_takeover(hv, "web", "web-a", "web-b", how)
        text, _ = wait_for(hv, "web-b", r"isthmus-hb: serving as primary", timeout=60)
        assert "isthmus-ha: now primary" in text, text
        assert detect <= (MISSES + 2) * INTERVAL_MS, detect
        print(f"linux pair, {fail}: detection {detect} ms, takeover {takeover} ms")
        block = hv.cmd("parts -v")
        assert line_with(block, "heartbeat port", "beats"), block
        rows, _ = parts(hv)
        assert rows["web-b"]["state"] == "running", rows
    finally:
        hv.close()
