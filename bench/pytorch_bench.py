#!/usr/bin/env python3
"""Dense PyTorch timing of a shrink model, for `shrink bench run --pytorch`.

Usage: pytorch_bench.py DIR [--threads N] [--seconds S]
DIR holds spec.toml, weights.json ([{name, shape, offset}]) and weights.bin (raw
little-endian float32), as `shrink bench run` writes them from a .shrk file. Prints
one JSON object: {"torch": version, "batch1": timing, "batch64": timing}, each timing
{batch, calls, median_us, p10_us, mean_us, images_per_second}.

Sequential specs only (linear, conv2d, conv_transpose2d, pooling, flatten, dropout,
batch_norm, the activations); blocks (residual, highway, inception), layer_norm and
maxout are refused. Needs python3 >= 3.11 (tomllib) and torch; nothing else.
"""
import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import torch
from torch import nn


def build(spec, params):
    shape = list(spec["input"])
    mods = []
    for i, layer in enumerate(spec["layers"]):
        t = layer["type"]
        p = lambda leaf: params.get(f"layers.{i}.{leaf}")
        if t == "linear":
            m = nn.Linear(shape[0], layer["out"], bias=layer.get("bias", True))
            shape = [layer["out"]]
        elif t == "conv2d":
            k, s, pad, d = layer["kernel"], layer.get("stride", 1), layer.get("padding", 0), layer.get("dilation", 1)
            m = nn.Conv2d(shape[0], layer["out"], k, s, pad, d, bias=layer.get("bias", True))
            h = (shape[1] + 2 * pad - d * (k - 1) - 1) // s + 1
            w = (shape[2] + 2 * pad - d * (k - 1) - 1) // s + 1
            shape = [layer["out"], h, w]
        elif t == "conv_transpose2d":
            k, s, pad, op = layer["kernel"], layer.get("stride", 1), layer.get("padding", 0), layer.get("output_padding", 0)
            m = nn.ConvTranspose2d(shape[0], layer["out"], k, s, pad, op, bias=layer.get("bias", True))
            shape = [layer["out"], (shape[1] - 1) * s - 2 * pad + k + op, (shape[2] - 1) * s - 2 * pad + k + op]
        elif t in ("max_pool2d", "avg_pool2d"):
            k, pad = layer["kernel"], layer.get("padding", 0)
            s = layer.get("stride") or k
            m = (nn.MaxPool2d if t == "max_pool2d" else nn.AvgPool2d)(k, s, pad)
            shape = [shape[0], (shape[1] + 2 * pad - k) // s + 1, (shape[2] + 2 * pad - k) // s + 1]
        elif t == "global_avg_pool":
            m = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            shape = [shape[0]]
        elif t == "flatten":
            m = nn.Flatten()
            n = 1
            for d in shape:
                n *= d
            shape = [n]
        elif t == "dropout":
            m = nn.Identity()
        elif t == "batch_norm":
            m = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(shape[0], eps=layer.get("eps", 1e-5))
        elif t == "relu":
            m = nn.ReLU()
        elif t == "leaky_relu":
            m = nn.LeakyReLU(layer.get("slope", 0.01))
        elif t == "rrelu":
            m = nn.LeakyReLU((layer.get("lower", 1 / 8) + layer.get("upper", 1 / 3)) / 2)
        elif t == "elu":
            m = nn.ELU(layer.get("alpha", 1.0))
        elif t == "sigmoid":
            m = nn.Sigmoid()
        elif t == "tanh":
            m = nn.Tanh()
        elif t == "prelu":
            m = nn.PReLU(shape[0])
            m.weight.data = p("alpha")
            mods.append(m)
            continue
        else:
            sys.exit(f"layer type {t} is not supported by this script")
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            v = p(leaf)
            if v is not None:
                getattr(m, leaf).data = v
        mods.append(m)
    return nn.Sequential(*mods).eval()


def timing(f, batch, seconds):
    t0 = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - t0 < seconds / 10:
        f()
        n += 1
    ts = []
    t0 = time.perf_counter()
    while len(ts) < 5 or time.perf_counter() - t0 < seconds:
        s = time.perf_counter()
        f()
        ts.append((time.perf_counter() - s) * 1e6)
    ts.sort()
    med = ts[len(ts) // 2]
    return {"batch": batch, "calls": len(ts), "median_us": med, "p10_us": ts[len(ts) // 10],
            "mean_us": sum(ts) / len(ts), "images_per_second": batch * 1e6 / med}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    d = Path(a.dir)
    spec = tomllib.loads((d / "spec.toml").read_text())
    raw = (d / "weights.bin").read_bytes()
    flat = torch.frombuffer(bytearray(raw), dtype=torch.float32)
    params = {}
    for e in json.loads((d / "weights.json").read_text()):
        n = 1
        for s in e["shape"]:
            n *= s
        params[e["name"]] = flat[e["offset"]:e["offset"] + n].reshape(e["shape"]).clone()
    net = build(spec, params)
    norm = spec.get("normalize")
    shape = spec["input"]
    per = 1
    for s in shape:
        per *= s
    x = (torch.arange(64 * per, dtype=torch.int64) * 2654435761 % 1000).float() / 1000
    x = x.reshape([64] + shape)
    if norm:
        view = [1, -1] + [1] * (len(shape) - 1)
        mean, std = torch.tensor(norm["mean"]).reshape(view), torch.tensor(norm["std"]).reshape(view)
    out = {"torch": torch.__version__}
    with torch.inference_mode():
        for b in (1, 64):
            xb = x[:b]

            def f():
                v = (xb - mean) / std if norm else xb
                net(v).numpy()

            out[f"batch{b}"] = timing(f, b, a.seconds)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
