#!/usr/bin/python3
"""Line coverage of the unit tests, per folder of the hypervisor (make coverage).

Reads the .gcda files that the unit tests wrote when built with --coverage
(under BUILD_DIR), asks gcov for its JSON report of each, and counts a source
line as covered when any test ran it. Writes the table to OUT and prints it.

Usage: coverage.py BUILD_DIR OUT
"""
import collections
import glob
import gzip
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FOLDERS = ["kernel/lib", "kernel/core", "kernel/shell", "arch/x86", "arch/x86/vmx", "arch/x86/svm",
           "drivers", "drivers/acpi", "vmm", "vmm/dev", "vmm/ha", "net"]


def reports(build):
    for gcda in sorted(glob.glob(os.path.join(build, "**", "*.gcda"), recursive=True)):
        r = subprocess.run(["gcov", "--json-format", "--stdout", gcda], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if r.returncode != 0 or not r.stdout:
            continue
        data = r.stdout
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        for line in data.decode().splitlines():
            if line.strip():
                yield json.loads(line)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    build, out = sys.argv[1], sys.argv[2]
    lines = collections.defaultdict(dict)        # source -> line -> ran
    for rep in reports(build):
        for f in rep.get("files", []):
            src = os.path.relpath(os.path.join(ROOT, f["file"]), ROOT)
            if src.startswith(("tests/", "..", "/")):
                continue
            for ln in f["lines"]:
                seen = lines[src]
                seen[ln["line_number"]] = seen.get(ln["line_number"], False) or ln["count"] > 0
    if not lines:
        print("coverage: no .gcda files under %s: did the unit tests run?" % build)
        return 1
    rows = []
    for folder in FOLDERS:
        files = [s for s in lines if os.path.dirname(s) == folder]
        total = sum(len(lines[s]) for s in files)
        ran = sum(sum(lines[s].values()) for s in files)
        tested = [s for s in glob.glob(os.path.join(ROOT, folder, "*.c"))]
        rows.append((folder, sum(1 for s in files if s.endswith(".c")), len(tested), ran, total))
    text = ["| folder | C files unit-tested | C files | lines run | lines | coverage |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for folder, nf, nall, ran, total in rows:
        pct = "%.1f%%" % (100.0 * ran / total) if total else "-"
        text.append("| `%s/` | %d | %d | %d | %d | %s |" % (folder, nf, nall, ran, total, pct))
    ran = sum(r[3] for r in rows)
    total = sum(r[4] for r in rows)
    text.append("| all | %d | %d | %d | %d | %.1f%% |" % (sum(r[1] for r in rows), sum(r[2] for r in rows),
                                                        ran, total, 100.0 * ran / total if total else 0))
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as fh:
        fh.write("\n".join(text) + "\n")
    print("\n".join(text))
    print("(lines: executable lines of the files the unit tests compile; see docs/testing.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
