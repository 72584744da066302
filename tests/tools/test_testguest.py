"""The test guest on its own, booted by plain QEMU's PVH loader (-kernel, no
Isthmus): its boot path, scenarios and output format work before any partition
runs it. Inside Isthmus the same binary is driven by the partition boot tests."""
import io
import re
from pathlib import Path

import pexpect
import pytest
from pexpect.popen_spawn import PopenSpawn

ROOT = Path(__file__).resolve().parents[2]
ELF = ROOT / "build" / "guest" / "testguest.elf"
LOGS = ROOT / "build" / "boot-logs"


def run_guest(name, cmdline, until, smp=1, timeout=60):
    """Boots the guest and returns its tg: lines once `until` has been printed (the
    guest halts forever after its scenario, so QEMU is stopped then)."""
    if not ELF.exists():
        pytest.fail(f"{ELF.relative_to(ROOT)} is missing: run `make guest` first")
    LOGS.mkdir(parents=True, exist_ok=True)
    cmd = ["qemu-system-x86_64", "-machine", "pc", "-cpu", "max", "-m", "256", "-smp", str(smp),
           "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none",
           "-no-reboot", "-kernel", str(ELF), "-append", cmdline]
    seen = io.StringIO()
    p = PopenSpawn(cmd, encoding="utf-8", codec_errors="replace", timeout=timeout)
    p.logfile_read = seen
    try:
        p.expect_exact(until + "\n")
    except (pexpect.TIMEOUT, pexpect.EOF):
        pass
    finally:
        p.proc.kill()
        p.proc.wait()
    out = seen.getvalue()
    (LOGS / f"testguest-{name}.log").write_text(out)
    # SeaBIOS may share the first tg: line: match "tg: " anywhere in a line.
    return [line[line.index("tg: ") + 4:] for line in out.splitlines() if "tg: " in line]


def test_hello_ticks_then_stops():
    lines = run_guest("hello", "hello tick_ms=200 ticks=3", "tg: done after 3 ticks")
    assert lines[0].startswith("testguest ") and "scenario hello" in lines[0], lines
    assert "not running on Isthmus" in lines
    assert any(re.match(r"memmap 0x[0-9a-f]{16}-0x[0-9a-f]{16} ", l) for l in lines), lines
    assert [l for l in lines if l.startswith("tick ")] == ["tick 1", "tick 2", "tick 3"], lines
    assert "done after 3 ticks" in lines


def test_smp_brings_up_every_vcpu():
    lines = run_guest("smp", "smp ticks=1", "tg: done after 1 ticks", smp=4)
    online = sorted(l for l in lines if re.match(r"vcpu \d+ \(APIC ID \d+\) online", l))
    assert len(online) == 3, lines
    assert "smp: 4 of 4 vCPUs online" in lines, lines


def test_unknown_scenario_falls_back_to_hello():
    lines = run_guest("unknown", "frobnicate ticks=1", "tg: done after 1 ticks")
    assert any(l.startswith("unknown scenario 'frobnicate'") for l in lines), lines
    assert "tick 1" in lines
