"""Train Caffe's LeNet-5 on MNIST in PyTorch, outside shrink, and export it to ONNX.

The end-to-end check of issue 13: a network shrink never saw, trained by someone else's
framework, goes through `shrink import` → `shrink eval` (same predictions as PyTorch) →
`shrink compress`. The net is the zoo's LeNet-5 (conv 20@5×5, max pool, conv 50@5×5,
max pool, 500 ReLU units, 10 outputs), written the way PyTorch users write it: the input
normalisation inside `forward`, `x.view(x.size(0), -1)` before the classifier.

    /root/.cache/torch-venv/bin/python bench/onnx/train_lenet5.py --out runs/onnx-lenet5

Writes OUT/lenet5.onnx and OUT/pytorch.json (test error, every test prediction).
Reads MNIST from data/mnist (IDX, gzip), images scaled to [0, 1] as shrink's loader does.
"""

import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data, split):
    x = idx(os.path.join(data, f"{split}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = idx(os.path.join(data, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x):
        x = (x - 0.1307) / 0.3081
        x = F.max_pool2d(self.conv1(x), 2)
        x = F.max_pool2d(self.conv2(x), 2)
        x = x.view(x.size(0), -1)
        return self.fc2(F.relu(self.fc1(x)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--out", default="runs/onnx-lenet5")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    net = LeNet5()
    opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
    steps = a.epochs * ((len(xtr) + 63) // 64)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for epoch in range(a.epochs):
        t = time.time()
        net.train()
        order = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 64):
            b = order[i : i + 64]
            loss = F.cross_entropy(net(xtr[b]), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(xte[i : i + 1000]).argmax(1) for i in range(0, len(xte), 1000)])
        err = (pred != yte).float().mean().item() * 100
        print(f"epoch {epoch + 1}: test error {err:.2f}% ({time.time() - t:.0f} s)", flush=True)
    onnx_path = os.path.join(a.out, "lenet5.onnx")
    torch.onnx.export(
        net,
        (xte[:1],),
        onnx_path,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        dynamo=False,
    )
    with open(os.path.join(a.out, "pytorch.json"), "w") as f:
        json.dump(
            {
                "test_error_percent": err,
                "errors": int((pred != yte).sum()),
                "examples": len(yte),
                "predictions": pred.tolist(),
            },
            f,
        )
    print(f"wrote {onnx_path}: test error {err:.2f}% ({int((pred != yte).sum())} of {len(yte)})")


if __name__ == "__main__":
    main()
