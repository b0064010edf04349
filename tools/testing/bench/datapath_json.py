#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Join the data path benchmark's two VM runs (datapath-64m.json,
datapath-1024m.json in DIR) into DIR/datapath.json: the figures issue #15
asks for, each with its target, and both runs' context."""
import json
import os
import sys

TARGETS = {
    "save_restore_over_memcpy": 2.5,
    "session_kernel_bytes_64m": 4 << 20,
    "session_kernel_bytes_1g": 4 << 20,
}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: datapath_json.py DIR")
    d = sys.argv[1]
    runs = {}
    for size in ("64m", "1024m"):
        path = os.path.join(d, "datapath-%s.json" % size)
        try:
            with open(path) as f:
                runs[size] = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit("datapath_json.py: %s: %s" % (path, e))
    small, big = runs["64m"], runs["1024m"]
    out = {
        "save_restore_over_memcpy": small["save_restore_over_memcpy"]["median"],
        "save_restore_over_memcpy_1g": big["save_restore_over_memcpy"]["median"],
        "session_kernel_bytes_64m": small["session_kernel_bytes"],
        "session_kernel_bytes_1g": big["session_kernel_bytes"],
        "precopy_with_writer_1g": big["precopy_with_writer"],
        "context": {"64m": small["context"], "1g": big["context"]},
        "runs": runs,
    }
    out["targets"] = {
        k: {"target": v, "value": out[k], "met": out[k] <= v}
        for k, v in TARGETS.items()
    }
    with open(os.path.join(d, "datapath.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    for k, t in out["targets"].items():
        print("%-28s %14s  target <= %s  %s" % (
            k, t["value"], t["target"], "met" if t["met"] else "NOT MET"))


if __name__ == "__main__":
    main()
