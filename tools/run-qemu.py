#!/usr/bin/python3
"""make run: boots build/esp.img under QEMU with the serial console on this terminal."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--esp", default="build/esp.img")
    ap.add_argument("--profile", default=os.environ.get("PROFILE", "q35-2node-pxb"),
                    choices=sorted(qemu.PROFILES))
    ap.add_argument("extra", nargs="*", help="more QEMU arguments")
    a = ap.parse_args()
    if not os.path.exists(a.esp):
        print(f"run: {a.esp} does not exist: run 'make esp' first", file=sys.stderr)
        return 1
    cmd = qemu.command(a.esp, a.profile, extra=a.extra, interactive=True)
    print("Isthmus under QEMU (profile %s). Leave with Ctrl-A then X "
          "(or type poweroff at the Isthmus shell)." % a.profile, flush=True)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main())
