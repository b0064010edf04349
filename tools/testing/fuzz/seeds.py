#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write a seed corpus for parser_fuzz: small valid and edge streams."""
import os
import struct
import sys

out = sys.argv[1]


def rec(size, flags, tag, payload=b""):
    return struct.pack("<QII", size, flags, tag) + payload


def image(nr_pages=0, full=False, magic=0x4935434D):
    return struct.pack("<IHHIIQQQQ", magic, 1, 1, 1 if full else 0, 4096,
                       1 << 20, nr_pages, 0, 0)


seeds = {
    "scs_then_image": rec(8, 1, 1, struct.pack("<Q", 48)) + rec(48, 0, 0, image()),
    "optional_skip": rec(5, 1, 0x40, b"abcde") + rec(48, 0, 0, image()),
    "bad_magic": rec(48, 0, 0, image(magic=0)),
    "unknown_mandatory": rec(0, 0, 7),
    "huge": rec(1 << 40, 0, 0),
    "empty_optional": rec(0, 1, 9) * 3,
}
for name, data in seeds.items():
    for split in (1, 7, 16):
        with open(os.path.join(out, "%s_%d" % (name, split)), "wb") as f:
            f.write(bytes([split]) + data)
