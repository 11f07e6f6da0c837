"""Markdown tables from the figures bench/run.sh writes with TSV=FILE, as
docs/PERFORMANCE.md shows them: one table per model (1 and 2 threads side by
side), then one line per model with the ratios the speed targets name.

    TSV=out.tsv bash bench/run.sh && python3 bench/tables.py out.tsv
"""
import csv
import sys


def num(v):
    if v in ("", "-"):
        return "–"
    x = float(v)
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.4f}"


def mib(v):
    return "–" if v in ("", "-") else f"{float(v) / 1024:,.0f}"


def times(v):
    return "–" if v in ("", "-") else f"{float(v):.2f}×"


def main():
    rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8"), delimiter="\t"))
    models = list(dict.fromkeys(r["model"] for r in rows))
    threads = list(dict.fromkeys(r["threads"] for r in rows))
    fig = {(r["model"], r["threads"], r["metric"]): r for r in rows}
    lat = [m[len("latency_ms_"):] for m in dict.fromkeys(r["metric"] for r in rows) if m.startswith("latency_ms_")]
    labels = [("train_examples_per_sec", "training, examples/s", num),
              ("infer_examples_per_sec", "inference at batch 256, examples/s", num)]
    for b in lat:
        labels.append((f"latency_ms_{b}", f"batch {b}: latency, ms (× = speed-up)", num))
        labels.append((f"examples_per_sec_{b}", f"batch {b}: examples/s", num))
    labels.append(("max_rss_kib", "peak RSS, MiB (× = cnn / PyTorch)", mib))
    for m in models:
        print(f"**{m}**\n")
        head = "| |" + "".join(f" {t} thread{'s' if t != '1' else ''}: cnn | PyTorch | × | % of peak |" for t in threads)
        print(head)
        print("|---|" + "---:|---:|---:|---:|" * len(threads))
        for key, label, fmt in labels:
            line = f"| {label} |"
            for t in threads:
                r = fig.get((m, t, key))
                if r is None:
                    line += " – | – | – | |"
                    continue
                line += f" {fmt(r['cnn'])} | {fmt(r['pytorch'])} | {times(r['ratio'])} | {r['cnn_peak_fraction']} |"
            print(line)
        print()
    print("| model |" + "".join(f" training {t}t | inference {t}t | batch-1 latency {t}t |" for t in threads)
          + " peak RSS, cnn / PyTorch |")
    print("|---|" + "---:|---:|---:|" * len(threads) + "---:|")
    for m in models:
        line = f"| {m} |"
        for t in threads:
            for key in ("train_examples_per_sec", "infer_examples_per_sec", "latency_ms_1"):
                r = fig.get((m, t, key))
                line += f" {times(r['ratio']) if r else '–'} |"
        r = fig.get((m, threads[0], "max_rss_kib"))
        line += f" {times(r['ratio']) if r else '–'} |"
        print(line)


if __name__ == "__main__":
    main()
