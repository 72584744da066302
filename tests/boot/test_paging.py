"""Shadow paging on both backends, with nested paging beside it for comparison.

One boot per backend (pc-4cpu: the shell on CPU 0, three partitions):
  shadow    paging = "shadow", 8 roots cached (the default): the `paging`
            scenario (address spaces switched round-robin by CR3 loads, page-table
            edits with INVLPG, read-only / NX / user-supervisor faults)
  nocache   the same with shadow_roots = 1: every switch rebuilds
  nested    the same scenario on EPT/NPT
and a second boot with the `hostile` scenario under shadow paging: everything
it tries stops only its own partition.
"""
import re

import pytest

from conftest import backend_module_boot, partition_toml
from test_partitions import console, parts, wait_for, wait_state

ROUNDS = 100
SPACES = 4


partition = partition_toml

SCEN = f"paging spaces={SPACES} rounds={ROUNDS}"
CONFIG = ('[hypervisor]\nlog_level = "info"\n'
          + partition("shadow", 1, SCEN, 'paging = "shadow"\n')
          + partition("nocache", 2, SCEN, 'paging = "shadow"\nshadow_roots = 1\n')
          + partition("nested", 3, SCEN, 'paging = "nested"\n'))
HOSTILE = ('[hypervisor]\nlog_level = "info"\n'
           + partition("evil", 1, "hostile", 'paging = "shadow"\n')
           + partition("bystander", 2, "hello", 'paging = "shadow"\n'))

hv = backend_module_boot(CONFIG, "paging", "pc-4cpu")
evil = backend_module_boot(HOSTILE, "paging-hostile", "pc-4cpu")

DONE = re.compile(r"^tg: paging: done, (\d+) checks passed, (\d+) failed$", re.M)
SWITCH = re.compile(r"^tg: paging: switched (\d+) address spaces (\d+) rounds: (\d+) CR3 loads, (\d+) ns per switch$",
                    re.M)


def finished(hv, name):
    text, m = wait_for(hv, name, DONE.pattern, timeout=240)
    assert m and int(m[1]) > 0 and m[2] == "0" and "FAIL" not in text, text
    return text


def stats(hv, name):
    out = hv.cmd(f"paging {name}")
    m = re.search(r"CR3 loads (\d+), other CR accesses (\d+); root cache hits (\d+), misses (\d+), "
                  r"evictions (\d+)", out)
    f = re.search(r"shadow faults (\d+) \(#PF exits (\d+)\): filled (\d+), reflected to the guest (\d+), "
                  r"MMIO (\d+); INVLPG (\d+)", out)
    w = re.search(r"page-table writes emulated (\d+), pages unprotected (\d+); guest page-table pages tracked "
                  r"(\d+); shadow table pages (\d+)", out)
    assert m and f and w, out
    keys = ["cr3", "cr", "hits", "misses", "evictions", "faults", "pf_exits", "fills", "reflected", "mmio",
            "invlpg", "pt_writes", "unprotects", "tracked", "tables"]
    vals = [int(x) for x in m.groups() + f.groups() + w.groups()]
    return out, dict(zip(keys, vals))


@pytest.mark.parametrize("name", ["shadow", "nocache", "nested"])
def test_scenario_passes(hv, name):
    text = finished(hv, name)
    m = SWITCH.search(text)
    assert m and int(m[1]) == SPACES and int(m[2]) == ROUNDS, text
    assert int(m[3]) >= SPACES * ROUNDS, text
    print(f"\npaging [{hv.backend}] {name}: {m[4]} ns per address-space switch")
    # Each permission check faulted as the guest's own tables say.
    for what in ["write to read-only page", "user read of supervisor page"]:
        assert re.search(rf"^tg: paging: {what}: #PF error 0x[0-9a-f]+ at 0x[0-9a-f]+ \(expected\)$", text, re.M), \
            (what, text)


