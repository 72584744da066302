"""Boot tests of the foundation: discovery reports exactly the machine QEMU was given,
the shell survives anything typed at it, bad configuration never stops it, and
power control works. Each profile boots once per module and the tests share it."""
import re

import pytest

from conftest import PROMPT, fact_line, line_with, module_boot
import qemu

pc1 = module_boot("pc-1node")
q35 = module_boot("q35-2node-pxb")
pc3 = module_boot("pc-3node")

MIB = 1024 * 1024


def parse_cpus(out):
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(\d+)\s+(\d+)\s+(-?\d+)\s+(\w+)", line)
        if m:
            rows[int(m.group(1))] = (int(m.group(2)), int(m.group(3)), m.group(4))
    return rows


def parse_numa_memory(out):
    """{node: MiB of RAM} from the `numa` command's node lines."""
    mem = {}
    for line in out.splitlines():
        m = re.match(r"^node (\d+): .*?(\d+) MiB RAM", line)
        if m:
            mem[int(m.group(1))] = int(m.group(2))
    return mem


def parse_distances(out):
    rows = []
    grab = False
    for line in out.splitlines():
        if line.startswith("distances"):
            grab = True
            continue
        if grab:
            m = re.match(r"^\s*(\d+)\s*:\s*([\d\s]+)$", line)
            if not m:
                break
            rows.append([int(x) for x in m.group(2).split()])
    return rows


def check_topology(hv, profile):
    p = qemu.PROFILES[profile]
    cpus = parse_cpus(hv.cmd("cpus"))
    assert len(cpus) == len(p["cpus"]), cpus
    for idx, (apic, node, state) in cpus.items():
        assert p["cpus"][apic] == node, (apic, node)
        assert state in ("online", "busy"), cpus
    numa = hv.cmd("numa")
    mem = parse_numa_memory(numa)
    assert set(mem) == set(p["nodes"]), numa
    for node, want in p["nodes"].items():
        # Firmware keeps some RAM for itself (runtime services, reserved areas, the
        # legacy hole on node 0, its data at the top of RAM on the last node).
        slack = 32 if node == 0 else 16
        assert want - slack <= mem[node] <= want, (node, mem[node], want)
    if p["distances"]:
        assert parse_distances(numa) == p["distances"], numa
    return cpus, numa


# ------------------------------------------------------------------ pc, 1 CPU, 1 node

def test_boot_log_pc(pc1):
    text = pc1.boot_text
    assert line_with(text, "own page tables", "0 writable+executable"), text
    assert "ERROR" not in text, text
    assert line_with(text, "1 of 1 CPUs", "online"), text


def test_topology_pc_1node(pc1):
    check_topology(pc1, "pc-1node")
    numa = pc1.cmd("numa")
    assert "no SRAT" in numa


def test_pci_pc(pc1):
    out = pc1.cmd("pci")
    assert re.search(r"^0000:00:00\.0\s+8086:1237\s+0\s+hypervisor\s+.*host bridge", out, re.M), out
    assert "port I/O" in out


def test_mem_pc(pc1):
    out = pc1.cmd("mem")
    m = line_with(out, "total:", re.compile(r"\b(\d+) MiB free\b"), re.compile(r"\bof (\d+) MiB\b"))
    assert m and 400 <= int(m[1]) <= int(m[2]) <= 512, out


def test_version_and_help(pc1):
    out = pc1.cmd("version")
    assert "Isthmus" in out and "TSC" in out
    out = pc1.cmd("help")
    for c in ("help", "version", "cpus", "mem", "numa", "pci", "log", "poweroff", "reboot",
              "config", "acpi"):
        assert re.search(rf"^\s*{c}\b", out, re.M), (c, out)
    one = pc1.cmd("help cpus")
    assert "cpus" in one and "APIC ID" in one and "version" not in one, one
    assert "frob" in pc1.cmd("help frob")


def test_unknown_and_bad_arguments(pc1):
    out = pc1.cmd("frobnicate now")
    assert line_with(out, "unknown command", "frobnicate"), out
    assert "usage: cpus" in pc1.cmd("cpus extra")
    assert "quote" in pc1.cmd('log "unterminated')


def test_log_ring(pc1):
    out = pc1.cmd("log")
    assert re.search(r"\[\s*\d+\.\d{6}\] INFO\s+paging", out), out
    assert "DEBUG" not in pc1.cmd("log info")
    assert len(pc1.cmd("log 3").strip().splitlines()) == 3
    assert "usage: log" in pc1.cmd("log verbose")


def test_garbage_input_does_not_break_shell(pc1):
    # A very long line: the editor refuses past its limit, the command fails cleanly.
    pc1.send_raw("x" * 2000 + "\r")
    pc1.p.expect(fact_line("unknown command", re.compile(r"\bxxxx")), timeout=60)
    pc1.sync()
    # Control characters and binary garbage, then a real command.
    pc1.send_raw("\x01\x02\x05\x0b\x0c\x0e\x10\x1a\x1b[999;999H\x1b[?25l\x1bO\x7f\x08")
    pc1.send_raw(bytes(range(128, 256)).decode("latin-1"))
    pc1.sync()
    assert "Isthmus" in pc1.cmd("version")
    pc1.send_raw("half a line\x03")            # Ctrl-C abandons it
    pc1.p.expect_exact("^C", timeout=30)
    pc1.sync()
    assert "Isthmus" in pc1.cmd("version")


