#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench, in the test VM: QEMU migrates the test guest between two
mlx5c functions (256 MiB each: vm/run --ivshmem-size 256M).

  qemu.py OUT.json

Three comparisons, every figure from REPS repetitions (MLX5C_BENCH_REPS,
default 5) after one warm-up migration, with min and median, the order of
the compared cases alternating from one repetition to the next:

  downtime   QEMU's reported downtime with the device's PRE_COPY against
             STOP_COPY only (module parameter precopy=N), with the guest
             dirtying 0.1%, 1% and 10% of the function's pages a second
             (the guest's rate=N, paced by the ACPI PM timer)
  channels   plain migration against multifd with device state over 4
             channels, PRE_COPY, 1% dirty
  vfio_mig   the same stopped device state (guest paused, STOP_COPY only)
             moved by QEMU multifd with 4 channels and by vfio-mig with 4
             channels, both in clear text (vfio-mig --insecure, as QEMU
             without tls-creds): the ratio of their total times

Settings: MLX5C_BENCH_REPS, MLX5C_BENCH_RATES (fractions of the pages
dirtied a second, "0.001 0.01 0.1"), MLX5C_BENCH_PARTS (the comparisons
to run, "downtime channels vfio_mig"); pass them inside the VM:
vm/run -- env MLX5C_BENCH_REPS=1 tools/testing/bench/run.sh qemu.

Every migration is checked as qemu_migration.py checks it: completed, the
destination loaded, both BAR2s byte-equal through sysfs.  Any failure
fails the run (exit 1) and writes no JSON, but one: a multifd migration
whose destination QEMU hangs (no thread in vfio or the driver) or exits on
a truncated multifd channel once the source has completed, with no kernel
report (QEMU 10.0.2, Documentation/mlx5c-qemu.rst), is counted in
multifd_lost_device_state and run again, at most MLX5C_BENCH_MAX_LOST
times (10) in the whole run.

What the figures do not show: this is QEMU under TCG nested in a TCG VM,
so absolute times are those of an emulated machine; the ratios between
cases of one run are what to read.  Switchover is forced (downtime-limit 300 ms,
avail-switchover-bandwidth 16 GiB/s) once the device's first incremental
image is saved (PRE_COPY) or RAM's first pass is done (STOP_COPY only), so
QEMU's own convergence decision is not measured.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.realpath(__file__))
TOP = os.path.realpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tools", "testing", "selftests",
                                "mlx5c"))
import qemu_migration as qm  # noqa: E402

REPS = int(os.environ.get("MLX5C_BENCH_REPS", "5"))
RATES = tuple(float(r) for r in
              os.environ.get("MLX5C_BENCH_RATES", "0.001 0.01 0.1").split())
PRECOPY = "/sys/module/mlx5c_vfio_pci/parameters/precopy"
PAGE = 4096
# Switchover as soon as it is allowed: QEMU's threshold (bandwidth times
# downtime limit) above anything pending, so that both cases switch at the
# same point of their migration, not when QEMU's estimate happens to allow.
SWITCHOVER_BW = 16 << 30


# QEMU 10.0.2 with multifd device state: now and then the destination's
# multifd channel ends in the middle of a packet after the source has
# reported "completed", and the destination either exits ("Unexpected
# end-of-file before all data were read") or hangs, its VFIO load thread
# waiting for the lost buffer (mlx5c-qemu.rst, "Failure modes").  Such a
# run is counted and retried, up to this many times in the whole run; any
# other failure fails the run.
MAX_LOST = int(os.environ.get("MLX5C_BENCH_MAX_LOST", "10"))
lost = []


class DstLostState(qm.Fail):
    """The source completed, the destination lost device state."""


def lost_device_state(s):
    """The destination QEMU hangs in QEMU, or exited on a truncated
    multifd channel, and the kernel reported nothing: QEMU's fault, not
    one of the driver's (a thread blocked in the driver, a kernel report
    or any other exit fails the run)."""
    dst = s.dst
    if s.new_reports():
        return False
    try:
        dst.proc.wait(10)        # an exiting QEMU: let it finish
    except subprocess.TimeoutExpired:
        return bool(dst.stuck) and not any(
            "vfio" in line or "mlx5c" in line for line in dst.stacks)
    with open(f"{qm.WORK}/{dst.name}.log") as f:
        return "Unexpected end-of-file before all data were read" in f.read()


def set_precopy(on):
    qm.sysfs_write(PRECOPY, "Y" if on else "N")


def ram_synced(vm, n):
    ram = vm.cmd("query-migrate").get("ram", {})
    return ram.get("dirty-sync-count", 0) >= n


