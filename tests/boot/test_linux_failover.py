"""Failover of stock Linux partitions: a hot-standby pair of Debian kernels
serving a web page at the service address, each running the failover agent of
guest/linux/hb-agent.c (a static program in the initramfs, no kernel module)
over the heartbeat port, and a third Debian partition asking for the page
twice a second (isthmus-poll, a new TCP connection each time). Once all of
it runs, the test types `isthmus-fail KIND` in the primary's shell: its
kernel panics (sysrq c), it hangs (a real-time task per CPU starves all of
its user space: the kernel still answers interrupts), or its agent is
killed. The master detects it, fences the
primary and promotes the standby, whose agent takes the service MAC and
address and acknowledges; the client's answers come from the standby from
then on. AMD-V under QEMU TCG; the VT-x runs of the same master are in
test_failover.py (test guest): a Linux trio under Bochs is too slow for CI.

The images come from `make debian-kernel` (skipped without them)."""
import re
import time

import pytest

from conftest import Hypervisor, line_with
from test_failover import check_takeover, wait_hb
from test_linux import INITRD, VMLINUX, esp_with_linux, linux_partition, need_debian
from test_partitions import console, parts, wait_for

AGENT_TIMEOUT = 240    # boot to the agent's first beat under TCG
INTERVAL_MS = 200
MISSES = 5            # 1.1 s: three Linux boots on two host cores delay beats
SVC_IP, SVC_MAC = "10.0.10.80", "02:15:7e:ff:00:80"
POLL_S = 0.5
POLL = re.compile(r"isthmus-net: poll (\d+) at ([\d.]+) s: (?:answer: served by (\S+)|(no answer))")


def config():
    def part(name, cpu, memory, ip, args):
        return linux_partition(name, cpu, f"isthmus.name={name} isthmus.net={ip}/24 isthmus.shell=1 {args}",
                               memory=memory, kernel="vmlinux", extra="vlan = 10\n")

    web = f"isthmus.role=httpd isthmus.ha=1 isthmus.svc_ip={SVC_IP}/24 isthmus.svc_mac={SVC_MAC}"
    return ("[hypervisor]\nconsole = \"com1\"\nlog_level = \"info\"\n"
            + part("web-a", 1, "192M", "10.0.10.1", web)
            + part("web-b", 2, "192M", "10.0.10.2", web)
            + part("client", 3, "128M", "10.0.10.3", f"isthmus.role=poll isthmus.peer={SVC_IP} isthmus.every={POLL_S}")
            + f"""
[[failover]]
name = "web"
primary = "web-a"
standby = "web-b"
mode = "hot"
interval_ms = {INTERVAL_MS}
misses = {MISSES}
grace_ms = 120000
mac = "{SVC_MAC}"
ip = "{SVC_IP}"
""")


def polls(text):
    """The client's tries in order: (number, uptime, server or None)."""
    return [(int(m[1]), float(m[2]), m[3]) for m in POLL.finditer(text)]


def wait_answers(hv, server, n, timeout=120):
    """The client's tries once its last n were answered by server."""
    deadline = time.time() + timeout
    while True:
        tries = polls(console(hv, "client"))
        if len(tries) >= n and all(t[2] == server for t in tries[-n:]):
            return tries
        if time.time() > deadline:
            pytest.fail(f"client: not {n} answers in a row from {server} within {timeout} s: {tries[-12:]}")
        time.sleep(1)


def client_outage(tries):
    """From the client's tries: the last answer from web-a, the first from web-b
    after it, the unanswered tries between, and the gap in the client's time."""
    last_a = max(i for i, t in enumerate(tries) if t[2] == "web-a")
    first_b = next(i for i, t in enumerate(tries) if i > last_a and t[2] == "web-b")
    between = tries[last_a + 1:first_b]
    assert all(t[2] is None for t in between), tries
    return len(between), tries[first_b][1] - tries[last_a][1]


@pytest.mark.parametrize("kind", ["panic", "hang", "agent"])
def test_linux_pair_fails_over(kind, tmp_path):
    need_debian(VMLINUX, INITRD)
    hv = Hypervisor(f"test_linux_failover_{kind}", "pc-linux", esp_with_linux(tmp_path, config()))
    hv.backend = "svm"
    try:
        hv.wait_prompt()
        # Both agents beat, web-a as primary; its hook ran and took the
        # service address; the client gets web-a's page through it.
        wait_hb(hv, "web-a", "primary", "ALIVE", timeout=AGENT_TIMEOUT)
        wait_hb(hv, "web-b", "standby", "ALIVE", timeout=AGENT_TIMEOUT)
        text, _ = wait_for(hv, "web-a", r"isthmus-ha: serving %s/24 as %s" % (SVC_IP, SVC_MAC), timeout=60)
        assert re.search(r"isthmus-hb: beating every \d+ ms \(interval %d ms\)" % INTERVAL_MS, text), text
        wait_answers(hv, "web-a", 2)
        # The failure, typed in web-a's shell, then the takeover by web-b's
        # agent. Each is detected by the beats that stop: a panicking Debian
        # kernel spins in its panic loop, it does not stop its vCPU.
        hv.send_raw("console web-a\r")
        hv.expect(r"attached")
        hv.send_raw(f"isthmus-fail {kind}\r")
        hv.expect(r"isthmus-ha: failing \(%s\)" % kind, timeout=30)
        if kind == "hang":
            hv.expect(r"isthmus-hog: spinning", timeout=30)
        hv.send_raw("\x1d")
        hv.expect(r"detached")
        hv.expect_prompt()
        detect, takeover = check_takeover(hv, "web", "web-a", "web-b", ("missed", "beats"))
        text, _ = wait_for(hv, "web-b", r"isthmus-ha: serving %s" % SVC_IP, timeout=60)
        assert "isthmus-hb: serving as primary" in text, text
        assert detect <= (MISSES + 2) * INTERVAL_MS, detect
        # The client keeps getting answers: from web-b now, four in a row.
        tries = wait_answers(hv, "web-b", 4)
        lost, gap = client_outage(tries)
        assert tries[-1][2] == "web-b", tries[-8:]
        assert gap < 20, (gap, tries)
        print(f"linux pair, {kind}: detection {detect} ms, takeover {takeover} ms; client: "
              f"{lost} tries unanswered, {gap:.2f} s between the last answer from web-a and the first from web-b")
        block = hv.cmd("parts -v")
        assert line_with(block, "heartbeat port", "beats"), block
        rows, _ = parts(hv)
        assert rows["web-b"]["state"] == "running", rows
        assert rows["web-a"]["state"] == "stopped", rows
    finally:
        hv.close()
