#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A real VMM migrates a running guest between two mlx5c functions.

Run as root inside the test VM (tools/testing/vm/run; run_tests.sh runs it
from the installed kselftest tree).  A source QEMU runs the
test guest (mlx5c-guest.elf: it finds the function, maps BAR2 and keeps
writing it) with the first function passed through; a destination QEMU
with the second function waits with -incoming defer and -S.  QEMU is
driven over QMP.  The two functions are the BDFs among the arguments, or
MLX5C_BDFS, bound to mlx5c-vfio-pci beforehand (mlx5c_setup.sh bind);
functions() and bind() are for the benchmark, which finds its own.
Cases (KTAP):

  plain          one migration channel
  multifd        device state over 4 multifd channels
  cancel         migrate_cancel during PRE_COPY: the source keeps running
  dst_load_fails the destination's load fails (debugfs knob): the
                 migration fails and the source resumes
  converge       (only when named) QEMU left to itself: default
                 downtime-limit, no avail-switchover-bandwidth; it must
                 switch over on its own with the iommufd backend and, as
                 measured on Debian's 6.12, does not with the type1
                 container, which reports all guest RAM dirty at every sync
                 (with iommufd it also converged with QEMU's use of the
                 driver's DMA logging switched off: the backend does it)

MLX5C_QEMU_IOMMUFD=1 opens the functions through /dev/iommu and their vfio
cdevs (-object iommufd) and leaves QEMU free to use the device's DMA
logging; it
needs a kernel with CONFIG_IOMMUFD, CONFIG_VFIO_DEVICE_CDEV and
CONFIG_IOMMUFD_DRIVER (tools/testing/debug-kernel/iommufd.sh).

MLX5C_QEMU_TRACE="PATTERN..." passes -trace PATTERN to both QEMUs (their
trace lines go to their logs under /tmp/qemu-mig).

After a migration: both functions' BAR2 byte-equal read through sysfs
resource2 (not through the driver), the source's memory kept, PRE_COPY
used with at least one incremental image (the driver's netlink events
through vfio-mig monitor), and no kernel report.

Convergence, set explicitly: on Debian's 6.12 (no device or IOMMU dirty
tracking) QEMU may see all guest RAM dirty at every sync and never end
precopy, or it may end precopy before the device saved an incremental
image.  The test starts with downtime-limit 1 ms and avail-switchover-bandwidth
1000 B/s, a threshold of one byte (no switchover while the guest
dirties its device), waits for an
incremental image, then sets downtime-limit 300 ms and
avail-switchover-bandwidth 1 GiB/s, which makes QEMU switch over.
"""
import hashlib
import json
import mmap
import os
import random
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.realpath(__file__))
TOP = os.path.realpath(os.path.join(HERE, "..", "..", "..", ".."))
SELFTESTS = os.environ.get("MLX5C_SELFTESTS",
                           os.path.join(TOP, "build", "kselftest", "mlx5c"))
GUEST = os.environ.get("MLX5C_GUEST",
                       os.path.join(SELFTESTS, "mlx5c-guest.elf"))
VFIO_MIG = os.environ.get("MLX5C_VFIO_MIG",
                          os.path.join(TOP, "build", "vfio-mig", "vfio-mig"))
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
PCI = "/sys/bus/pci/devices"
DRIVER = "mlx5c-vfio-pci"
WORK = "/tmp/qemu-mig"
GUEST_MAGIC = 0x47584C4D
SWITCHOVER_BW = 1 << 30          # bytes/s given to QEMU to switch over
DOWNTIME_LIMIT = 300             # ms, QEMU's default
IOMMUFD = os.environ.get("MLX5C_QEMU_IOMMUFD") == "1"
# QEMU trace events for both QEMUs (-trace PATTERN, each word one pattern;
# QEMU writes them to its log, WORK/src.log and WORK/dst.log).
TRACE = os.environ.get("MLX5C_QEMU_TRACE", "").split()
# How long the converge case gives QEMU to switch over on its own.
CONVERGE_S = int(os.environ.get("MLX5C_QEMU_CONVERGE_S", "180"))
KERNEL_REPORT = re.compile(r"WARNING:|BUG:|Oops|circular locking|"
                           r"hung_task|INFO: task .* blocked")


def log(msg):
    for line in str(msg).splitlines():
        print("# " + line, flush=True)


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ---------------------------------------------------------------- PCI side

def functions():
    out = []
    for bdf in sorted(os.listdir(PCI)):
        try:
            with open(f"{PCI}/{bdf}/vendor") as f:
                ven = f.read().strip()
            with open(f"{PCI}/{bdf}/device") as f:
                dev = f.read().strip()
        except OSError:
            continue
        if ven == "0x1af4" and dev == "0x1110":
            out.append(bdf)
    return out


BDF = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def given_functions(args):
    """The functions under test: the BDFs among the arguments, or
    MLX5C_BDFS, bound by the setup step (mlx5c_setup.sh bind)."""
    bdfs = [a for a in args if BDF.match(a)]
    return bdfs or os.environ.get("MLX5C_BDFS", "").replace(",", " ").split()


def unusable(funcs):
    """Why the first two of @funcs cannot be tested, or None."""
    if len(funcs) < 2:
        return (f"needs 2 mlx5c functions, given {len(funcs)}: pass their "
                "BDFs as arguments or in MLX5C_BDFS, bound by "
                "mlx5c_setup.sh bind")
    for bdf in funcs[:2]:
        drv = driver_of(bdf) if os.path.isdir(f"{PCI}/{bdf}") else None
        if drv != DRIVER:
            return (f"{bdf} is bound to {drv or 'no driver'}, not {DRIVER}: "
                    f"run mlx5c_setup.sh bind {bdf}")
    return None


def sysfs_write(path, val):
    with open(path, "w") as f:
        f.write(val)


def driver_of(bdf):
    link = f"{PCI}/{bdf}/driver"
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""


def bind(bdf):
    if driver_of(bdf) == DRIVER:
        return
    sysfs_write(f"{PCI}/{bdf}/driver_override", DRIVER)
    if driver_of(bdf):
        sysfs_write(f"{PCI}/{bdf}/driver/unbind", bdf)
    sysfs_write("/sys/bus/pci/drivers_probe", bdf)
    check(driver_of(bdf) == DRIVER, f"{bdf}: not bound to {DRIVER}")


def decode_on(bdf):
    """Memory decode on in the command register, through sysfs config."""
    with open(f"{PCI}/{bdf}/config", "r+b", buffering=0) as f:
        f.seek(4)
        cmd = int.from_bytes(f.read(2), "little")
        if not cmd & 2:
            f.seek(4)
            f.write((cmd | 2).to_bytes(2, "little"))


class Bar2:
    """BAR2 of a function through /sys/.../resource2: no VFIO, no driver."""

    def __init__(self, bdf):
        decode_on(bdf)
        self.fd = os.open(f"{PCI}/{bdf}/resource2", os.O_RDWR | os.O_SYNC)
        self.size = os.fstat(self.fd).st_size
        self.mm = mmap.mmap(self.fd, self.size)

    def read(self):
        return self.mm[:]

    def write(self, data):
        self.mm[:] = data

    def close(self):
        self.mm.close()
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def bar_read(bdf):
    with Bar2(bdf) as b:
        return b.read()


def bar_write(bdf, data):
    with Bar2(bdf) as b:
        b.write(data)


def first_diff(a, b):
    if a == b:
        return -1
    for pg in range(0, len(a), 4096):
        if a[pg:pg + 4096] != b[pg:pg + 4096]:
            return pg // 4096
    return len(a) // 4096


def knob(bdf, name, val):
    sysfs_write(f"/sys/kernel/debug/mlx5c/{bdf}/{name}", str(val))


def dma_log_counts(bdf):
    """(starts, reports) of the function's DMA logging served, ever."""
    vals = []
    for name in ("dma_log_starts", "dma_log_reports"):
        with open(f"/sys/kernel/debug/mlx5c/{bdf}/{name}") as f:
            vals.append(int(f.read()))
    return vals