def migrate(src, dst, precopy, rate=0, multifd=False, paused=False,
            seed=1):
    """One QEMU migration; QEMU's figures, after the usual checks."""
    set_precopy(precopy)
    s = qm.Session(src, dst, multifd=multifd, seed=seed, rate=rate)
    try:
        if paused:
            s.src.cmd("stop")
        s.start()
        if precopy:
            s.wait_middle()
        else:
            qm.wait_for(lambda: ram_synced(s.src, 2), 300,
                        "RAM's first pass")
        st = s.switchover(bandwidth=SWITCHOVER_BW)
        qm.check(st == "completed", f"migration {st}: "
                 f"{s.src.cmd('query-migrate')}")
        info = s.src.cmd("query-migrate")
        try:
            qm.wait_for(lambda: s.dst.status() != "inmigrate", 120,
                        "the destination to load")
        except qm.Fail as e:
            if multifd and lost_device_state(s):
                raise DstLostState(str(e)) from e
            raise
        qm.check(s.dst.status() == "paused", "destination not loaded")
        middle = s.mon.count(src, "image_saved", "middle")
    except qm.Fail:
        for vm in filter(None, (s.src, s.dst)):
            try:
                qm.log(f"{vm.name} at the failure: "
                       f"{vm.cmd('query-migrate')}")
            except qm.Fail as e:
                qm.log(str(e))
        for name in ("src", "dst"):
            for ext in ("log", "serial"):
                path = f"{qm.WORK}/{name}.{ext}"
                if os.path.exists(path):
                    with open(path) as f:
                        qm.log(f"{name}.{ext}: {f.read()[-1500:]}")
        raise
    finally:
        s.close()
        set_precopy(True)
    qm.check(qm.first_diff(qm.bar_read(src), qm.bar_read(dst)) < 0,
             "BAR2 differs after the migration")
    qm.check(not s.new_reports(), f"kernel report: {s.new_reports()}")
    return {"downtime_ms": info["downtime"],
            "total_ms": info["total-time"],
            "vfio_bytes": info.get("vfio", {}).get("transferred"),
            "ram_bytes": info.get("ram", {}).get("transferred"),
            "middle_images": middle}


def vfio_mig(src, dst, channels):
    """vfio-mig moving the stopped device state (no precopy)."""
    qm.bar_write(src, os.urandom(os.path.getsize(
        f"{qm.PCI}/{src}/resource2")))
    out = subprocess.run([qm.VFIO_MIG, "migrate", src, dst, "--channels",
                          str(channels), "--no-precopy", "--insecure",
                          "--json"],
                         capture_output=True, text=True, timeout=600)
    qm.check(out.returncode == 0, f"vfio-mig: {out.stderr.strip()}")
    r = json.loads(out.stdout)
    qm.check(qm.first_diff(qm.bar_read(src), qm.bar_read(dst)) < 0,
             "BAR2 differs after vfio-mig")
    return {"total_ms": r["source"]["total_ms"],
            "downtime_ms": r["source"]["downtime_ms"],
            "bytes": r["source"]["bytes"]["total"]}


def multifd_run(*args, **kwargs):
    """migrate(..., multifd=True), again after QEMU lost device state."""
    while True:
        try:
            return migrate(*args, multifd=True, **kwargs)
        except DstLostState as e:
            lost.append(str(e))
            if len(lost) > MAX_LOST:
                raise qm.Fail(f"QEMU lost device state {len(lost)} times, "
                              f"more than MLX5C_BENCH_MAX_LOST={MAX_LOST}: "
                              f"{e}") from e
            qm.log(f"destination lost device state ({len(lost)} of at "
                   f"most {MAX_LOST}), running it again: {e}")


def summary(samples, key):
    vals = [s[key] for s in samples]
    return {"min": min(vals), "median": statistics.median(vals),
            "samples": vals}


def alternate(rep, cases):
    return cases if rep % 2 == 0 else list(reversed(cases))


def downtime_part(src, dst, pages):
    out = []
    for frac in RATES:
        rate = max(1, int(pages * frac))
        got = {True: [], False: []}
        for rep in range(REPS):
            for pre in alternate(rep, [True, False]):
                r = migrate(src, dst, pre, rate=rate, seed=rep + 1)
                qm.log(f"rate {rate}/s precopy={pre}: {r}")
                got[pre].append(r)
        pre, stop = summary(got[True], "downtime_ms"), \
            summary(got[False], "downtime_ms")
        out.append({
            "dirty_fraction_per_s": frac, "pages_per_s": rate,
            "precopy_downtime_ms": pre, "stopcopy_downtime_ms": stop,
            "precopy_over_stopcopy": pre["median"] / stop["median"],
            "precopy_runs": got[True], "stopcopy_runs": got[False]})
    return out


