#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench, last step, on the host: draw the main tables with gnuplot.

  plot.py DIR

Reads what DIR (build/bench) holds and writes an SVG next to each JSON:

  downtime.svg  downtime against the fraction of pages dirtied, PRE_COPY
                and STOP_COPY only, from downtime.json (the uAPI driven
                directly) and from qemu.json (QEMU migrating the guest)
  channels.svg  vfio-mig's throughput against its number of channels,
                capped per flow and uncapped, with the single-stream
                baseline, from channels.json

Each point is a median; the bars run from the minimum to the median.  A
JSON that is missing is named and skipped; gnuplot failing fails the run.
"""
import json
import os
import subprocess
import sys


def series(points):
    """gnuplot inline data: x median min, one point a line, 'e' ends."""
    return "".join(f"{x} {m} {lo}\n" for x, m, lo in points) + "e\n"


def gnuplot(script, data, out):
    r = subprocess.run(["gnuplot"], input=script + "".join(data),
                       capture_output=True, text=True)
    if r.returncode or r.stderr.strip():
        sys.exit(f"plot: gnuplot failed on {out}:\n{r.stderr}")
    print(f"plot: wrote {out}")


HEAD = ('set terminal svg size 800,480 dynamic enhanced font "sans,12"\n'
        'set output "{out}"\nset title "{title}"\nset key top left\n'
        'set grid\n')


def plot_downtime(d, out):
    curves, data = [], []
    if "downtime" in d:
        rows = d["downtime"]["rows"]
        for key, name in (("downtime_ms_precopy", "PRE\\_COPY (uAPI)"),
                          ("downtime_ms_full", "STOP\\_COPY only (uAPI)")):
            curves.append(f'"-" using 1:2:3:2 with yerrorlines title "{name}"')
            data.append(series([(r["dirty_pct"], r[key]["median"],
                                 r[key]["min"]) for r in rows]))
    if d.get("qemu", {}).get("downtime"):
        rows = d["qemu"]["downtime"]
        for key, name in (("precopy_downtime_ms", "PRE\\_COPY (QEMU)"),
                          ("stopcopy_downtime_ms", "STOP\\_COPY only (QEMU)")):
            curves.append(f'"-" using 1:2:3:2 with yerrorlines title "{name}"')
            data.append(series([(100 * r["dirty_fraction_per_s"],
                                 r[key]["median"], r[key]["min"])
                                for r in rows]))
    if not curves:
        print(f"plot: no downtime figures, {out} not drawn")
        return
    script = HEAD.format(out=out, title="Downtime against dirtied pages "
                         "(median; bar from the minimum)")
    script += ('set logscale xy\nset xlabel "pages dirtied (% of the '
               'function; per second for QEMU)"\n'
               'set ylabel "downtime (ms)"\n')
    script += "plot " + ", ".join(curves) + "\n"
    gnuplot(script, data, out)


def plot_channels(c, out):
    curves, data = [], []
    for link in ("capped", "uncapped"):
        rows = c[link]["rows"]
        b = c[link]["baseline_mbytes_per_s"]
        curves.append(f'"-" using 1:2:3:2 with yerrorlines title "vfio-mig, {link}"')
        data.append(series([(r["channels"], r["mbytes_per_s"]["median"],
                             r["mbytes_per_s"]["min"]) for r in rows]))
        curves.append(f'"-" using 1:2:3:2 with yerrorbars title "one stream, {link}"')
        data.append(series([(1, b["median"], b["min"])]))
    cap = c["context"]["per_flow_cap"]
    script = HEAD.format(out=out, title="Stop-copy throughput against "
                         f"channels (capped: {cap} per flow; median, bar "
                         "from the minimum)")
    script += ('set logscale x 2\nset logscale y\nset xlabel "channels"\n'
               'set ylabel "MB/s"\nset xrange [0.8:10]\n')
    script += "plot " + ", ".join(curves) + "\n"
    gnuplot(script, data, out)


def load(path):
    if not os.path.exists(path):
        print(f"plot: no {path}, not drawn")
        return None
    with open(path) as f:
        return json.load(f)


def main():
    if len(sys.argv) != 2:
        print("usage: plot.py DIR", file=sys.stderr)
        return 2
    top = sys.argv[1]
    d = {}
    for name in ("downtime", "qemu"):
        j = load(os.path.join(top, f"{name}.json"))
        if j is not None:
            d[name] = j
    if d:
        plot_downtime(d, os.path.join(top, "downtime.svg"))
    c = load(os.path.join(top, "channels.json"))
    if c is not None:
        plot_channels(c, os.path.join(top, "channels.svg"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
