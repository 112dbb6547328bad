#!/usr/bin/env python3
"""Embed shim/layers/kernels/kernels.db into the library: write a C file defining
ds_kernels_db_builtin (the bytes, NUL-terminated) and ds_kernels_db_builtin_len.
With NAME, embed any file as NAME and NAME_len instead (shim/hash/digest_kernel.ptx).

usage: embed.py INPUT OUTPUT [NAME]
"""
import sys


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    data = open(argv[1], "rb").read()
    if len(argv) == 4:
        name = argv[3]
        out = ["/* Generated from %s by embed.py: do not edit. */"
               % argv[1].rsplit("/", 1)[-1], "#include <stddef.h>",
               "extern const char %s[];" % name, "extern const size_t %s_len;" % name, ""]
    else:
        name = "ds_kernels_db_builtin"
        out = ["/* Generated from kernels.db by embed.py: do not edit. */",
               '#include "kerneldb.h"', ""]
    out.append("const char %s[] = {" % name)
    for i in range(0, len(data), 16):
        out.append("    " + " ".join("%d," % b for b in data[i:i + 16]))
    out.append("    0};")
    out.append("const size_t %s_len = %d;" % (name, len(data)))
    with open(argv[2], "w") as f:
        f.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
