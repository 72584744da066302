#!/usr/bin/python3
"""Captures the real ACPI tables OVMF hands over on each QEMU machine profile,
as unit-test fixtures: tests/unit/fixtures/acpi/<profile>/ holds one raw file per
table and manifest.txt ("<hex physical address> <file>", RSDP first).

Usage: tools/acpi-capture.py [PROFILE...]   (needs build/esp.img: make esp)
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import qemu  # noqa: E402

import pexpect  # noqa: E402

PROMPT = "isthmus> "


def capture(profile):
    esp = os.path.join(ROOT, "build", "esp.img")
    cmd = qemu.command(esp, profile)
    p = pexpect.spawn(cmd[0], cmd[1:], encoding="utf-8", codec_errors="replace", timeout=300)
    try:
        p.expect_exact(PROMPT)
        p.send("acpi dump\r")
        p.expect_exact("acpi-dump end", timeout=300)
        text = p.before.replace("\r", "")
    finally:
        p.terminate(force=True)
    text = text[text.index("acpi-dump begin"):]
    tables, cur = [], None
    for line in text.splitlines():
        m = re.match(r"^table (\S+) ([0-9a-f]{16}) (\d+)$", line)
        if m:
            cur = [m.group(1), int(m.group(2), 16), int(m.group(3)), bytearray()]
            tables.append(cur)
        elif cur and re.match(r"^[0-9a-f]+$", line):
            cur[3] += bytes.fromhex(line)
    out = os.path.join(ROOT, "tests", "unit", "fixtures", "acpi", profile)
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.unlink(os.path.join(out, f))
    seen = {}
    with open(os.path.join(out, "manifest.txt"), "w") as man:
        for sig, pa, length, data in tables:
            if len(data) != length:
                raise SystemExit(f"{profile}: {sig} at {pa:#x}: got {len(data)} of {length} bytes")
            n = seen.get(sig, 0)
            seen[sig] = n + 1
            name = f"{sig}.bin" if n == 0 else f"{sig}{n}.bin"
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
            man.write(f"{pa:x} {name}\n")
    print(f"{profile}: {len(tables)} tables -> {os.path.relpath(out, ROOT)}")


def main():
    profiles = sys.argv[1:] or ["pc-1node", "q35-2node-pxb", "pc-3node", "q35-intel-iommu", "q35-amd-iommu"]
    for prof in profiles:
        capture(prof)


if __name__ == "__main__":
    main()