def channels_part(src, dst, pages):
    got = {False: [], True: []}
    for rep in range(REPS):
        for mfd in alternate(rep, [False, True]):
            if mfd:
                r = multifd_run(src, dst, True, rate=pages // 100,
                                seed=rep + 1)
            else:
                r = migrate(src, dst, True, rate=pages // 100, seed=rep + 1)
            qm.log(f"multifd={mfd}: {r}")
            got[mfd].append(r)
    res = {"plain_total_ms": summary(got[False], "total_ms"),
           "multifd4_total_ms": summary(got[True], "total_ms"),
           "plain_downtime_ms": summary(got[False], "downtime_ms"),
           "multifd4_downtime_ms": summary(got[True], "downtime_ms")}
    res["multifd4_over_plain_total"] = (res["multifd4_total_ms"]["median"] /
                                        res["plain_total_ms"]["median"])
    return res


def vfio_mig_part(src, dst, pages):
    got = {"qemu": [], "vfio_mig": []}
    for rep in range(REPS):
        for who in alternate(rep, ["qemu", "vfio_mig"]):
            if who == "qemu":
                r = multifd_run(src, dst, False, paused=True, seed=rep + 1)
            else:
                r = vfio_mig(src, dst, 4)
            qm.log(f"{who}: {r}")
            got[who].append(r)
    q, v = summary(got["qemu"], "total_ms"), summary(got["vfio_mig"],
                                                    "total_ms")
    return {"channels": 4, "tls": False, "qemu_multifd_total_ms": q,
            "vfio_mig_total_ms": v,
            "vfio_mig_over_qemu_total": v["median"] / q["median"]}


PARTS = {"downtime": downtime_part, "channels": channels_part,
         "vfio_mig": vfio_mig_part}


def run(src, dst, pages, parts):
    qm.log(f"warm-up: {migrate(src, dst, True, rate=pages // 100)}")
    res = {}
    for name in parts:
        res[name] = PARTS[name](src, dst, pages)
    res["multifd_lost_device_state"] = {"count": len(lost),
                                        "errors": lost}
    return res


def context(src):
    qemu = subprocess.run([qm.QEMU, "--version"], capture_output=True,
                          text=True).stdout.splitlines()[0]
    commit = os.environ.get("MLX5C_BENCH_COMMIT") or subprocess.run(
        ["git", "-C", TOP, "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True).stdout.strip() or None
    return {"kernel": platform.release(), "qemu": qemu,
            "accelerator": "tcg, nested in the test VM's "
                           + os.environ.get("MLX5C_VM_ACCEL", "unknown"),
            "function_bytes": os.path.getsize(f"{qm.PCI}/{src}/resource2"),
            "repetitions": REPS, "warmup": 1, "commit": commit,
            "settings": {"downtime_limit_ms": qm.DOWNTIME_LIMIT,
                         "avail_switchover_bandwidth": SWITCHOVER_BW,
                         "guest_ram": "64M", "multifd_channels": 4,
                         "switchover": "after the first incremental image "
                                       "(PRE_COPY) or RAM's first pass"}}


def main():
    if len(sys.argv) != 2:
        print("usage: qemu.py OUT.json", file=sys.stderr)
        return 2
    parts = os.environ.get("MLX5C_BENCH_PARTS", " ".join(PARTS)).split()
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        print(f"bench qemu: MLX5C_BENCH_PARTS: no {', '.join(unknown)} "
              f"(parts: {', '.join(PARTS)})", file=sys.stderr)
        return 2
    funcs = qm.functions()
    qm.check(len(funcs) >= 2, "needs two ivshmem-plain functions")
    os.makedirs(qm.WORK, exist_ok=True)
    for bdf in funcs[:2]:
        qm.bind(bdf)
    src, dst = funcs[0], funcs[1]
    pages = os.path.getsize(f"{qm.PCI}/{src}/resource2") // PAGE
    t0 = time.monotonic()
    try:
        res = run(src, dst, pages, parts)
    except (qm.Fail, OSError, subprocess.SubprocessError) as e:
        print(f"bench qemu: {e}", file=sys.stderr)
        return 1
    res["context"] = context(src)
    res["context"]["wall_s"] = round(time.monotonic() - t0, 1)
    with open(sys.argv[1], "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    for d in res.get("downtime", []):
        qm.log(f"{d['dirty_fraction_per_s']:.1%}/s: downtime PRE_COPY "
               f"{d['precopy_downtime_ms']['median']} ms, STOP_COPY "
               f"{d['stopcopy_downtime_ms']['median']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
