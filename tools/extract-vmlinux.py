#!/usr/bin/env python3
"""Extracts the ELF kernel (vmlinux) from a Linux bzImage (vmlinuz).

A bzImage is real-mode setup code, then the decompressor, which carries the
compressed vmlinux: the setup header (Documentation/x86/boot.rst) gives its
place as payload_offset (0x248) and payload_length (0x24C), relative to the
protected-mode code at (setup_sects + 1) * 512. Kbuild appends the
uncompressed size (4 bytes, little-endian) to every compressed payload, so
it is cut off before decompressing and checked after. The format is told by
its magic bytes; the decompressors are the Debian packages' command-line
tools (lz4, gzip, xz-utils, zstd).

    tools/extract-vmlinux.py vmlinuz vmlinux
"""
import struct
import subprocess
import sys

FORMATS = [  # magic, command
    (b"\x02\x21\x4c\x18", ["lz4", "-dc"]),  # LZ4 legacy frame (CONFIG_KERNEL_LZ4, Debian's)
    (b"\x1f\x8b", ["gzip", "-dc"]),
    (b"\xfd7zXZ\x00", ["xz", "-dc"]),
    (b"\x28\xb5\x2f\xfd", ["zstd", "-dc"]),
]


class ExtractError(Exception):
    pass


def payload(image):
    """The compressed vmlinux inside a bzImage, without the appended size, and that size."""
    if len(image) < 0x250 or image[0x202:0x206] != b"HdrS":
        raise ExtractError("not a bzImage (no HdrS signature at 0x202)")
    version = struct.unpack_from("<H", image, 0x206)[0]
    if version < 0x0208:
        raise ExtractError(f"boot protocol {version >> 8}.{version & 0xff} has no payload fields (needs 2.08)")
    setup_sects = image[0x1F1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + offset
    if length < 8 or start + length > len(image):
        raise ExtractError(f"payload [{start:#x}, +{length:#x}) outside the file ({len(image):#x} bytes)")
    data = image[start:start + length]
    return data[:-4], struct.unpack_from("<I", data, length - 4)[0]


def extract(image):
    data, size = payload(image)
    for magic, cmd in FORMATS:
        if data.startswith(magic):
            try:
                out = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
            except FileNotFoundError:
                raise ExtractError(f"{cmd[0]} is not installed (apt-get install {cmd[0]})") from None
            except subprocess.CalledProcessError as e:
                raise ExtractError(f"{cmd[0]} failed: {e.stderr.decode(errors='replace').strip()}") from None
            if len(out) != size:
                raise ExtractError(f"decompressed {len(out)} bytes, the image says {size}")
            if out[:4] != b"\x7fELF":
                raise ExtractError("the payload is not an ELF file")
            return out
    raise ExtractError(f"unknown compression (payload starts {data[:6].hex()})")


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    try:
        with open(argv[1], "rb") as f:
            elf = extract(f.read())
    except (OSError, ExtractError) as e:
        print(f"extract-vmlinux: {argv[1]}: {e}", file=sys.stderr)
        return 1
    with open(argv[2], "wb") as f:
        f.write(elf)
    print(f"extract-vmlinux: {argv[2]}: {len(elf)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