def mig_state(bdf):
    out = subprocess.run([VFIO_MIG, "stats", bdf, "--json"],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    for d in data if isinstance(data, list) else data.get("devices", [data]):
        if d.get("bdf") == bdf:
            return d.get("state")
    return None


def kernel_reports():
    out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if KERNEL_REPORT.search(line)]


# ---------------------------------------------------------------- QEMU side

class Qmp:
    """A minimal QMP client (standard library only)."""

    def __init__(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.rfile = self.sock.makefile("r")
        self.events = []
        self._recv()                       # greeting
        self.cmd("qmp_capabilities")

    def _recv(self):
        line = self.rfile.readline()
        if not line:
            raise Fail("QMP connection closed")
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._recv()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise Fail(f"QMP {name}: {r['error'].get('desc')}")
            return r.get("return")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Vm:
    def __init__(self, name, bdf, multifd, incoming, append=None):
        self.name = name
        self.qmp_path = f"{WORK}/{name}.qmp"
        self.serial = f"{WORK}/{name}.serial"
        for p in (self.qmp_path, self.serial):
            if os.path.exists(p):
                os.unlink(p)
        if IOMMUFD:
            # QEMU may use the device's DMA logging (mlx5c's log_ops).
            dev = (f"vfio-pci,host={bdf},id=fn0,enable-migration=on,"
                   "iommufd=iommufd0")
        else:
            dev = (f"vfio-pci,host={bdf},id=fn0,enable-migration=on,"
                   "x-device-dirty-page-tracking=off")
        if multifd:
            dev += ",x-migration-multifd-transfer=on"
        argv = [QEMU, "-machine", "q35", "-accel", "tcg", "-m", "64M",
                "-nodefaults", "-no-user-config", "-display", "none",
                "-serial", f"file:{self.serial}", "-kernel", GUEST,
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
                "-device", dev]
        if IOMMUFD:
            argv += ["-object", "iommufd,id=iommufd0"]
        if append:
            argv += ["-append", append]
        for pattern in TRACE:
            argv += ["-trace", pattern]
        if incoming:
            argv += ["-incoming", "defer", "-S"]
        self.log = open(f"{WORK}/{name}.log", "w")
        self.proc = subprocess.Popen(argv, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.stuck = None
        self.stacks = []
        self.qmp = Qmp(self.qmp_path)

    def status(self):
        return self.cmd("query-status")["status"]

    def cmd(self, name, **args):
        if self.stuck:
            raise Fail(f"{self.name} QEMU: {self.stuck}")
        try:
            return self.qmp.cmd(name, **args)
        except (OSError, Fail) as e:
            if self.proc.poll() is not None:
                raise Fail(f"{self.name} QEMU exited (status "
                           f"{self.proc.returncode}) at QMP {name}: "
                           f"{e}") from e
            if isinstance(e, Fail):
                raise
            # The answer may still come: the connection is out of step.
            self.stuck = f"did not answer QMP {name} ({e})"
            self.stacks = self.threads()
            for line in self.stacks:
                log(line)
            raise Fail(f"{self.name} QEMU {self.stuck}") from e

    def threads(self):
        """Where each of QEMU's threads is (name, state, kernel stack's top
        frames): for a QEMU that stops answering QMP."""
        out = []
        base = f"/proc/{self.proc.pid}/task"
        try:
            tids = sorted(os.listdir(base), key=int)
        except OSError as e:
            return [f"{self.name}: {e}"]
        for tid in tids:
            info = []
            for what in ("comm", "wchan", "stack"):
                try:
                    with open(f"{base}/{tid}/{what}") as f:
                        info.append(f.read().strip())
                except OSError:
                    info.append("?")
            frames = [ln.split(" ", 1)[-1] for ln in info[2].splitlines()]
            out.append(f"{self.name} {tid} {info[0]} in {info[1]}: "
                       f"{' < '.join(frames[:6])}")
        return out

    def counter(self):
        """Word 1 of the guest's BAR2 (its iteration counter), via HMP xp."""
        out = self.cmd("human-monitor-command",
                       **{"command-line": "xp /2wx 0x80000000"})
        words = re.findall(r"0x([0-9a-f]{8})", out.split(":", 1)[-1])
        return int(words[0], 16), int(words[1], 16)

    def wait_serial(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.serial) as f:
                    if text in f.read():
                        return
            except OSError:
                pass
            check(self.proc.poll() is None, f"{self.name} QEMU exited")
            time.sleep(0.2)
        raise Fail(f"{self.name}: no '{text}' on the serial port")

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.cmd("quit")
            except Fail:            # cmd() turns socket errors into Fail
                if self.stuck:
                    self.proc.kill()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.qmp.close()
        self.log.close()

    def output(self):
        with open(f"{WORK}/{self.name}.log") as f:
            return f.read()


class Monitor:
    """vfio-mig monitor --json in the background: the driver's events."""

    def __init__(self):
        self.path = f"{WORK}/monitor.json"
        self.out = open(self.path, "w")
        self.err = open(f"{WORK}/monitor.err", "w+")
        self.proc = subprocess.Popen([VFIO_MIG, "monitor", "--json"],
                                     stdout=self.out, stderr=self.err)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.err.seek(0)
            if "monitoring" in self.err.read():
                return
            time.sleep(0.1)
        raise Fail("vfio-mig monitor did not start")

    def events(self):
        self.out.flush()
        out = []
        with open(self.path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def count(self, bdf, event, kind=None):
        return sum(1 for e in self.events()
                   if e.get("bdf") == bdf and e.get("event") == event and
                   (kind is None or e.get("kind") == kind))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.out.close()
        self.err.close()


def wait_for(fn, timeout, what, step=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    raise Fail(f"timed out ({timeout} s) waiting for {what}")


def mig_status(vm):
    return vm.cmd("query-migrate").get("status")


def set_caps(vm, multifd, return_path=False):
    caps = []
    if multifd:
        caps.append({"capability": "multifd", "state": True})
    if return_path:
        caps.append({"capability": "return-path", "state": True})
    if caps:
        vm.cmd("migrate-set-capabilities", capabilities=caps)
    if multifd:
        vm.cmd("migrate-set-parameters", **{"multifd-channels": 4})


# ------------------------------------------------------------------ cases

class Session:
    """Two functions, patterns in their BAR2s, a monitor, two QEMUs."""

    port = 4444

    def __init__(self, src, dst, multifd=False, return_path=False,
                 seed=1, rate=0):
        self.src_bdf, self.dst_bdf = src, dst
        self.multifd = multifd
        self.src = self.dst = self.mon = None
        size = os.path.getsize(f"{PCI}/{src}/resource2")
        rng = random.Random(seed)
        # randbytes() takes at most 2**31 bits at a time.
        self.pattern = b"".join(rng.randbytes(min(1 << 24, size - off))
                                for off in range(0, size, 1 << 24))
        bar_write(src, self.pattern)
        bar_write(dst, bytes([0x5A]) * size)
        self.reports_before = len(kernel_reports())
        self.mon = Monitor()
        append = f"rate={rate}" if rate else None
        self.dst = Vm("dst", dst, multifd, incoming=True, append=append)
        self.src = Vm("src", src, multifd, incoming=False, append=append)
        self.src.wait_serial("mlx5c-guest: running")
        for vm in (self.src, self.dst):
            set_caps(vm, multifd, return_path)
        Session.port += 1
        self.uri = f"tcp:127.0.0.1:{Session.port}"
        self.dst.cmd("migrate-incoming", uri=self.uri)

    def start(self):
        # QEMU stays in precopy while the guest dirties its device until
        # switchover() lets it go.  Its switchover threshold is the
        # bandwidth times downtime-limit: with the measured bandwidth it
        # drops to 0 after a window in which nothing was sent (a starved
        # host), and with a threshold of 0 QEMU switches over as soon as
        # its cheap estimate of what is left is 0.  1000 B/s times 1 ms
        # is a threshold of 1 byte: QEMU then asks for the exact amount,
        # which is never 0 (MIG_DATA_SIZE counts at least a header).
        self.src.cmd("migrate-set-parameters",
                     **{"downtime-limit": 1,
                        "avail-switchover-bandwidth": 1000})
        self.src.cmd("migrate", uri=self.uri)

    def wait_middle(self, n=1, timeout=180):
        def got():
            st = mig_status(self.src)
            if st not in ("setup", "active"):
                log(figures(self.src.cmd("query-migrate")))
                raise Fail(f"source migration {st} before an incremental "
                           "image")
            return self.mon.count(self.src_bdf, "image_saved",
                                  "middle") >= n
        wait_for(got, timeout, "an incremental image during PRE_COPY")

    def switchover(self, timeout=300, bandwidth=SWITCHOVER_BW):
        self.src.cmd("migrate-set-parameters",
                     **{"downtime-limit": DOWNTIME_LIMIT,
                        "avail-switchover-bandwidth": bandwidth})
        ended = ("completed", "failed", "cancelled")
        return wait_for(lambda: (st := mig_status(self.src)) in ended and st,
                        timeout, "the migration to end")

    def close(self):
        for vm in (self.src, self.dst):
            if vm:
                vm.quit()
        if self.mon:
            self.mon.stop()

    def new_reports(self):
        return kernel_reports()[self.reports_before:]


def figures(info):
    ram = info.get("ram", {})
    vfio = info.get("vfio", {})
    return (f"total-time {info.get('total-time')} ms, downtime "
            f"{info.get('downtime')} ms, setup-time {info.get('setup-time')}"
            f" ms, ram transferred {ram.get('transferred')} B, vfio "
            f"transferred {vfio.get('transferred')} B")


def case_migrate(src, dst, multifd, seed):
    s = Session(src, dst, multifd=multifd, seed=seed)
    try:
        before = s.src.counter()
        check(before[0] == GUEST_MAGIC, f"guest not writing BAR2: {before}")
        s.start()
        s.wait_middle()
        mid = s.src.counter()[1]
        check(s.switchover() == "completed",
              f"migration {mig_status(s.src)}")
        info = s.src.cmd("query-migrate")
        log(("multifd, 4 channels: " if multifd else "plain: ") +
            figures(info))
        check(s.src.status() == "postmigrate",
              f"source {s.src.status()}")
        # The destination ends its load after the source's last byte.
        dst_st = wait_for(lambda: (d := s.dst.status()) != "inmigrate" and d,
                          120, "the destination to load")
        check(dst_st == "paused", f"destination {dst_st}")
        after = s.src.counter()[1]
        log(f"guest counter: {before[1]} before, {mid} during PRE_COPY, "
            f"{after} at switchover")
        check(after > mid > before[1], "the guest did not run throughout")
        mon = s.mon
        saved_mid = mon.count(src, "image_saved", "middle")
        loaded = mon.count(dst, "image_loaded")
        log(f"images: source saved {mon.count(src, 'image_saved')} "
            f"({saved_mid} incremental), destination loaded {loaded}")
        check(mon.count(src, "image_saved", "initial") == 1, "no initial")
        check(saved_mid >= 1, "no incremental image")
        check(mon.count(src, "image_saved", "final") == 1, "no final")
        check(loaded == mon.count(src, "image_saved"),
              "destination did not load every image")
    finally:
        s.close()
    a, b = bar_read(src), bar_read(dst)
    d = first_diff(a, b)
    check(d < 0, f"BAR2 differs from page {d}")
    log(f"BAR2 of {src} and {dst} equal through sysfs resource2: "
        f"{len(a) >> 20} MiB, sha256 {hashlib.sha256(a).hexdigest()[:16]}")
    words = [int.from_bytes(a[i:i + 4], "little") for i in range(0, 16, 4)]
    check(words[0] == GUEST_MAGIC and words[1] == after,
          f"source page 0 {words}, counter {after}")
    window = words[3]
    keep = (window + 1) * 4096
    check(a[keep:] == s.pattern[keep:],
          "the source lost memory the guest never wrote")
    check(not s.new_reports(), f"kernel report: {s.new_reports()}")


def case_cancel(src, dst):
    s = Session(src, dst, seed=3)
    try:
        s.start()
        s.wait_middle()
        s.src.cmd("migrate_cancel")
        wait_for(lambda: mig_status(s.src) == "cancelled", 60,
                 "the migration to be cancelled")
        check(s.src.status() == "running", f"source {s.src.status()}")
        state = wait_for(lambda: mig_state(src) == "running" and "running",
                         30, "the source function to be RUNNING")
        c0 = s.src.counter()[1]
        time.sleep(1)
        c1 = s.src.counter()[1]
        log(f"after cancel: source {s.src.status()}, function {state}, "
            f"guest counter {c0} -> {c1}")
        check(c1 > c0, "the guest does not run after cancel")
        s.src.cmd("stop")
        final = s.src.counter()[1]
    finally:
        s.close()
    a = bar_read(src)
    check(int.from_bytes(a[4:8], "little") == final, "counter lost")
    window = int.from_bytes(a[12:16], "little")
    keep = (window + 1) * 4096
    check(a[keep:] == s.pattern[keep:], "source memory changed")
    check(not s.new_reports(), f"kernel report: {s.new_reports()}")


def case_dst_load_fails(src, dst):
    s = Session(src, dst, return_path=True, seed=4)
    try:
        # The destination's second firmware load fails with EIO.
        knob(dst, "load/fail_skip", 1)
        knob(dst, "load/fail_count", 1)
        s.start()
        ended = ("failed", "completed", "cancelled")
        st = wait_for(lambda: (m := mig_status(s.src)) in ended and m,
                      240, "the migration to fail", step=1)
        if st != "failed":
            # Precopy may still be running: let it switch over.
            st = s.switchover()
        info = s.src.cmd("query-migrate")
        log(f"source: migration {st}: {info.get('error-desc')}")
        check(st == "failed", f"migration {st}")
        wait_for(lambda: s.src.status() == "running", 30,
                 "the source to resume")
        check(mig_state(src) == "running", "source function not RUNNING")
        c0 = s.src.counter()[1]
        time.sleep(1)
        c1 = s.src.counter()[1]
        log(f"source {s.src.status()}, guest counter {c0} -> {c1}")
        check(c1 > c0, "the source guest does not run")
        check(s.mon.count(dst, "error") >= 1, "no error event")
        try:
            s.dst.proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        errs = [line for line in s.dst.output().splitlines()
                if "warning" not in line and "peer-to-peer" not in line]
        log("destination QEMU: exit status "
            f"{s.dst.proc.returncode}: {' / '.join(errs)[-600:]}")
    finally:
        try:
            knob(dst, "load/fail_count", 0)
            knob(dst, "load/fail_skip", 0)
        except OSError:
            pass
        s.close()
    check(not s.new_reports(), f"kernel report: {s.new_reports()}")


def case_converge(src, dst):
    logged = dma_log_counts(src)
    s = Session(src, dst, seed=5)
    backend = "iommufd" if IOMMUFD else "type1 container"
    try:
        s.src.cmd("migrate-set-parameters",
                  **{"downtime-limit": DOWNTIME_LIMIT,
                     "avail-switchover-bandwidth": 0})
        t0 = time.monotonic()
        s.src.cmd("migrate", uri=s.uri)
        ended = ("completed", "failed", "cancelled")
        try:
            st = wait_for(lambda: (m := mig_status(s.src)) in ended and m,
                          CONVERGE_S, "QEMU to switch over on its own")
        except Fail:
            st = mig_status(s.src)
        secs = time.monotonic() - t0
        info = s.src.cmd("query-migrate")
        syncs = info.get("ram", {}).get("dirty-sync-count")
        log(f"converge, {backend}: {st} after {secs:.0f} s, {syncs} dirty "
            f"syncs; {figures(info)}")
        if st == "active":
            s.src.cmd("migrate_cancel")
            wait_for(lambda: mig_status(s.src) == "cancelled", 60,
                     "the migration to be cancelled")
            check(s.src.status() == "running", f"source {s.src.status()}")
        if st == "completed":
            wait_for(lambda: s.dst.status() == "paused", 120,
                     "the destination to load")
    finally:
        s.close()
    starts, reports = (b - a for a, b in zip(logged, dma_log_counts(src)))
    log(f"converge, {backend}: the source function served {starts} DMA "
        f"logging starts, {reports} reports")
    if IOMMUFD:
        # QEMU uses the device's dirty tracking where the kernel offers it.
        check(starts >= 1 and reports >= 1, "QEMU did not use the device's "
              f"DMA logging ({starts} starts, {reports} reports)")
        check(st == "completed", f"{st} after {CONVERGE_S} s with the "
              "iommufd backend")
        d = first_diff(bar_read(src), bar_read(dst))
        check(d < 0, f"BAR2 differs from page {d}")
    else:
        check(starts == 0 and reports == 0, "DMA logging served without "
              f"CONFIG_IOMMUFD_DRIVER ({starts} starts, {reports} reports)")
        check(st == "active", f"{st} with the type1 container: expected "
              f"precopy still running after {CONVERGE_S} s")
    check(not s.new_reports(), f"kernel report: {s.new_reports()}")


CASES = {
    "plain": lambda a, b: case_migrate(a, b, False, 1),
    "multifd": lambda a, b: case_migrate(a, b, True, 2),
    "cancel": case_cancel,
    "dst_load_fails": case_dst_load_fails,
    "converge": case_converge,
}
DEFAULT_CASES = ["plain", "multifd", "cancel", "dst_load_fails"]


def main():
    names = [a for a in sys.argv[1:] if not BDF.match(a)] or DEFAULT_CASES
    unknown = [n for n in names if n not in CASES]
    if unknown:
        sys.exit(f"qemu_migration.py: no case {', '.join(unknown)} "
                 f"(cases: {', '.join(CASES)})")
    print("TAP version 13")
    print(f"1..{len(names)}")
    funcs = given_functions(sys.argv[1:])
    skip = None
    if os.geteuid():
        skip = "needs root"
    elif unusable(funcs):
        skip = unusable(funcs)
    elif not os.path.exists(GUEST):
        skip = f"no {GUEST}"
    elif subprocess.run([QEMU, "--version"], capture_output=True).returncode:
        skip = f"no {QEMU}"
    os.makedirs(WORK, exist_ok=True)
    if not skip:
        log(subprocess.run([QEMU, "--version"], capture_output=True,
                           text=True).stdout.splitlines()[0])
    failed = 0
    for i, name in enumerate(names, 1):
        if skip:
            print(f"ok {i} qemu.{name} # SKIP {skip}")
            continue
        t0 = time.monotonic()
        try:
            CASES[name](funcs[0], funcs[1])
            log(f"{name}: {time.monotonic() - t0:.1f} s")
            print(f"ok {i} qemu.{name}", flush=True)
        except Exception as e:          # noqa: BLE001 - report, go on
            failed += 1
            log(f"{name}: {type(e).__name__}: {e}")
            for vm in ("src", "dst"):
                for ext in ("log", "serial"):
                    p = f"{WORK}/{vm}.{ext}"
                    if os.path.exists(p):
                        with open(p) as f:
                            log(f"{vm}.{ext}: " + f.read()[-2000:])
            print(f"not ok {i} qemu.{name}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
