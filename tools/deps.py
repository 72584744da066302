#!/usr/bin/python3
"""Installs the Debian packages Isthmus needs to build, run and test (make deps).

Only packages that are missing are installed, so on a prepared machine this is
a quick no-op. Needs root (or sudo) the first time on a fresh Debian 12 machine.
"""
import os
import shutil
import subprocess
import sys

PACKAGES = [
    "make", "gcc", "binutils", "nasm", "gnu-efi",           # building isthmus.efi
    "libc6-dev",                                             # the static failover agent for Linux guests
    "qemu-system-x86", "ovmf", "mtools",                     # make esp / make run
    "python3", "python3-pytest", "python3-pexpect",          # boot tests
    "libcmocka-dev",                                         # unit tests
    "clang", "libclang-rt-14-dev",                           # libFuzzer (make fuzz)
    "clang-format", "cppcheck",                              # make lint (format-check, cppcheck)
]


def missing(pkgs):
    out = []
    for p in pkgs:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if "install ok installed" not in r.stdout:
            out.append(p)
    return out


def main():
    if not shutil.which("dpkg-query"):
        print("deps: not a Debian system; install the equivalents of: " + " ".join(PACKAGES))
        return 0
    need = missing(PACKAGES)
    if not need:
        return 0
    print("deps: installing missing Debian packages: " + " ".join(need), flush=True)
    prefix = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            print("deps: not root and no sudo; run as root: apt-get install -y " + " ".join(need))
            return 1
        prefix = ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(prefix + ["apt-get", "update", "-qq"], env=env, check=False)
    r = subprocess.run(prefix + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + need, env=env)
    if r.returncode != 0:
        print("deps: apt-get failed; the packages above are needed")
        return r.returncode
    still = missing(need)
    if still:
        print("deps: still missing after apt-get: " + " ".join(still))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
