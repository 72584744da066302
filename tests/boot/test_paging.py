"""Shadow paging on both backends, with nested paging beside it for comparison.

One boot per backend (pc-4cpu: the shell on CPU 0, three partitions):
  shadow    paging = "shadow", 8 roots cached (the default): the `paging`
            scenario (address spaces switched round-robin by CR3 loads, page-table
            edits with INVLPG, read-only / NX / user-supervisor faults, and a
            #PF during a #PF's delivery, which must reach the guest as #DF)
  nocache   the same with shadow_roots = 1: every switch rebuilds
  nested    the same scenario on EPT/NPT
and a second boot with the `hostile` scenario under shadow paging: everything
it tries stops only its own partition.
"""
import re

import pytest

from conftest import backend_module_boot, fact_line, line_with, partition_toml
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

DONE = fact_line("paging:", "done", re.compile(r"\b(\d+) checks passed\b"), re.compile(r"\b(\d+) failed\b"))
SWITCH = fact_line("paging:", re.compile(r"\bswitched (\d+) address spaces\b"), re.compile(r"\b(\d+) rounds\b"),
                   re.compile(r"\b(\d+) CR3 loads\b"), re.compile(r"\b(\d+) ns per switch\b"))
NESTED = {"svm": "NPT", "vmx": "EPT"}
# The `paging NAME` counters, each a key word and the first figure after it.
COUNTERS = {"cr3": "CR3 loads", "cr": "CR accesses", "hits": "hits", "misses": "misses", "evictions": "evictions",
            "faults": "shadow faults", "pf_exits": "#PF exits", "fills": "filled", "reflected": "reflected",
            "mmio": "MMIO", "invlpg": "INVLPG", "pt_writes": "writes emulated", "unprotects": "unprotected",
            "tracked": "tracked", "tables": "shadow table pages", "double_faults": "double faults"}


def finished(hv, name):
    text, m = wait_for(hv, name, DONE, timeout=240)
    assert m and int(m[1]) > 0 and m[2] == "0" and "FAIL" not in text, text
    return text


def stats(hv, name):
    out = hv.cmd(f"paging {name}")
    s = {}
    for key, word in COUNTERS.items():
        m = line_with(out, re.compile(r"(?<![\w-])%s\b[^\d,;()]*?(\d+)\b" % re.escape(word)))
        assert m, (word, out)
        s[key] = int(m[1])
    return out, s


@pytest.mark.parametrize("name", ["shadow", "nocache", "nested"])
def test_scenario_passes(hv, name):
    text = finished(hv, name)
    m = SWITCH.search(text)
    assert m and int(m[1]) == SPACES and int(m[2]) == ROUNDS, text
    assert int(m[3]) >= SPACES * ROUNDS, text
    print(f"\npaging [{hv.backend}] {name}: {m[4]} ns per address-space switch")
    # Each permission check faulted as the guest's own tables say.
    for what in ["write to read-only page", "user read of supervisor page"]:
        assert line_with(text, "paging:", what, "#PF", "(expected)"), (what, text)
    # A #PF whose own gate is not present: #DF, from the CPU under nested
    # paging, from the hypervisor under shadow paging.
    assert line_with(text, "paging:", "double fault", "#DF error 0", "(expected)"), text


def test_shadow_counters(hv):
    finished(hv, "shadow")
    out, s = stats(hv, "shadow")
    assert line_with(out, "shadow:", "shadow paging", "8 shadow root(s)"), out
    # The round-robin reuses the cached roots: a miss per address space (and a
    # few for the set-up), hits for the rest.
    assert s["cr3"] >= SPACES * ROUNDS, out
    assert s["hits"] >= SPACES * (ROUNDS - 1), out
    assert s["misses"] <= 4 * SPACES, out
    assert s["pf_exits"] == s["faults"] and s["fills"] > 0, out
    # The permission checks reach the guest as its own page faults; its page
    # table edits are emulated writes; INVLPG is intercepted.
    assert s["reflected"] >= 3 and s["pt_writes"] > 0 and s["invlpg"] > 0 and s["tracked"] > 0, out
    # The double-fault check's #DF was the hypervisor's doing.
    assert s["double_faults"] == 1, out
    rows, _ = parts(hv)
    assert rows["shadow"]["state"] == "running", rows


def test_no_cache_rebuilds(hv):
    finished(hv, "nocache")
    out, s = stats(hv, "nocache")
    assert line_with(out, "nocache:", "shadow paging", "1 shadow root(s)"), out
    # Every switch to another address space is a miss, and its pages fault in again.
    assert s["misses"] >= SPACES * ROUNDS, out
    _, cached = stats(hv, "shadow")
    assert s["faults"] > 2 * cached["faults"], (out, cached)


def test_nested_for_comparison(hv):
    finished(hv, "nested")
    out = hv.cmd("paging nested")
    assert line_with(out, "nested:", "nested paging", NESTED[hv.backend]), out
    out = hv.cmd("paging nosuch")
    assert line_with(out, "no partition", "nosuch"), out


def test_hostile_guest_under_shadow_paging(evil):
    """The hostile scenario's probes (ports, MSRs, memory outside its RAM,
    hypercalls, a triple fault) stop only its own partition."""
    row = wait_state(evil, "evil", "failed", timeout=240)
    assert "triple fault" in row["reason"], row
    text = console(evil, "evil")
    assert line_with(text, "hostile:", "outb 0x64", "survived"), text
    assert line_with(text, "hostile:", "rdmsr 0x3a", "#GP"), text
    assert line_with(text, "hostile:", "hypercall", "console_write", "outside RAM", re.compile(r"-> -14$")), text
    assert line_with(text, "hostile:", "hypercall", "partition_info", "past the end of RAM",
                     re.compile(r"-> -14$")), text
    assert line_with(text, "hostile:", "triple fault", "now"), text
    assert not line_with(text, "survived", "triple fault"), text
    assert "Isthmus" in evil.cmd("version")
    rows, out = parts(evil)
    assert rows["bystander"]["state"] == "running", out
    out = evil.cmd("paging bystander")
    assert line_with(out, "bystander:", "shadow paging"), out


AUTO = ('[hypervisor]\nlog_level = "info"\n'
        + partition("auto", 1, f"paging spaces={SPACES} rounds=20")
        + partition("duo", [2, 3], "hello"))


def test_cpu_without_nested_paging(boot):
    """AMD-V without NPT (QEMU's -cpu max,-npt): partitions fall back to shadow
    paging by themselves and say so, a two-vCPU partition too (its vCPUs share
    the shadow MMU). (VT-x: Bochs' CPU models all have EPT, so this runs on
    AMD-V only.)"""
    hv = boot("pc-4cpu", AUTO, extra=("-cpu", "max,-npt"))
    text = hv.boot_text
    assert line_with(text, "AMD-V", "SVM revision 1", "no NPT") and ", NPT," not in text, text
    assert line_with(text, "svm:", "no NPT", "shadow paging"), text
    assert line_with(text, "auto:", "no EPT/NPT", "shadow paging"), text
    text, m = wait_for(hv, "auto", DONE, timeout=240)
    assert m[2] == "0", text
    out = hv.cmd("paging auto")
    assert line_with(out, "auto:", "shadow paging"), out
    rows, out = parts(hv)
    assert rows["duo"]["state"] == "running", out
    out = hv.cmd("paging duo")
    assert line_with(out, "duo:", "shadow paging"), out
