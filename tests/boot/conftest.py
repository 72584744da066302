"""Boot-test harness: boots isthmus.efi under QEMU + OVMF and drives the serial shell.

Every QEMU run has a timeout and keeps its full serial log in build/boot-logs/<test>.log.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pexpect
from pexpect.fdpexpect import fdspawn
from pexpect.popen_spawn import PopenSpawn
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
LOGS = os.path.join(BUILD, "boot-logs")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import bochs  # noqa: E402
import qemu  # noqa: E402
# Tests assert on facts (figures, names, key words), never on whole sentences:
# see tests/facts.py.
from facts import fact_line, line_with, lines_with  # noqa: E402,F401

PROMPT = "isthmus> "
BOOT_TIMEOUT = int(os.environ.get("ISTHMUS_BOOT_TIMEOUT", "240"))
ANSI = re.compile(r"\x1b\[[0-9;?=]*[A-Za-z]")


def clean(text):
    return ANSI.sub("", text).replace("\r", "")


class Hypervisor:
    """One QEMU running Isthmus, with its serial console under pexpect."""

    def __init__(self, name, profile, esp, extra=()):
        os.makedirs(LOGS, exist_ok=True)
        self.name = name
        self.logpath = os.path.join(LOGS, re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".log")
        self.log = open(self.logpath, "w", encoding="utf-8", errors="replace")
        self.cmdline = qemu.command(esp, profile, extra=extra)
        self.log.write("# " + " ".join(self.cmdline) + "\n")
        self.log.flush()
        # Pipes, not a pty: QEMU leaves a tty's output processing on (LF -> CR LF),
        # so only pipes carry exactly the bytes the hypervisor sent and receive
        # exactly the bytes a test types (Ctrl-C included).
        self.p = PopenSpawn(self.cmdline, encoding="utf-8", codec_errors="replace",
                            timeout=BOOT_TIMEOUT, logfile=self.log)
        self.boot_text = ""

    def wait_prompt(self, timeout=BOOT_TIMEOUT):
        self.p.expect_exact(PROMPT, timeout=timeout)
        self.boot_text = clean(self.p.before)
        return self.boot_text

    def cmd(self, line, timeout=60):
        """Runs a shell command and returns its output (without the echoed line).

        Waits for the line editor's echo of the line first, so that prompts printed
        by earlier raw input (redraws) cannot be mistaken for this command's end."""
        self.p.send(line + "\r")
        self.p.expect_exact(line + "\r\n", timeout=timeout)
        self.p.expect_exact(PROMPT, timeout=timeout)
        return clean(self.p.before)

    def sync(self, timeout=60):
        """Brings the shell to a fresh, empty prompt whatever was typed before."""
        self.p.send("\x15")                 # Ctrl-U: kill the line being edited
        self.cmd("help help", timeout)

    def send_raw(self, data):
        self.p.send(data)

    def expect_prompt(self, timeout=60):
        self.p.expect_exact(PROMPT, timeout=timeout)

    def expect(self, pattern, timeout=60):
        self.p.expect(pattern, timeout=timeout)
        return clean(self.p.before)

    def wait_exit(self, timeout=60):
        """Waits for QEMU to end by itself; returns its exit status."""
        self.p.expect(pexpect.EOF, timeout=timeout)
        return self.p.proc.wait(timeout=timeout)

    def close(self):
        if self.p.proc.poll() is None:
            self.p.proc.kill()
            self.p.proc.wait()
        if not self.log.closed:
            self.log.close()


class BochsHypervisor(Hypervisor):
    """The same, under a VMX-capable Bochs (ISTHMUS_BOCHS): the VT-x backend."""

    def __init__(self, name, esp, cpus=1, nic=False):
        os.makedirs(LOGS, exist_ok=True)
        self.name = name
        self.logpath = os.path.join(LOGS, re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".log")
        self.log = open(self.logpath, "w", encoding="utf-8", errors="replace")
        self.proc, self.sock, self.work = bochs.start(esp, cpus=cpus, nic=nic)
        self.log.write(f"# bochs in {self.work}\n")
        self.p = fdspawn(self.sock, encoding="utf-8", codec_errors="replace",
                         timeout=BOOT_TIMEOUT, logfile=self.log)
        self.boot_text = ""

    def wait_exit(self, timeout=60):
        # Bochs exits with status 1 even after a clean guest-requested power-off.
        self.proc.wait(timeout=timeout)
        return 0

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        shutil.rmtree(self.work, ignore_errors=True)
        if not self.log.closed:
            self.log.close()


