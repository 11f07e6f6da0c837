"""One model of models/ run by PyTorch itself, measured as build/bench/bench_model
measures cnn, so that bench/run.sh can put the two side by side:

  train    the network of models/NAME.txt (its text run as Python, with d2l's
           Residual), xavier_uniform_ on every Conv2d and Linear weight (d2l's
           init_weights, as `cnn train`), torch.optim.SGD at --lr,
           nn.CrossEntropyLoss, shuffled minibatches of the training IDX files;
           --warmup steps, then steps until --train-seconds of compute;
           examples/s, compute only (zero_grad, forward, loss, backward,
           step, the accuracy count, as d2l's Timer counts), of the median
           timed step, and over all of them.
  infer    net.eval() under torch.no_grad(), one forward per batch of --batch
           test images (converted beforehand), each timed; the median forward
           of each of --reps rounds, the best round.
  latency  the same at each batch size of --latency (default 1,4,16).

    /usr/bin/python3 bench/torch_model.py models/vgg-small.txt --threads 2

Prints the same "key value" lines as bench_model, max_rss_kib (getrusage) last.
Reads IDX data sets, (n, h, w) or (n, c, h, w), bytes or float32 (other
formats cnn reads, CIFAR binaries, CSV, image folders, are not read here).
Images are kept as bytes and converted per batch (x / 255, as torchvision's
ToTensor), as cnn does; --resize N resizes them bilinearly (torchvision's
Resize on tensors without antialias).
"""
import argparse
import gzip
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


IDX_DTYPES = {0x08: np.uint8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}


def read_idx(path):
    """An IDX file (plain or .gz; bytes, int16, int32 or float32) as a numpy array."""
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                data = f.read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            ndim = data[3]
            dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
            return np.frombuffer(data, dtype=IDX_DTYPES[data[2]], offset=4 + 4 * ndim).reshape(dims)
    raise FileNotFoundError(path)


def read_images(data, split):
    """DATA/SPLIT-images-idx3-ubyte (n, h, w) or -idx4-ubyte (n, c, h, w), as (n, c, h, w)."""
    for name in ("idx3", "idx4"):
        path = os.path.join(data, f"{split}-images-{name}-ubyte")
        if os.path.exists(path) or os.path.exists(path + ".gz"):
            x = read_idx(path)
            return x[:, None] if x.ndim == 3 else x
    raise FileNotFoundError(os.path.join(data, f"{split}-images-idx3-ubyte"))


def load_net(model):
    """The nn.Sequential of a model file (a path, or a name in models/), built
    by Python from the same text cnn parses; Residual is d2l's block."""
    sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
    from gen_modern import Residual
    path = model if os.path.exists(model) else os.path.join(ROOT, "models", model + ".txt")
    scope = {"nn": nn, "F": F, "torch": torch, "Residual": Residual}
    with open(path, encoding="utf-8") as f:
        exec(f.read(), scope)
    return scope["net"]


def xavier_init(net):
    """d2l's init_weights: xavier_uniform_ on Conv2d and Linear weights, at any
    depth (Residual's convolutions too); biases and BatchNorm keep PyTorch's."""
    def init(m):
        if type(m) == nn.Linear or type(m) == nn.Conv2d:
            nn.init.xavier_uniform_(m.weight)
    net.apply(init)


def batch_of(images, idx, resize):
    """x (len(idx), c, H, W) <- images[idx] / 255 (float images as they are),
    resized to resize x resize."""
    x = torch.from_numpy(np.ascontiguousarray(images[idx])).to(torch.float32)
    if images.dtype == np.uint8:
        x = x.div_(255)
    if resize:
        x = F.interpolate(x, size=(resize, resize), mode="bilinear", align_corners=False, antialias=False)
    return x


def time_forward(net, x, b, reps, seconds):
    """Seconds per forward at batch b over x: after a warm-up, reps rounds of
    forwards, each at least seconds/reps long and 3 forwards; the median
    forward of each round, the best round."""
    n, at = x.shape[0], 0
    for _ in range(3):  # warm-up: oneDNN's primitives for this shape, caches
        if at + b > n:
            at = 0
        net(x[at:at + b])
        at += b
    best = float("inf")
    for _ in range(reps):
        times, t0 = [], time.perf_counter()
        t1 = t0
        while t1 - t0 < seconds / reps or len(times) < 3:
            if at + b > n:
                at = 0
            c0 = t1
            net(x[at:at + b])
            t1 = time.perf_counter()
            times.append(t1 - c0)
            at += b
        best = min(best, statistics.median(times))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="a model file, or a name in models/")
    ap.add_argument("--data", default="data/fashion-mnist")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--resize", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--train-seconds", type=float, default=3.0)
    ap.add_argument("--infer-seconds", type=float, default=1.5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--latency", default="1,4,16")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr = read_images(args.data, "train")
    ytr = torch.from_numpy(read_idx(os.path.join(args.data, "train-labels-idx1-ubyte")).astype(np.int64))
    xte = read_images(args.data, "t10k")
    net = load_net(args.model)
    xavier_init(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr)
    loss = nn.CrossEntropyLoss()
    print(f"model {args.model}, input {xtr.shape[1]}x{args.resize or xtr.shape[2]}x{args.resize or xtr.shape[3]}, "
          f"batch {args.batch}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")

    # Training: shuffled minibatches, as many epochs as it takes.
    net.train()
    n, steps, compute, timed = xtr.shape[0], 0, 0.0, []  # timed: (examples, seconds) per step
    done = False
    while not done:
        order = torch.randperm(n).numpy()
        for start in range(0, n, args.batch):
            idx = order[start:start + args.batch]
            X, y = batch_of(xtr, idx, args.resize), ytr[idx]
            t0 = time.perf_counter()
            optimizer.zero_grad()
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                float(l), int((y_hat.argmax(dim=1) == y).sum())
            dt = time.perf_counter() - t0
            steps += 1
            if steps <= args.warmup:
                continue
            compute += dt
            timed.append((len(idx), dt))
            if compute >= args.train_seconds and len(timed) >= 3:
                done = True
                break
    # the median step, in seconds per example (as bench_model)
    print(f"train_examples_per_sec {1 / statistics.median(t / e for e, t in timed):.1f}")
    print(f"train_examples_per_sec_all {sum(e for e, _ in timed) / compute:.1f}")
    print(f"train_steps {len(timed)}")

    # Inference: eval mode, no gradients, test images converted once.
    net.eval()
    x = batch_of(xte, np.arange(min(4096, xte.shape[0])), args.resize)
    b = min(args.batch, x.shape[0])
    with torch.no_grad():
        s = time_forward(net, x, b, args.reps, args.infer_seconds)
        print(f"infer_examples_per_sec {b / s:.1f}")
        for b in (int(v) for v in args.latency.split(",")):
            s = time_forward(net, x, b, args.reps, args.infer_seconds / 2)
            print(f"latency_ms_{b} {1e3 * s:.4f}\nexamples_per_sec_{b} {b / s:.1f}")
    print(f"max_rss_kib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")


if __name__ == "__main__":
    main()
