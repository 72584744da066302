#!/usr/bin/python3
"""Address-space switch costs: shadow paging with its root cache, shadow paging
without it (shadow_roots = 1), and nested paging (docs/performance.md).

One boot (pc-7cpu; Bochs for vmx) with six one-vCPU partitions running the test
guest's `paging` scenario: each variant twice, with 100 and with 500 rounds over
4 address spaces. The difference between the two runs of a variant is pure
round-robin (1,600 switches), so VM exits per switch and shadow faults per
switch are exact counts, independent of the machine. The guest's own ns per
switch is printed too; it is emulator time, not hardware time.

  make esp guest && bench/paging.py [svm|vmx]     (vmx needs ISTHMUS_BOCHS)
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "boot"))
import pytest  # noqa: E402  (the harness reports a missing runner through pytest.skip)

from conftest import backend_boot, make_esp, partition_toml  # noqa: E402
from test_partitions import console, parts  # noqa: E402

SPACES, SHORT, LONG = 4, 100, 500
VARIANTS = [("shadow", 'paging = "shadow"\n'), ("nocache", 'paging = "shadow"\nshadow_roots = 1\n'),
            ("nested", 'paging = "nested"\n')]


def config():
    text, cpu = '[hypervisor]\nlog_level = "warn"\n', 1
    for name, keys in VARIANTS:
        for rounds in (SHORT, LONG):
            text += partition_toml(f"{name}-{rounds}", cpu,
                                   f"paging spaces={SPACES} rounds={rounds} tick_ms=100000", keys)
            cpu += 1
    return text


def wait_done(hv, name, timeout=900):
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = console(hv, name)
        m = re.search(r"^tg: paging: done, (\d+) checks passed, (\d+) failed$", text, re.M)
        if m:
            assert m[2] == "0", text
            return text
        time.sleep(2)
    raise SystemExit(f"{name}: the scenario did not finish:\n{text}")


def shadow_counts(hv, name):
    out = hv.cmd(f"paging {name}")
    m = re.search(r"root cache hits (\d+), misses (\d+)", out)
    f = re.search(r"shadow faults (\d+)", out)
    return (int(m[1]), int(m[2]), int(f[1])) if m and f else (0, 0, 0)


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "svm"
    try:
        hv = backend_boot(backend, f"bench-paging-{backend}", make_esp(config()), profile="pc-7cpu")
    except pytest.skip.Exception as e:
        raise SystemExit(f"cannot run {backend}: {e}")
    try:
        hv.wait_prompt(timeout=600)
        ns = {}
        for name, _ in VARIANTS:
            for rounds in (SHORT, LONG):
                text = wait_done(hv, f"{name}-{rounds}")
                ns[(name, rounds)] = int(re.search(r"CR3 loads, (\d+) ns per switch", text)[1])
        rows, _ = parts(hv)
        switches = SPACES * (LONG - SHORT)
        print(f"backend {backend}: {SPACES} address spaces, {LONG} vs {SHORT} rounds ({switches} switches apart)")
        print(f"{'variant':10} {'exits/switch':>13} {'faults/switch':>14} {'root hit rate':>14} {'ns/switch':>10}")
        for name, _ in VARIANTS:
            d_exits = rows[f"{name}-{LONG}"]["exits"] - rows[f"{name}-{SHORT}"]["exits"]
            hits, misses, faults = shadow_counts(hv, f"{name}-{LONG}")
            _, _, faults_short = shadow_counts(hv, f"{name}-{SHORT}")
            rate = f"{100.0 * hits / (hits + misses):.1f}%" if hits + misses else "-"
            print(f"{name:10} {d_exits / switches:13.2f} {(faults - faults_short) / switches:14.2f} {rate:>14} "
                  f"{ns[(name, LONG)]:10}")
    finally:
        hv.close()


if __name__ == "__main__":
    main()
