"""`make run`, what a user types first, on a real pty as a person would use it:
with no arguments it boots the Linux demo (configs/linux-demo.toml) and the
README's walk-through works as written; with CONFIG= it boots that file."""
import os
import re
import time

import pexpect

from conftest import LOGS, PROMPT, ROOT, Hypervisor, clean, fact_line
from test_failover import check_takeover, wait_hb
from test_linux import need_debian
from test_partitions import parts, wait_for

DEMO_BOOT_S = 600    # make, then three Debian boots on two host cores


class MakeRun(Hypervisor):
    """`make run ARGS` on a pty, driven like Hypervisor (conftest.py)."""

    def __init__(self, name, args, timeout):
        os.makedirs(LOGS, exist_ok=True)
        self.name = name
        self.backend = "svm"
        self.log = open(os.path.join(LOGS, name + ".log"), "w", encoding="utf-8", errors="replace")
        self.p = pexpect.spawn("make", ["-C", ROOT, "run"] + args, encoding="utf-8", codec_errors="replace",
                               timeout=timeout, logfile=self.log)
        self.boot_text = ""

    def cmd(self, line, timeout=60):
        # A pty turns each "\n" the hypervisor sends into "\r\n".
        self.p.send(line + "\r")
        self.p.expect(re.escape(line) + r"\r+\n", timeout=timeout)
        self.p.expect_exact(PROMPT, timeout=timeout)
        return clean(self.p.before)

    def close(self):
        self.p.close(force=True)
        if not self.log.closed:
            self.log.close()


def test_make_run_with_config_reaches_prompt():
    hv = MakeRun("test_make_run", ["CONFIG=configs/isthmus.toml", "PROFILE=pc-1node"], 300)
    try:
        # The hint for leaving QEMU, with the profile asked for.
        hv.expect(fact_line("profile pc-1node", "Ctrl-A", "X").pattern)
        hv.wait_prompt()
        assert "uptime" in hv.cmd("version")
        assert line_no_partitions(hv.cmd("parts"))
        hv.p.send("poweroff\r")
        hv.p.expect(pexpect.EOF, timeout=60)
    finally:
        hv.close()
    assert hv.p.exitstatus == 0, (hv.p.exitstatus, hv.p.signalstatus)


def line_no_partitions(text):
    return re.search(r"\bno partitions\b", text)


def shell_line(hv, name, line, until, timeout=60):
    """Types a line into a partition's shell through `console NAME` and returns
    its console text once `until` (a regex) came, then detaches."""
    hv.p.send(f"console {name}\r")
    hv.expect(r"attached to %s" % name)
    time.sleep(1)  # the replay of what its console holds
    hv.p.send(line + "\r")
    hv.expect(until, timeout=timeout)
    text = clean(hv.p.before + hv.p.after)
    hv.p.send("\x1d")
    hv.expect(r"detached")
    hv.expect_prompt()
    return text


def test_make_run_linux_demo():
    """The README's walk-through: the three Debian partitions come up, the
    client gets web-a's page through the service address, web-a's kernel is
    made to panic from its own shell, web-b takes over, and the client gets
    the page from web-b."""
    need_debian(os.path.join(ROOT, "build", "debian", "vmlinuz"))
    t0 = time.time()
    hv = MakeRun("test_make_run_linux_demo", [], DEMO_BOOT_S)
    try:
        hv.expect(fact_line("profile linux-demo", "Ctrl-A", "X").pattern)
        hv.wait_prompt()
        rows, _ = parts(hv)
        assert sorted(rows) == ["client", "web-a", "web-b"], rows
        assert all(r["state"] == "running" for r in rows.values()), rows
        # Each partition's shell on its console; the pair beats.
        for name in rows:
            wait_for(hv, name, rf"{name}:/# ", timeout=DEMO_BOOT_S)
        wait_hb(hv, "web-a", "primary", "ALIVE", timeout=120)
        wait_hb(hv, "web-b", "standby", "ALIVE", timeout=120)
        ready = time.time() - t0
        wait_for(hv, "web-a", r"isthmus-ha: serving 10\.0\.10\.80", timeout=60)
        shell_line(hv, "client", "wget -qO- http://10.0.10.80/", r"served by web-a\r*\n")
        # web-a's kernel panics; the master fails the service over to web-b.
        hv.p.send("console web-a\r")
        hv.expect(r"attached to web-a")
        time.sleep(1)
        hv.p.send("isthmus-fail panic\r")
        hv.expect(r"Kernel panic", timeout=60)
        hv.p.send("\x1d")
        hv.expect(r"detached")
        hv.expect_prompt()
        check_takeover(hv, "web", "web-a", "web-b", ("missed", "beats"))
        wait_for(hv, "web-b", r"isthmus-ha: serving 10\.0\.10\.80", timeout=60)
        shell_line(hv, "client", "wget -qO- http://10.0.10.80/", r"served by web-b\r*\n")
        print(f"\nlinux demo: shells and heartbeats ready {ready:.0f} s after `make run`")
        hv.p.send("poweroff\r")
        hv.p.expect(pexpect.EOF, timeout=60)
    finally:
        hv.close()
