#!/usr/bin/env python3
"""Charts for docs/performance.md from a run of ../shared/bench/run.sh.

    scripts/perf-chart.py RAW_TSV OUT_DIR BROKER_A BROKER_B

RAW_TSV is the harness's raw.tsv (scenario, metric, broker, rep, value). Writes
OUT_DIR/performance-throughput.png (consume rate per scenario, both brokers, log scale) and
OUT_DIR/performance-prefetch.png (the S7 prefetch sweep). Medians over the repetitions.
"""
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    data = defaultdict(lambda: defaultdict(list))
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            s, m, b, _rep, v = parts
            try:
                x = float(v)
            except ValueError:
                continue
            if x == x:
                data[(s, m)][b].append(x)
    return {k: {b: statistics.median(v) for b, v in per.items()} for k, per in data.items()}


def bars(ax, labels, a_vals, b_vals, names):
    xs = range(len(labels))
    w = 0.38
    ax.bar([x - w / 2 for x in xs], a_vals, w, label=names[0], color="#999999")
    ax.bar([x + w / 2 for x in xs], b_vals, w, label=names[1], color="#d9480f")
    for x, a, b in zip(xs, a_vals, b_vals):
        if a and b:
            ax.text(x + w / 2, b, f"{b / a:.1f}x", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=8)
    ax.legend()


def main():
    raw, out, a, b = sys.argv[1:5]
    med = load(raw)
    wanted = [
        ("S1", "consume msg/s", "S1 16 B"),
        ("S2", "consume msg/s", "S2 1 KiB"),
        ("S3", "consume msg/s", "S3 persistent"),
        ("S4", "consume msg/s (sum of 10)", "S4 fanout x10"),
        ("S6", "publish msg/s (all enqueued)", "S6 backlog in"),
        ("S6", "drain msg/s", "S6 drain"),
    ]
    rows = [(lbl, med.get((s, m), {})) for s, m, lbl in wanted if (s, m) in med]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bars(ax, [r[0] for r in rows], [r[1].get(a, 0) for r in rows], [r[1].get(b, 0) for r in rows], (a, b))
    ax.set_yscale("log")
    ax.set_ylabel("messages per second (log scale)")
    ax.set_title("Throughput by scenario (median; label = ratio)")
    fig.tight_layout()
    fig.savefig(f"{out}/performance-throughput.png", dpi=110)

    sweep = sorted(
        ((int(m.split()[1]), per) for (s, m), per in med.items() if s == "S7" and m.endswith("consume msg/s")),
        key=lambda t: t[0],
    )
    if sweep:
        fig, ax = plt.subplots(figsize=(7, 4))
        bars(ax, [f"prefetch {q}" for q, _ in sweep], [p.get(a, 0) for _, p in sweep], [p.get(b, 0) for _, p in sweep], (a, b))
        ax.set_ylabel("consumed messages per second")
        ax.set_title("S7 prefetch sweep, manual acks, 64 B (median)")
        fig.tight_layout()
        fig.savefig(f"{out}/performance-prefetch.png", dpi=110)


if __name__ == "__main__":
    main()
