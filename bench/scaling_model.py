#!/usr/bin/env python3
"""scaling_model.py TSV -- the cost model of docs/SCALING.md, fitted to the
measurements of bench/scaling.sh, printed as Markdown.

Time of one step of a global batch B on P processes, shards of S examples:

  T(P) = compute + bn + grad + small
  compute = ceil(ceil(B/S) / P) * S / r(S)      the busiest process's shards;
                                                r(S): one shard alone, 1 thread
  bn      = (3 n_bn + 1) * 2 * L(P) * a         rounds of batch-norm sums:
                                                2 per layer forward, 1 backward,
                                                1 closing; each a header and a
                                                payload allgather
  grad    = (k + P - 2) (a + g/(k w))           the chain: k buckets of the g
          + L(P) (k a + g/w)                    gradient bytes, pipelined along
                                                P processes, then each bucket
                                                broadcast from the last
  small   = 2 L(P) a                            loss/count and stop allgathers
  L(P)    = ceil(log2 P)

a (seconds per message) and w (bytes per second) are fitted per link by
least squares on the relative error to the 2-process runs' measured exchange
time (no overlap); the 3-process runs are then predicted and compared with
what was measured. Three processes share two cores there: the busiest one
(2 of 4 shards) computes as on a core of its own when the others, with half
its work, yield theirs while they wait (mpi_yield_when_idle), so the compute
term is scaled by max(1, shards / (cores * busiest's shards)) = 1.
"""
import csv
import math
import sys

MODELS = {  # parameters (cnn summary), batch norms (models/*.txt)
    "lenet": (61706, 0),
    "resnet-small": (77898, 7),
    "vgg-small": (431402, 4),
}
B = 256
BUCKET = 1 << 20
CORES = 2  # of the machine the measurements were made on


def L(p):
    return math.ceil(math.log2(p)) if p > 1 else 0


def buckets(model):
    return max(1, math.ceil(MODELS[model][0] * 4 / BUCKET))


def terms(model, p):
    """(coefficient of a, coefficient of 1/w) of the exchange time."""
    n, nbn = MODELS[model]
    g, k = n * 4.0, buckets(model)
    if p < 2:
        return 0.0, 0.0
    ca = (3 * nbn + 1) * 2 * L(p) + (k + p - 2) + L(p) * k + 2 * L(p)
    cw = (k + p - 2) * g / k + L(p) * g
    return ca, cw


def main():
    rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
    num = lambda r, k: float(r[k]) if r[k] not in ("?", "-", "") else None
    rate = {}  # (model, shard) -> examples/s of one shard alone, 1 thread
    for r in rows:
        if r["procs"] == "1" and r["threads"] == "1" and num(r, "examples_per_s"):
            rate[(r["model"], int(r["shard"]))] = num(r, "examples_per_s")

    def compute(model, p, s, share=1.0):
        shards = math.ceil(B / s)
        s_fit = min(rate, key=lambda ks: (ks[0] != model, abs(ks[1] - s)))[1]
        return math.ceil(shards / p) * s / rate[(model, s_fit)] * share

    # fit a, w per link on the 2-process rows without overlap, 1 MiB buckets
    fits = {}
    for link in sorted({r["link"] for r in rows if r["procs"] == "2" and r["link"] != "local"}):
        eqs = []
        for r in rows:
            if r["procs"] == "2" and r["link"] == link and r["overlap"] == "0" and r["bucket_kb"] == "1024":
                ex = num(r, "examples_per_s")
                if not ex:
                    continue
                t = B / ex * float(r["exchange_pct"]) / 100.0
                ca, cw = terms(r["model"], 2)
                eqs.append((ca, cw, t))
        if len(eqs) < 2:
            continue
        # least squares for t = ca*a + cw*(1/w), both >= 0, each equation / t
        eqs = [(ca / t, cw / t, 1.0) for ca, cw, t in eqs if t > 0]
        saa = sum(ca * ca for ca, _, _ in eqs); sab = sum(ca * cw for ca, cw, _ in eqs)
        sbb = sum(cw * cw for _, cw, _ in eqs); sat = sum(ca * t for ca, _, t in eqs)
        sbt = sum(cw * t for _, cw, t in eqs)
        det = saa * sbb - sab * sab
        a, iw = ((sat * sbb - sab * sbt) / det, (saa * sbt - sab * sat) / det) if det else (0.0, 0.0)
        if a < 0:
            a, iw = 0.0, sbt / sbb
        if iw <= 0:
            a, iw = sat / saa, 1e-12
        fits[link] = (a, iw)

    print("### Fitted links\n")
    print("| link (tc tbf) | a: seconds per message | w: effective bandwidth |")
    print("|---|---:|---:|")
    for link, (a, iw) in fits.items():
        print(f"| {link} | {a * 1e6:.0f} µs | {8 / iw / 1e9:.2f} Gbit/s |")

    def step(model, p, link, s, share=1.0):
        a, iw = fits[link]
        ca, cw = terms(model, p)
        c = compute(model, p, s, share)
        return c, ca * a + cw * iw

    print("\n### Measured against the model\n")
    print("| model | processes | link | shard | measured ex/s | model ex/s | error | measured exchange | model exchange |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["procs"] in ("2", "3") and r["link"] in fits and r["overlap"] == "0" and r["bucket_kb"] == "1024":
            ex = num(r, "examples_per_s")
            if not ex:
                continue
            p, s = int(r["procs"]), int(r["shard"])
            shards = math.ceil(B / s)
            share = max(1.0, shards / (CORES * math.ceil(shards / p)))
            c, x = step(r["model"], p, r["link"], s, share=share)
            pred = B / (c + x)
            print(f"| {r['model']} | {p} | {r['link']} | {s} | {ex:.0f} | {pred:.0f} | "
                  f"{100 * (pred - ex) / ex:+.0f}% | {float(r['exchange_pct']):.0f}% | {100 * x / (c + x):.0f}% |")

    print("\n### Predicted: examples/s (scaling efficiency) on P nodes of one core each\n")
    print("Shards of min(128, B/P) examples (at least 8); efficiency against P times one node alone.\n")
    for link in [l for l in ("10gbit", "1gbit") if l in fits]:
        for batch in (256, 1024, 8192):
            print(f"\n**{link}, global batch {batch}**\n")
            print("| model | " + " | ".join(f"P={p}" for p in (1, 4, 8, 16, 32, 64)) + " | stops scaling |")
            print("|---|" + "---:|" * 6 + "---|")
            for model in MODELS:
                cells, prev, stop = [], None, None
                base = None
                for p in (1, 2, 4, 8, 16, 32, 64):
                    s = max(8, min(128, batch // p))
                    global B_
                    c = math.ceil(math.ceil(batch / s) / p) * s / rate[min(rate, key=lambda ks: (ks[0] != model, abs(ks[1] - s)))]
                    a, iw = fits[link]
                    ca, cw = terms(model, p)
                    x = ca * a + cw * iw
                    thr = batch / (c + x)
                    if p == 1:
                        base = thr
                    if prev and stop is None and thr < 1.2 * prev:
                        stop = f"P={p}: x{thr / prev:.2f} for doubling"
                    prev = thr
                    if p != 2:
                        cells.append(f"{thr:,.0f} ({100 * thr / (p * base):.0f}%)")
                print(f"| {model} | " + " | ".join(cells) + f" | {stop or 'beyond 64'} |")


if __name__ == "__main__":
    main()
