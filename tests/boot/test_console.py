"""`console NAME` with input: typed lines reach a partition's COM1 and come back.

One boot per backend (module-scoped; test IDs end in [svm] or [vmx]) on a
4-CPU PC, the shell keeping CPU 0:
  echo    echo (COM1 by interrupt through the vIOAPIC, lines sent back in
          upper case from the transmit interrupt)
  ticker  hello (never reads its UART: typed bytes pile up, then are dropped)
"""
import re

from conftest import backend_module_boot, fact_line, line_with
from test_partitions import wait_for

CONFIG = """[hypervisor]
log_level = "info"

[[partition]]
name = "echo"
cpus = [1]
memory = "16M"
kernel = "testguest.elf"
cmdline = "echo"

[[partition]]
name = "ticker"
cpus = [2]
memory = "16M"
kernel = "testguest.elf"
cmdline = "hello tick_ms=200"
"""

hv = backend_module_boot(CONFIG, "console", "pc-4cpu")

ECHO = re.compile(r"tg: echo: (.*) \(rx irqs (\d+), tx irqs (\d+), lines lost (\d+)\)\n")


def attach(hv, name):
    hv.send_raw(f"console {name}\r")
    hv.expect(fact_line("console:", "attached", name, "Ctrl-]").pattern + r"\n")


def detach(hv, name):
    hv.send_raw("\x1d")
    hv.expect(fact_line("console:", "detached", name).pattern + r"\n")
    line = hv.p.after
    hv.expect_prompt()
    return line


def type_line(hv, text):
    """Types a line at the attached console and returns the guest's echo of it."""
    hv.send_raw(text + "\r")
    hv.p.expect(r"tg: echo: " + re.escape(text.upper()) + r" \(rx irqs (\d+), tx irqs (\d+), lines lost (\d+)\)",
                timeout=60)
    return [int(g) for g in hv.p.match.groups()]


def test_typed_lines_reach_the_guest_by_interrupt(hv):
    _, m = wait_for(hv, "echo", fact_line("echo:", "IRQ 4", "GSI 4", "level", "active high", "0xfec00000",
                                          "vector 0x34"))
    attach(hv, "echo")
    rx1, tx1, lost1 = type_line(hv, "hello isthmus")
    rx2, tx2, lost2 = type_line(hv, "a second line, with 1 comma")
    # Received by the receive interrupt, sent back by the transmit interrupt
    # (the counts are taken before the reply goes out).
    assert rx1 >= 1 and rx2 > rx1
    assert tx2 >= 1
    assert lost1 == lost2 == 0
    text = detach(hv, "echo")
    assert line_with(text, "detached", "echo", re.compile(r"\b(\d+) bytes typed"))
    # The shell is still the shell.
    out = hv.cmd("parts -v")
    assert line_with(out, "ioapic:", "pin 4", "vector 0x34", "level", "active high")
    m = line_with(out, "uart:", re.compile(r"(\d+) in"), re.compile(r"(\d+) dropped"))
    assert m and int(m[1]) >= len("hello isthmus\ra second line, with 1 comma\r") and int(m[2]) == 0


def test_a_burst_longer_than_the_fifo_arrives_whole(hv):
    attach(hv, "echo")
    long = "".join(chr(ord("a") + i % 26) for i in range(100))
    type_line(hv, long)
    detach(hv, "echo")


def test_bytes_nobody_reads_wait_then_drop(hv):
    """The hello guest never reads COM1 nor turns its FIFOs on: one byte
    fills the receive buffer register (a 16450's), 256 wait in the input
    buffer, the rest are dropped and counted."""
    attach(hv, "ticker")
    hv.send_raw("x" * 400)
    hv.send_raw("\x1d")
    hv.expect(fact_line("console:", "detached", "ticker").pattern + r"\n")
    line = hv.p.after
    hv.expect_prompt()
    assert line_with(line, "257 bytes typed", "143 dropped"), line
    out = hv.cmd("parts -v")
    m = line_with(out, "uart:", "256 waiting now", "143 dropped")
    assert m, out
    # And the ticker still ticks, its console still readable (its first
    # tick may come late on a loaded host).
    wait_for(hv, "ticker", r"tg: tick", timeout=60)