BACKENDS = ["svm", "vmx"]


def backend_boot(backend, name, esp, profile="pc-1node"):
    """Boots Isthmus where `backend` runs: svm under QEMU TCG (AMD CPU model), vmx under
    Bochs (ISTHMUS_BOCHS) or QEMU/KVM with nested VMX (ISTHMUS_ACCEL=kvm on Intel);
    skips with the reason when this machine has neither."""
    if backend == "svm":
        if os.environ.get("ISTHMUS_ACCEL") == "kvm":
            pytest.skip("svm runs under TCG; ISTHMUS_ACCEL=kvm selects the host's own vendor")
        return Hypervisor(f"{name}", profile, esp)
    if os.environ.get("ISTHMUS_ACCEL") == "kvm":
        return Hypervisor(f"{name}", profile, esp)
    path, why = bochs.binary()
    if not path:
        pytest.skip(f"vmx: {why}; QEMU's TCG has no VMX (or use ISTHMUS_ACCEL=kvm on a nested-VMX host)")
    # Bochs gets the profile's CPU count, and a NIC when the profile has one (an
    # e1000 at bochs.NIC_BDF); its machine is otherwise a plain one-node PC.
    prof = qemu.PROFILES[profile]
    return BochsHypervisor(f"{name}", esp, cpus=len(prof["cpus"]), nic="nic" in prof)


def partition_toml(name, cpus, cmdline, extra="", memory="16M"):
    """One [[partition]] table running the test guest: cpus is a CPU index or a
    list of them; extra is more keys, one per line."""
    cpu_list = ", ".join(str(c) for c in (cpus if isinstance(cpus, (list, tuple)) else [cpus]))
    return (f'\n[[partition]]\nname = "{name}"\ncpus = [{cpu_list}]\nmemory = "{memory}"\n'
            f'kernel = "testguest.elf"\ncmdline = "{cmdline}"\n{extra}')


def make_esp(config_text=None, tmpdir=None, no_config=False):
    """A copy of build/esp.img with another isthmus.toml, or none at all."""
    base = os.path.join(BUILD, "esp.img")
    if not os.path.exists(base):
        pytest.fail("build/esp.img missing: run 'make esp' (make test does)")
    if config_text is None and not no_config:
        return base
    tmpdir = tmpdir or tempfile.mkdtemp(prefix="isthmus-esp-")
    img = os.path.join(tmpdir, "esp.img")
    shutil.copyfile(base, img)
    if no_config:
        subprocess.run(["mdel", "-i", img, "::/EFI/BOOT/isthmus.toml"], check=True)
        return img
    cfg = os.path.join(tmpdir, "isthmus.toml")
    with open(cfg, "wb") as f:
        f.write(config_text if isinstance(config_text, bytes) else config_text.encode())
    subprocess.run(["mcopy", "-o", "-i", img, cfg, "::/EFI/BOOT/isthmus.toml"], check=True)
    return img


@pytest.fixture
def boot(request, tmp_path):
    """boot(profile, config=None) -> Hypervisor at the prompt; closed after the test."""
    started = []

    def _boot(profile="pc-1node", config=None, extra=(), wait=True, no_config=False):
        esp = make_esp(config, str(tmp_path), no_config=no_config)
        hv = Hypervisor(f"{request.node.name}-{len(started)}", profile, esp, extra)
        started.append(hv)
        if wait:
            hv.wait_prompt()
        return hv

    yield _boot
    for hv in started:
        hv.close()


def module_boot(profile, config=None):
    """A module-scoped fixture factory: one boot shared by a module's tests."""
    @pytest.fixture(scope="module")
    def _fixture(request, tmp_path_factory):
        esp = make_esp(config, str(tmp_path_factory.mktemp("esp"))) if config is not None else make_esp()
        hv = Hypervisor(f"{request.module.__name__}-{profile}", profile, esp)
        hv.wait_prompt()
        yield hv
        hv.close()
    return _fixture


def backend_module_boot(config, name, profile):
    """A module-scoped fixture factory parametrised over BACKENDS: one boot of
    `config` per backend (test IDs end in [svm] or [vmx]), at the prompt."""
    @pytest.fixture(scope="module", params=BACKENDS)
    def _fixture(request, tmp_path_factory):
        esp = make_esp(config, str(tmp_path_factory.mktemp("esp")))
        h = backend_boot(request.param, f"{name}-{request.param}", esp, profile=profile)
        h.backend = request.param
        try:
            h.wait_prompt()
            yield h
        finally:
            h.close()
    return _fixture
