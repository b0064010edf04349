#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write a seed corpus for parser_fuzz: valid and edge streams of both
versions, and valid full and delta images for its pretend device (8 pages
of 4 KiB), also in other page sizes."""
import ctypes
import os
import struct
import sys

out = sys.argv[1]
PAGE = 4096
NR_PAGES = 8
MEM = NR_PAGES * PAGE
INITIAL, MIDDLE, FINAL = 1, 2, 3

xxh = ctypes.CDLL("libxxhash.so.0")
xxh.XXH64.restype = ctypes.c_uint64
xxh.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]


def rec(size, flags, tag, payload=b""):
    return struct.pack("<QII", size, flags, tag) + payload


def header(kind, full, nr, seq, checksum=0, magic=0x4935434D, mem=MEM,
           version=1, page=PAGE):
    return struct.pack("<IHHIIQQQQ", magic, version, kind, 1 if full else 0,
                       page, mem, nr, seq, checksum)


def image(kind, full, seq, pages=(), version=1, page=PAGE):
    """A sealed image: full (every page) or a delta of @pages.  Version 2
    images have checksum 0: the record checksum covers them."""
    if full:
        nr = MEM // page
        body = bytes((i * 7 + seq) & 0xff for i in range(MEM))
    else:
        nr = len(pages)
        index = b"".join(struct.pack("<I", p) for p in pages)
        index += b"\0" * (-len(index) % 8)
        body = index + b"".join(bytes([p + 1 + seq]) * page for p in pages)
    if version != 1:
        return header(kind, full, nr, seq, 0, version=version,
                      page=page) + body
    img = header(kind, full, nr, seq) + body
    csum = xxh.XXH64(img, len(img), 0)
    return header(kind, full, nr, seq, csum) + body


def version_rec(version=2, reserved=0):
    return rec(8, 0, 2, struct.pack("<II", version, reserved))


def rec2(flags, tag, payload, size=None):
    """A version 2 record: 24-byte header with its xxh64."""
    size = len(payload) if size is None else size
    unsealed = struct.pack("<QIIQ", size, flags, tag, 0) + payload
    csum = xxh.XXH64(unsealed, len(unsealed), 0)
    return struct.pack("<QIIQ", size, flags, tag, csum) + payload


def v2(*records):
    return version_rec() + b"".join(records)


def fw2(img):
    return rec2(0, 0, img)


def scs2(size):
    return rec2(1, 1, struct.pack("<Q", size))


def fw(img):
    return rec(len(img), 0, 0, img)


def scs(size):
    return rec(8, 1, 1, struct.pack("<Q", size))


def unsealed(nr_pages=0, full=False, magic=0x4935434D):
    return header(INITIAL, full, nr_pages, 0, 0, magic, 1 << 20)


def parts(kind, full, seq, pages=(), page=PAGE, per=2):
    """A version 3 image as FW_DATA records of @per pages each."""
    nr = MEM // page if full else len(pages)
    seq_pages = list(range(nr)) if full else list(pages)
    hdr = header(kind, full, nr, seq, 0, version=3, page=page)
    out = b""
    first = 0
    while True:
        chunk = seq_pages[first:first + per]
        body = b""
        if not full:
            index = b"".join(struct.pack("<I", p) for p in chunk)
            body = index + b"\0" * (-len(index) % 8)
        body += b"".join(bytes([(p + 1 + seq) & 0xff]) * page for p in chunk)
        out += fw2(hdr + struct.pack("<QII", first, len(chunk), 0) + body)
        first += len(chunk)
        if first >= nr:
            return out


def v3(*records):
    return version_rec(3) + b"".join(records)


full0 = image(INITIAL, True, 0)
streams = {
    # Valid: what the driver produces.
    "stop_copy": scs(len(full0)) + fw(image(FINAL, True, 0)),
    "precopy": scs(len(full0)) + fw(full0) +
    fw(image(MIDDLE, False, 1, [1, 5])) + fw(image(FINAL, False, 2, [0, 7])),
    "precopy_gap_full_final": fw(full0) + fw(image(MIDDLE, False, 2, [3])) +
    fw(image(FINAL, True, 4)),
    # Refused: order and session.
    "delta_first": fw(image(MIDDLE, False, 0, [2])),
    "after_final": fw(image(FINAL, True, 0)) + fw(image(MIDDLE, False, 1, [2])),
    # Parser edges.
    "scs_then_image": scs(48) + rec(48, 0, 0, unsealed()),
    "optional_skip": rec(5, 1, 0x40, b"abcde") + rec(48, 0, 0, unsealed()),
    "bad_magic": rec(48, 0, 0, unsealed(magic=0)),
    "unknown_mandatory": rec(0, 0, 7),
    "huge": rec(1 << 40, 0, 0),
    "empty_optional": rec(0, 1, 9) * 3,
    # Version 2: what the driver writes now.
    "v2_stop_copy": v2(scs2(len(full0)), fw2(image(FINAL, True, 0, version=2))),
    "v2_precopy": v2(scs2(len(full0)), fw2(image(INITIAL, True, 0, version=2)),
                     fw2(image(MIDDLE, False, 1, [1, 5], version=2)),
                     fw2(image(FINAL, False, 2, [0, 7], version=2))),
    # Another host's page size: 64 KiB does not divide 32 KiB, 1 and 8 do.
    "v2_page_1k": v2(fw2(image(INITIAL, True, 0, version=2, page=1024)),
                     fw2(image(MIDDLE, False, 1, [3, 31], version=2,
                               page=1024))),
    "v2_page_8k": v2(fw2(image(INITIAL, True, 0, version=2, page=8192)),
                     fw2(image(FINAL, False, 1, [2], version=2, page=8192))),
    "v2_optional_skip": v2(rec2(1, 0x40, b"abcdefgh"),
                           fw2(image(FINAL, True, 0, version=2))),
    "v2_empty_optional": v2(rec2(1, 9, b"") * 3),
    "v2_v1_image": v2(fw2(image(FINAL, True, 0))),
    "v2_bad_checksum": version_rec() + fw2(image(FINAL, True, 0,
                                                 version=2))[:-1] + b"x",
    # Version 3: images in parts, what the driver writes now.
    "v3_stop_copy": v3(scs2(len(full0)), parts(FINAL, True, 0)),
    "v3_precopy": v3(scs2(len(full0)), parts(INITIAL, True, 0, per=3),
                     parts(MIDDLE, False, 1, [1, 2, 5]),
                     parts(FINAL, False, 2, [])),
    "v3_page_1k": v3(parts(INITIAL, True, 0, page=1024, per=16),
                     parts(FINAL, False, 1, [3, 9, 31], page=1024)),
    "v3_truncated": v3(parts(INITIAL, True, 0)[:-40]),
    "v3_part_skipped": v3(parts(INITIAL, True, 0, per=4)[:(88 + 4 * PAGE)] +
                          parts(FINAL, True, 1)),
    "version_unknown": version_rec(4) + scs2(len(full0)),
    "version_one": version_rec(1),
    "version_reserved": version_rec(2, 1),
    "version_twice": v2(version_rec()),
}
for name, data in streams.items():
    for split in (1, 7, 16, 0x80 | 16):
        with open(os.path.join(out, "%s_%d" % (name, split)), "wb") as f:
            f.write(bytes([split]) + data)