def test_line_editing_and_history(pc1):
    pc1.cmd("cpus")
    # Up arrow recalls "cpus"; Enter runs it again.
    pc1.send_raw("\x1b[A")
    pc1.p.expect_exact(PROMPT + "cpus", timeout=30)      # the recalled line, redrawn
    pc1.send_raw("\r")
    pc1.p.expect_exact("boot CPU", timeout=30)
    pc1.sync()
    # Backspace edits: "versiox" <BS> "n".
    pc1.send_raw("versiox\x7fn\r")
    pc1.p.expect_exact("Isthmus", timeout=30)
    pc1.sync()
    hist = pc1.cmd("history")
    assert "cpus" in hist and "version" in hist


def test_exception_on_boot_cpu_refused(pc1):
    out = pc1.cmd("debug fault 0")
    assert line_with(out, "CPU 0", "not", "application processor"), out


# ------------------------------------------------------------------ q35, 4 CPUs, 2 nodes, pxb NIC

def test_topology_q35_2node(q35):
    check_topology(q35, "q35-2node-pxb")


def test_pci_nic_on_node1(q35):
    vendor, device, node = qemu.PROFILES["q35-2node-pxb"]["nic"]
    out = q35.cmd("pci")
    assert "ECAM" in out, out
    line = [l for l in out.splitlines() if f"{vendor}:{device}" in l]
    assert line, out
    cols = line[0].split()
    assert re.match(r"^0000:[0-9a-f]{2}:[0-9a-f]{2}\.\d$", cols[0]), line
    assert int(cols[0][5:7], 16) >= 0x80, line     # behind the expander's buses
    assert cols[2] == str(node), line
    numa = q35.cmd("numa")
    blocks = re.split(r"^(?=node \d+:|no known node|distances)", numa, flags=re.M)
    node1 = [b for b in blocks if b.startswith("node 1:")][0]
    assert f"{vendor}:{device}" in node1, numa


def test_acpi_tables_q35(q35):
    out = q35.cmd("acpi")
    for sig in ("FACP", "APIC", "SRAT", "SLIT", "MCFG", "HPET", "DSDT"):
        assert sig in out, (sig, out)


def test_exception_dump_stops_only_that_cpu(q35):
    dump = q35.cmd("debug fault 3 gp")
    assert line_with(dump, "CPU 3", "stopped"), dump
    assert line_with(dump, "CPU 3", "APIC ID 3", "exception", "#GP"), dump
    assert "RIP" in dump and "CR3" in dump
    cpus = parse_cpus(q35.cmd("cpus"))
    assert cpus[3][2] == "halted" and cpus[1][2] == "online", cpus
    assert "Isthmus" in q35.cmd("version")


# ------------------------------------------------------------------ pc, 3 nodes, unequal memory

def test_topology_pc_3node(pc3):
    check_topology(pc3, "pc-3node")


# ------------------------------------------------------------------ configuration

GARBAGE = b"""# a configuration with several mistakes
[hypervisor]
log_level = "loud"
baud = 12
colour = true
[nonsense]
= = =
"""


def test_garbage_config_reports_lines_and_shell_works(boot):
    hv = boot("pc-1node", config=GARBAGE)
    text = hv.boot_text
    for line, word in ((3, "log_level"), (4, "baud"), (5, "colour"), (6, "nonsense"), (7, None)):
        assert line_with(text, f"isthmus.toml:{line}:", *([word] if word else [])), (line, text)
    assert line_with(text, "5 errors", "no partitions", "start"), text
    out = hv.cmd("config")
    assert "isthmus.toml:3: " in out and "isthmus.toml:7: " in out, out
    assert "Isthmus" in hv.cmd("version")


def test_binary_config(boot):
    hv = boot("pc-1node", config=b"[hypervisor]\nlog_level = \"info\"\n\x7fELF\x00\x01\xff\xfe" + bytes(range(256)))
    assert "isthmus.toml:3: " in hv.boot_text, hv.boot_text
    out = hv.cmd("config")
    assert line_with(out, "isthmus.toml", "2 errors", "defaults"), out


def test_missing_config(boot):
    hv = boot("pc-1node", no_config=True)
    assert line_with(hv.boot_text, "no configuration", "isthmus.toml", "not found"), hv.boot_text
    out = hv.cmd("config")
    assert line_with(out, "no partitions", "start"), out
    assert "Isthmus" in hv.cmd("version")


# ------------------------------------------------------------------ power

def test_poweroff_ends_qemu(boot):
    hv = boot("pc-1node")
    hv.send_raw("poweroff\r")
    assert hv.wait_exit(timeout=60) == 0


def test_reboot_resets_machine(boot):
    hv = boot("q35-2node-pxb")
    hv.send_raw("reboot\r")
    # -no-reboot turns the reset into QEMU exiting.
    assert hv.wait_exit(timeout=60) == 0


PARTITION_CONFIG = """[hypervisor]
log_level = "info"

[[partition]]
name = "alpha"
cpus = 1
memory = "64M"
kernel = "no-such-kernel.elf"
"""


def test_partition_images_read_and_reported(boot):
    # Partitions are parsed and their images looked for on the ESP; a missing one is
    # named, and the partition that needs it fails to start with that reason.
    hv = boot("pc-4cpu", config=PARTITION_CONFIG)
    text = hv.boot_text
    assert line_with(text, "cannot read", "\\EFI\\BOOT\\no-such-kernel.elf", "not found"), text
    assert line_with(text, "alpha", "not start", "no-such-kernel.elf", "not found"), text
    assert "partitions=1 [alpha cpus=1 memory=67108864 running]" in hv.cmd("config")
    out = hv.cmd("parts")
    assert re.search(r"^alpha\s+failed", out, re.M), out
