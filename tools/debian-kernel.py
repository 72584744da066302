#!/usr/bin/python3
"""Fetches Debian's cloud kernel for the bzImage boot test (make debian-kernel).

  debian-kernel.py [OUT_DIR]    (default build/debian)

Resolves the image package the metapackage linux-image-cloud-amd64 depends on
(linux-image-6.1.0-N-cloud-amd64), downloads it with `apt-get download` and
unpacks it with `dpkg -x` into OUT_DIR/root, then links OUT_DIR/vmlinuz to its
boot/vmlinuz-*. Debian's packages are the one source of stock kernels here; a
kernel already unpacked is kept. Prints the vmlinuz path; exits 1 when apt
cannot provide it (the boot test then skips with the reason).
"""
import glob
import os
import subprocess
import sys

META = "linux-image-cloud-amd64"


def image_package():
    r = subprocess.run(["apt-cache", "depends", META], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in r.stdout.splitlines():
        dep = line.strip()
        if dep.startswith("Depends:") and "linux-image-" in dep:
            return dep.split(":", 1)[1].strip()
    raise RuntimeError("apt-cache depends %s named no linux-image package:\n%s" % (META, r.stdout))


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join("build", "debian"))
    link = os.path.join(out, "vmlinuz")
    if os.path.exists(link):
        print(link)
        return 0
    os.makedirs(out, exist_ok=True)
    try:
        pkg = image_package()
        for old in glob.glob(os.path.join(out, "*.deb")):
            os.remove(old)
        subprocess.run(["apt-get", "download", pkg], cwd=out, check=True)
        debs = glob.glob(os.path.join(out, pkg + "_*.deb"))
        if len(debs) != 1:
            raise RuntimeError("apt-get download %s left %d .deb files in %s" % (pkg, len(debs), out))
        root = os.path.join(out, "root")
        subprocess.run(["dpkg", "-x", debs[0], root], check=True)
        os.remove(debs[0])  # 26 MiB; the unpacked tree is what the tests use
        images = glob.glob(os.path.join(root, "boot", "vmlinuz-*"))
        if len(images) != 1:
            raise RuntimeError("%s holds %d boot/vmlinuz-* files" % (debs[0], len(images)))
    except (OSError, subprocess.CalledProcessError, RuntimeError) as e:
        print("debian-kernel: cannot fetch Debian's kernel: %s" % e, file=sys.stderr)
        return 1
    os.symlink(os.path.relpath(images[0], out), link)
    print(link)
    return 0


if __name__ == "__main__":
    sys.exit(main())
