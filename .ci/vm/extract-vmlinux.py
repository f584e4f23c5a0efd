#!/usr/bin/env python3
"""Extracts the uncompressed ELF vmlinux from a bzImage (XZ or LZ4-legacy payload), as the kernel's
scripts/extract-vmlinux does: try each compressed-stream magic until one decompresses to an ELF file."""
import lzma, subprocess, sys

src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()

def attempts():
    xz, lz4 = b"\xfd7zXZ\x00", b"\x02\x21\x4c\x18"
    i = data.find(xz)
    while i >= 0:
        try:
            yield lzma.LZMADecompressor().decompress(data[i:])
        except lzma.LZMAError:
            pass
        i = data.find(xz, i + 1)
    i = data.find(lz4)
    while i >= 0:
        out = subprocess.run(["lz4", "-dc"], input=data[i:], capture_output=True).stdout
        if out:
            yield out
        i = data.find(lz4, i + 1)

for elf in attempts():
    if elf[:4] == b"\x7fELF":
        open(dst, "wb").write(elf)
        sys.exit(0)
sys.exit(f"extract-vmlinux: no XZ or LZ4 payload in {src} decompresses to an ELF vmlinux")