def test_shadow_counters(hv):
    finished(hv, "shadow")
    out, s = stats(hv, "shadow")
    assert "shadow paging, up to 8 shadow root(s) cached" in out, out
    # The round-robin reuses the cached roots: a miss per address space (and a
    # few for the set-up), hits for the rest.
    assert s["cr3"] >= SPACES * ROUNDS, out
    assert s["hits"] >= SPACES * (ROUNDS - 1), out
    assert s["misses"] <= 4 * SPACES, out
    assert s["pf_exits"] == s["faults"] and s["fills"] > 0, out
    # The permission checks reach the guest as its own page faults; its page
    # table edits are emulated writes; INVLPG is intercepted.
    assert s["reflected"] >= 3 and s["pt_writes"] > 0 and s["invlpg"] > 0 and s["tracked"] > 0, out
    rows, _ = parts(hv)
    assert rows["shadow"]["state"] == "running", rows


def test_no_cache_rebuilds(hv):
    finished(hv, "nocache")
    out, s = stats(hv, "nocache")
    assert "up to 1 shadow root(s) cached" in out, out
    # Every switch to another address space is a miss, and its pages fault in again.
    assert s["misses"] >= SPACES * ROUNDS, out
    _, cached = stats(hv, "shadow")
    assert s["faults"] > 2 * cached["faults"], (out, cached)


def test_nested_for_comparison(hv):
    finished(hv, "nested")
    out = hv.cmd("paging nested")
    assert re.search(r"^nested: nested paging \((EPT|NPT)\)$", out, re.M), out
    assert "no partition named" in hv.cmd("paging nosuch")


def test_hostile_guest_under_shadow_paging(evil):
    """The hostile scenario's probes (ports, MSRs, memory outside its RAM,
    hypercalls, a triple fault) stop only its own partition."""
    row = wait_state(evil, "evil", "failed", timeout=240)
    assert "triple fault" in row["reason"], row
    text = console(evil, "evil")
    assert "tg: hostile: outb 0x64 -> survived" in text, text
    assert "tg: hostile: rdmsr 0x3a -> #GP" in text, text
    assert "tg: hostile: hypercall console_write buffer outside RAM -> -14\n" in text, text
    assert "tg: hostile: hypercall partition_info past the end of RAM -> -14\n" in text, text
    assert "tg: hostile: triple fault now" in text and "survived a triple fault" not in text, text
    assert "Isthmus" in evil.cmd("version")
    rows, out = parts(evil)
    assert rows["bystander"]["state"] == "running", out
    assert "shadow paging" in evil.cmd("paging bystander")


AUTO = ('[hypervisor]\nlog_level = "info"\n'
        + partition("auto", 1, f"paging spaces={SPACES} rounds=20")
        + partition("duo", [2, 3], "hello"))


def test_cpu_without_nested_paging(boot):
    """AMD-V without NPT (QEMU's -cpu max,-npt): partitions fall back to shadow
    paging by themselves and say so; a two-vCPU partition is refused with the
    reason. (VT-x: Bochs' CPU models all have EPT, so this runs on AMD-V only.)"""
    hv = boot("pc-4cpu", AUTO, extra=("-cpu", "max,-npt"))
    text = hv.boot_text
    assert "AMD-V (SVM revision 1)" in text and ", NPT," not in text, text
    assert "svm: no NPT: partitions use shadow paging (one vCPU each, no assigned devices)" in text, text
    assert "auto: the CPU has no EPT/NPT: shadow paging" in text, text
    text, _ = wait_for(hv, "auto", DONE.pattern, timeout=240)
    assert re.search(r"^tg: paging: done, \d+ checks passed, 0 failed$", text, re.M), text
    assert "auto: shadow paging" in hv.cmd("paging auto")
    rows, out = parts(hv)
    assert rows["duo"]["state"] in ("refused", "failed"), out
    assert "shadow paging (the CPU has no EPT/NPT) supports one vCPU, not 2" in out, out
