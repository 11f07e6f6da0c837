"""The chapter's LeNet trained by PyTorch itself, as d2l's train_ch6 does it:
nn.Sequential, xavier_uniform_ weights, torch.optim.SGD, nn.CrossEntropyLoss,
shuffled minibatches, test accuracy after each epoch, and examples/sec over
the time of the training steps only (d2l's Timer).

It reads the same IDX files `cnn train` reads, so both train on the same data:
    /usr/bin/python3 bench/torch_lenet.py --data data/fashion-mnist --threads 2
Prints one JSON object on its last line (for bench/run.sh).
"""
import argparse
import gzip
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with (gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")) as f:
                data = f.read()
            ndim = data[3]
            dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    raise FileNotFoundError(path)


def lenet(name="lenet"):
    """The chapter's network: the text of models/NAME.txt (lenet by default), run by Python
    (with d2l's Residual block, for models/resnet-small.txt); bench/torch_model.py builds it."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_model import load_net
    return load_net(name)


def accuracy(y_hat, y):
    return float((y_hat.argmax(dim=1) == y).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/fashion-mnist")
    ap.add_argument("--model", default="lenet", help="a network of models/ (its file name without .txt)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    ap.add_argument("--no-eval", action="store_true", help="skip the per-epoch test accuracy")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr = torch.tensor(read_idx(os.path.join(args.data, "train-images-idx3-ubyte")), dtype=torch.float32)
    ytr = torch.tensor(read_idx(os.path.join(args.data, "train-labels-idx1-ubyte")), dtype=torch.int64)
    xte = torch.tensor(read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte")), dtype=torch.float32)
    yte = torch.tensor(read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte")), dtype=torch.int64)
    xtr = (xtr / 255).unsqueeze(1)
    xte = (xte / 255).unsqueeze(1)
    train_iter = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xtr, ytr),
                                             batch_size=args.batch_size, shuffle=True)
    test_iter = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xte, yte),
                                            batch_size=args.batch_size, shuffle=False)

    net = lenet(args.model)

    def init_weights(m):
        if type(m) == nn.Linear or type(m) == nn.Conv2d:
            nn.init.xavier_uniform_(m.weight)
    net.apply(init_weights)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr)
    loss = nn.CrossEntropyLoss()

    compute, examples, steps = 0.0, 0, 0
    wall0 = time.perf_counter()
    train_l = train_acc = test_acc = float("nan")
    for epoch in range(args.epochs):
        net.train()
        l_sum, acc_sum, n = 0.0, 0.0, 0
        for X, y in train_iter:
            t0 = time.perf_counter()
            optimizer.zero_grad()
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                l_sum += float(l) * X.shape[0]
                acc_sum += accuracy(y_hat, y)
                n += X.shape[0]
            compute += time.perf_counter() - t0
            steps += 1
            if args.max_steps and steps >= args.max_steps:
                break
        examples += n
        train_l, train_acc = l_sum / n, acc_sum / n
        if not args.no_eval:
            net.eval()
            correct = 0.0
            with torch.no_grad():
                for X, y in test_iter:
                    correct += accuracy(net(X), y)
            test_acc = correct / len(yte)
        if not args.quiet:
            print(f"epoch {epoch + 1}/{args.epochs}: loss {train_l:.3f}, train acc {train_acc:.3f}, "
                  f"test acc {test_acc:.3f}", flush=True)
        if args.max_steps and steps >= args.max_steps:
            break
    wall = time.perf_counter() - wall0

    # Inference over the whole test set, eval mode, no gradients.
    net.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        for X, _ in test_iter:
            net(X)
    infer = len(yte) / (time.perf_counter() - t0)

    print(f"loss {train_l:.3f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}")
    print(f"{examples / compute:.1f} examples/sec on cpu ({args.threads} threads), {wall:.1f} s wall")
    print(json.dumps({"train_examples_per_sec": examples / compute, "wall_seconds": wall,
                      "infer_examples_per_sec": infer, "loss": train_l, "train_acc": train_acc,
                      "test_acc": test_acc, "threads": args.threads,
                      "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
