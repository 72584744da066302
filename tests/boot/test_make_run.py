"""`make run` (what a user types first) reaches the shell prompt and `poweroff`
ends it, on a real pty as a person would use it."""
import os

import pexpect

from conftest import LOGS, ROOT, fact_line


def test_make_run_reaches_prompt():
    os.makedirs(LOGS, exist_ok=True)
    with open(os.path.join(LOGS, "test_make_run.log"), "w") as log:
        p = pexpect.spawn("make", ["-C", ROOT, "run", "PROFILE=pc-1node"], encoding="utf-8",
                          codec_errors="replace", timeout=300, logfile=log)
        try:
            # The hint for leaving QEMU, with the profile asked for.
            p.expect(fact_line("profile pc-1node", "Ctrl-A", "X"))
            p.expect_exact("isthmus> ")
            p.send("version\r")
            p.expect_exact("uptime")
            p.expect_exact("isthmus> ")
            p.send("poweroff\r")
            p.expect(pexpect.EOF, timeout=60)
        finally:
            p.close(force=True)
        assert p.exitstatus == 0, (p.exitstatus, p.signalstatus)
