#!/usr/bin/env python3
"""Dense ONNX Runtime and PyTorch inference timing of a shrink model, for `shrink bench run`.

Usage: ort_run_bench.py DIR [--threads N] [--seconds S]
DIR holds spec.toml, weights.json ([{name, shape, offset}]) and weights.bin (raw
little-endian float32), as `shrink bench run` writes them from a .shrk file's decoded
weights. The network is built in PyTorch (bench/pytorch_bench.py's `build`), with the
spec's input normalisation as its first operation, and exported to ONNX
(torch.onnx.export) for ONNX Runtime's CPU provider (intra- and inter-op threads N,
sequential execution). Both engines get the same deterministic inputs
(((i * 2654435761) mod 1000) / 1000) at batch 1 and 64, timed per call in turn.

Prints one JSON object: {"onnxruntime": E, "pytorch": E}, E = {"version", "batch1":
timing, "batch64": timing} or {"skipped": why}; timing as in pytorch_bench.py.
Needs python3 >= 3.11, torch (and onnx + onnxruntime for the ONNX Runtime side).
"""
import argparse
import json
import os
import sys
import tempfile
import tomllib
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pytorch_bench as pb  # noqa: E402


class Normalized(nn.Module):
    def __init__(self, net, mean, std):
        super().__init__()
        self.net, self.mean, self.std = net, mean, std

    def forward(self, x):
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return self.net(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    d = Path(a.dir)
    spec = tomllib.loads((d / "spec.toml").read_text())
    flat = torch.frombuffer(bytearray((d / "weights.bin").read_bytes()), dtype=torch.float32)
    params = {}
    for e in json.loads((d / "weights.json").read_text()):
        n = 1
        for s in e["shape"]:
            n *= s
        params[e["name"]] = flat[e["offset"]:e["offset"] + n].reshape(e["shape"]).clone()
    shape = list(spec["input"])
    mean = std = None
    norm = spec.get("normalize")
    if norm:
        view = [1, -1] + [1] * (len(shape) - 1)
        mean = torch.tensor(norm["mean"]).reshape(view)
        std = torch.tensor(norm["std"]).reshape(view)
    net = Normalized(pb.build(spec, params), mean, std).eval()
    per = 1
    for s in shape:
        per *= s
    x = (torch.arange(64 * per, dtype=torch.int64) * 2654435761 % 1000).float() / 1000
    x = x.reshape([64] + shape)
    out = {"pytorch": {"version": torch.__version__}}
    session = None
    try:
        import onnxruntime as ort

        with tempfile.TemporaryDirectory() as t:
            p = os.path.join(t, "m.onnx")
            torch.onnx.export(net, x[:1], p, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "b"}, "y": {0: "b"}}, dynamo=False)
            so = ort.SessionOptions()
            so.intra_op_num_threads = a.threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            session = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
        out["onnxruntime"] = {"version": ort.__version__}
    except Exception as e:  # no onnxruntime/onnx, or the export failed: say why
        out["onnxruntime"] = {"skipped": f"{type(e).__name__}: {e}".splitlines()[0]}
    with torch.inference_mode():
        for b in (1, 64):
            xt = x[:b].contiguous()
            out["pytorch"][f"batch{b}"] = pb.timing(lambda: net(xt).numpy(), b, a.seconds)
            if session is not None:
                xn = xt.numpy()
                out["onnxruntime"][f"batch{b}"] = pb.timing(
                    lambda: session.run(None, {"x": xn}), b, a.seconds)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
