#!/usr/bin/env python3
"""PyTorch CPU training-step time of a shrink spec, for `shrink bench train`.

Usage: torch_train_bench.py SPEC.toml [--batch B ...] [--threads N] [--seconds S] [--steps K]

Builds the spec's network in PyTorch (bench/pytorch_bench.py's `build`, PyTorch's own
initialisation) and times the step `shrink bench train` times: forward, cross-entropy
on the same deterministic inputs and one-hot targets, backward, SGD with momentum 0.9
(lr 0.01), reading the loss back. Three warm-up steps, then steps until S seconds have
passed (at least 5), or exactly K steps with --steps. Prints one JSON object:
{"torch": version, "threads": n, "cases": [{"batch", "steps", "ms_per_step"}]}.

Needs python3 >= 3.11 (tomllib) and torch; nothing else.
"""
import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pytorch_bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--batch", type=int, action="append")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--steps", type=int)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    spec = tomllib.loads(Path(a.spec).read_text())
    shape = list(spec["input"])
    per = 1
    for s in shape:
        per *= s
    cases = []
    for b in a.batch or [64, 256]:
        net = pytorch_bench.build(spec, {}).train()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        # The inputs `shrink bench train` uses: ((i * 2654435761) mod 1000) / 1000.
        x = (torch.arange(b * per, dtype=torch.int64) * 2654435761 % 1000).float() / 1000
        x = x.reshape([b] + shape)
        with torch.no_grad():
            classes = net(x[:1]).shape[1]
        y = torch.arange(b) % classes
        loss_fn = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            return loss.item()

        for _ in range(3):
            step()
        steps = 0
        t0 = time.perf_counter()
        while (steps < a.steps) if a.steps else (steps < 5 or time.perf_counter() - t0 < a.seconds):
            step()
            steps += 1
        dt = time.perf_counter() - t0
        cases.append({"batch": b, "steps": steps, "ms_per_step": 1e3 * dt / steps})
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "cases": cases}))


if __name__ == "__main__":
    main()
