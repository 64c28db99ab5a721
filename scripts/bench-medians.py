#!/usr/bin/env python3
"""Medians (and ranges) of several scripts/bench.sh runs, and issue 16's targets checked on them.

Usage: python3 scripts/bench-medians.py target/bench/A.tsv target/bench/B.tsv target/bench/C.tsv

Each file is the rows one run of scripts/bench.sh saved. Ratios are taken within a run (txhook
and the naive receiver, or the raw limit, measured minutes apart on the same machine), then
their median across runs.
"""

import statistics
import sys


def load(path):
    raw, rows = None, {}
    for line in open(path):
        f = line.rstrip("\n").split("|")
        if f[0] == "raw":
            raw = float(f[1])
            continue
        kind, c, rate, p50, p99, idle, peak, acked, missing, bad, cpu, catchup, live, others = f[:14]
        rows[(kind, c)] = dict(
            rate=float(rate), p50=float(p50), p99=float(p99), idle=int(idle) / 1024,
            peak=int(peak) / 1024, missing=int(missing), bad=int(bad), others=float(others),
            cpu=[float(x) if x != "-" else 0.0 for x in cpu.split("/")],
            catchup=None if catchup == "-" else (float("inf") if catchup.startswith(">") else float(catchup)),
        )
    return raw, rows


def fmt(values, spec, unit=""):
    m = statistics.median(values)
    if len(values) == 1:
        return f"{m:{spec}}{unit}"
    return f"{m:{spec}}{unit} ({min(values):{spec}}-{max(values):{spec}})"


def main(paths):
    runs = [load(p) for p in paths]
    raws = [r for r, _ in runs]
    keys = list(dict.fromkeys(k for _, rows in runs for k in rows))
    print(f"medians of {len(runs)} runs (range in brackets)")
    print()
    print(f"{'server':<8}{'conc':>5}  {'callbacks/s':<22}{'p50 ms':<18}{'p99 ms':<20}{'peak RSS MiB':<20}"
          f"{'cpu us srv/gen/pg':<19}{'others':<8}{'catch-up s':<18}{'/naive':<20}{'/raw'}")
    ratio = {}
    for kind, c in keys:
        got = [rows[(kind, c)] for _, rows in runs if (kind, c) in rows]
        vs_naive = [rows[(kind, c)]["rate"] / rows[("naive", c)]["rate"]
                    for _, rows in runs if (kind, c) in rows and ("naive", c) in rows]
        vs_raw = [rows[(kind, c)]["rate"] / raw for raw, rows in runs if (kind, c) in rows and raw]
        ratio[(kind, c)] = (vs_naive, vs_raw)
        cpu = "/".join(f"{statistics.median(g['cpu'][i] for g in got):.0f}" for i in range(3))
        catch = [g["catchup"] for g in got if g["catchup"] is not None]
        name = "naive" if kind == "naive" else ("txhook" if kind == "batched" else f"tx-{kind}")
        print(f"{name:<8}{c:>5}  {fmt([g['rate'] for g in got], '.0f'):<22}{fmt([g['p50'] for g in got], '.1f'):<18}"
              f"{fmt([g['p99'] for g in got], '.1f'):<20}{fmt([g['peak'] for g in got], '.1f'):<20}{cpu:<19}"
              f"{statistics.median(g['others'] for g in got):<8.2f}"
              f"{(fmt(catch, '.1f') if catch else '-'):<18}"
              f"{(fmt(vs_naive, '.2f') if kind != 'naive' else '-'):<20}"
              f"{fmt(vs_raw, '.3f') if kind != 'naive' else '-'}")
    print(f"{'raw':<8}{'':>5}  {fmt(raws, '.0f')}")
    print()

    def med(xs):
        return statistics.median(xs) if xs else float("nan")

    def tx(c):
        return [rows[("batched", c)] for _, rows in runs if ("batched", c) in rows]

    checks = []
    for c, want in (("64", 2.0), ("256", 2.5), ("8", 1.0)):
        v = med(ratio.get(("batched", c), ([], []))[0])
        checks.append((f"c={c}: txhook >= {want}x naive", v >= want, f"{v:.2f}x"))
    v = med(ratio.get(("batched", "256"), ([], []))[1])
    checks.append(("c=256: txhook >= 0.20 of the raw limit", v >= 0.20, f"{v:.3f}"))
    v = med([g["p99"] for g in tx("256")])
    checks.append(("c=256: p99 <= 30 ms", v <= 30, f"{v:.1f} ms"))
    catch = {c: [g["catchup"] for g in tx(c) if g["catchup"] is not None] for c in ("8", "64", "256")}
    slowest = max((med(v), c) for c, v in catch.items() if v) if any(catch.values()) else (float("nan"), "-")
    worst = max((x for v in catch.values() for x in v), default=float("nan"))
    checks.append(("projection caught up within 10 s of each step's end", slowest[0] <= 10,
                   f"slowest c={slowest[1]}: {slowest[0]:.1f} s (worst run {worst:.1f} s)"))
    peak = max((g["peak"] for _, rows in runs for k, g in rows.items() if k[0] != "naive"), default=0)
    idle = max((g["idle"] for _, rows in runs for k, g in rows.items() if k[0] != "naive"), default=0)
    checks.append(("peak RSS <= 64 MiB", peak <= 64, f"worst {peak:.1f} MiB"))
    checks.append(("idle RSS <= 16 MiB", idle <= 16, f"worst {idle:.1f} MiB"))
    missing = sum(g["missing"] for _, rows in runs for g in rows.values())
    checks.append(("zero acknowledged-but-missing", missing == 0, f"{missing} in all runs"))
    for what, ok, got in checks:
        print(f"{'met    ' if ok else 'NOT MET'}  {what:<55}{got}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
