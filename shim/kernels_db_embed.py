#!/usr/bin/env python3
"""Embed shim/kernels.db into the library: write a C file defining
ds_kernels_db_builtin (the bytes, NUL-terminated) and ds_kernels_db_builtin_len.

usage: kernels_db_embed.py INPUT OUTPUT
"""
import sys


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    data = open(argv[1], "rb").read()
    out = ["/* Generated from kernels.db by kernels_db_embed.py: do not edit. */",
           '#include "kerneldb.h"', "",
           "const char ds_kernels_db_builtin[] = {"]
    for i in range(0, len(data), 16):
        out.append("    " + " ".join("%d," % b for b in data[i:i + 16]))
    out.append("    0};")
    out.append("const size_t ds_kernels_db_builtin_len = %d;" % len(data))
    with open(argv[2], "w") as f:
        f.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
