#!/usr/bin/env python3
"""Turns the raw runs collected by bench/compare into the troupe-vs-CAF Markdown table.

Input (a file, or stdin with "-"): one record per line, as written by bench/compare:
    SYSTEM REP NAME n=N threads=T seconds=S msgs_per_s=X
where SYSTEM is "troupe" or "caf" and the rest is one line of //bench:savina(_caf) output.
Medians are taken per workload over the repetitions; the ratio troupe/CAF is computed per
repetition (the A B pair run back to back), and its median and best / worst are reported.
"""

import argparse
import re
import statistics
import sys

LINE = re.compile(
    r"^(?P<system>troupe|caf) (?P<rep>\d+) (?P<name>\w+) n=(?P<n>\d+) threads=(?P<threads>\d+) "
    r"seconds=(?P<seconds>[0-9.]+) msgs_per_s=(?P<rate>[0-9.]+)$")
ORDER = ["pingpong", "ring", "fanin", "fjthrput", "create"]


def parse(lines):
    """Returns {name: {"n": {system: n}, "rate": {system: {rep: rate}}}} in first-seen order."""
    table = {}
    for number, raw in enumerate(lines, 1):
        raw = raw.strip()
        if not raw:
            continue
        m = LINE.match(raw)
        if not m:
            sys.exit(f"compare_table: line {number} is not a benchmark record: {raw!r}")
        w = table.setdefault(m["name"], {"n": {}, "rate": {"troupe": {}, "caf": {}}})
        w["n"][m["system"]] = int(m["n"])
        w["rate"][m["system"]][int(m["rep"])] = float(m["rate"])
    return table


def fmt_rate(x):
    return f"{x:,.0f}"


def row(name, w):
    ours, caf = w["rate"]["troupe"], w["rate"]["caf"]
    ns = sorted(set(w["n"].values()))
    n = f"{ns[0]:,}" if len(ns) == 1 else " vs ".join(f"{x:,}" for x in ns) + " (n differs!)"
    cells = [name, n,
             fmt_rate(statistics.median(ours.values())) if ours else "-",
             fmt_rate(statistics.median(caf.values())) if caf else "-"]
    ratios = [ours[r] / caf[r] for r in sorted(ours.keys() & caf.keys()) if caf[r] > 0]
    if ratios:
        cells += [f"{statistics.median(ratios):.2f}",
                  f"{max(ratios):.2f} / {min(ratios):.2f}"]
    else:
        cells += ["-", "-"]
    return "| " + " | ".join(cells) + " |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", help="records file, or - for stdin")
    parser.add_argument("--header", default="", help="line printed above the table")
    args = parser.parse_args()
    with (sys.stdin if args.raw == "-" else open(args.raw)) as f:
        table = parse(f)
    if not table:
        sys.exit("compare_table: no records")
    names = sorted(table, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER))
    out = []
    if args.header:
        out += [args.header, ""]
    out += ["| workload | n | troupe msgs/s (median) | CAF msgs/s (median) "
            "| ratio troupe/CAF (median) | ratio best/worst |",
            "|---|---:|---:|---:|---:|---:|"]
    out += [row(name, table[name]) for name in names]
    print("\n".join(out))


if __name__ == "__main__":
    main()
