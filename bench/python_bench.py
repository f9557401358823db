#!/usr/bin/env python3
"""Python-side latency of a .shrk model: the `shrink` package (crates/shrink-py) on the
compressed file against ONNX Runtime's Python API on the same network exported dense.

Usage: python_bench.py MODEL.shrk [--seconds S] [--rounds R] [--json]

The dense ONNX graph is built here with the `onnx` package from the weights the file
decodes to (`shrink.Model.dense_weights()`) and its spec (`spec_toml()`), with the
spec's input normalisation as its first nodes, so both engines take the same raw input
and compute the same function (checked: largest logit difference printed). Both run in
this process on one thread (ORT: intra- and inter-op threads 1, sequential), at batch 1
and 64, timed per call with time.perf_counter() in R interleaved rounds (so that load
from other processes falls on both alike); the medians of all calls are reported.

Sequential specs of linear, conv2d, max/avg pooling, flatten, dropout and relu layers
(LeNet-300-100, LeNet-5); others are refused. Needs numpy, onnx, onnxruntime, shrink
and Python >= 3.11 (tomllib). Companion of `shrink bench run` (Rust engines) and
bench/pytorch_bench.py.
"""
import argparse
import json
import time
import tomllib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import shrink


def onnx_model(spec, weights):
    """The spec's network as an ONNX graph with the dense weights as initializers."""
    shape = list(spec["input"])
    nodes, inits = [], []
    cur = "x"

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def add(op, inputs, **attrs):
        nonlocal cur
        out = f"t{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        cur = out

    norm = spec.get("normalize")
    if norm:
        # Per channel ([C, H, W]) or per feature ([F]), broadcast over the batch.
        bshape = [len(norm["mean"])] + [1] * (len(shape) - 1)
        add("Sub", [cur, const("norm_mean", np.reshape(norm["mean"], bshape))])
        add("Div", [cur, const("norm_std", np.reshape(norm["std"], bshape))])
    for i, layer in enumerate(spec["layers"]):
        t = layer["type"]
        w = weights.get(f"layers.{i}.weight")
        b = weights.get(f"layers.{i}.bias")
        if t == "linear":
            ins = [cur, const(f"w{i}", w)] + ([const(f"b{i}", b)] if b is not None else [])
            add("Gemm", ins, transB=1)
            shape = [layer["out"]]
        elif t == "conv2d":
            k, s = layer["kernel"], layer.get("stride", 1)
            pad, d = layer.get("padding", 0), layer.get("dilation", 1)
            ins = [cur, const(f"w{i}", w)] + ([const(f"b{i}", b)] if b is not None else [])
            add("Conv", ins, kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4, dilations=[d, d])
            h = (shape[1] + 2 * pad - d * (k - 1) - 1) // s + 1
            ww = (shape[2] + 2 * pad - d * (k - 1) - 1) // s + 1
            shape = [layer["out"], h, ww]
        elif t in ("max_pool2d", "avg_pool2d"):
            k, pad = layer["kernel"], layer.get("padding", 0)
            s = layer.get("stride") or k
            op = "MaxPool" if t == "max_pool2d" else "AveragePool"
            add(op, [cur], kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4)
            shape = [shape[0], (shape[1] + 2 * pad - k) // s + 1, (shape[2] + 2 * pad - k) // s + 1]
        elif t == "flatten":
            add("Flatten", [cur], axis=1)
            shape = [int(np.prod(shape))]
        elif t == "relu":
            add("Relu", [cur])
        elif t == "dropout":
            continue
        else:
            raise SystemExit(f"layer type {t} is not supported by this script")
    graph = helper.make_graph(
        nodes,
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"] + list(spec["input"]))],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, ["n", shape[0]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--seconds", type=float, default=5.0, help="per engine and batch")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    m = shrink.load(a.model, threads=1)
    spec = tomllib.loads(m.spec_toml())
    dense = onnx_model(spec, m.dense_weights())
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(dense.SerializeToString(), so, providers=["CPUExecutionProvider"])

    rng = np.random.default_rng(0)
    check = rng.random((64, *m.input_shape), dtype=np.float32)
    diff = float(np.abs(m.predict(check) - sess.run(None, {"x": check})[0]).max())

    engines = {
        "shrink": lambda x: m.predict(x),
        "onnxruntime": lambda x: sess.run(None, {"x": x}),
    }
    samples = {(e, b): [] for e in engines for b in (1, 64)}
    inputs = {b: rng.random((b, *m.input_shape), dtype=np.float32) for b in (1, 64)}
    for f in engines.values():  # warm-up
        for x in inputs.values():
            for _ in range(20):
                f(x)
    per_round = a.seconds / a.rounds
    for _ in range(a.rounds):
        for (e, b), ts in samples.items():
            f, x = engines[e], inputs[b]
            t_end = time.perf_counter() + per_round
            while time.perf_counter() < t_end:
                t0 = time.perf_counter()
                f(x)
                ts.append(time.perf_counter() - t0)
    result = {
        "model": a.model,
        "name": spec.get("name", ""),
        "file_bytes": m.summary()["file_bytes"],
        "dense_bytes": m.summary()["dense_bytes"],
        "max_logit_diff": diff,
        "onnxruntime": ort.__version__,
        "timings": [
            {
                "engine": e,
                "batch": b,
                "calls": len(ts),
                "median_us": float(np.median(ts) * 1e6),
                "p10_us": float(np.percentile(ts, 10) * 1e6),
                "images_per_second": float(b / np.median(ts)),
            }
            for (e, b), ts in samples.items()
        ],
    }
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{a.model} ({result['name']}): {result['file_bytes']} B .shrk, "
          f"{result['dense_bytes']} B dense; largest logit difference {diff:.2g}")
    print(f"{'engine':<12} {'batch':>5} {'calls':>8} {'median':>10} {'p10':>10} {'images/s':>10}")
    for t in result["timings"]:
        print(f"{t['engine']:<12} {t['batch']:>5} {t['calls']:>8} {t['median_us']:>8.1f}µs "
              f"{t['p10_us']:>8.1f}µs {t['images_per_second']:>10.0f}")
    t = {(r["engine"], r["batch"]): r["median_us"] for r in result["timings"]}
    for b in (1, 64):
        print(f"batch {b}: shrink / onnxruntime median time = {t['shrink', b] / t['onnxruntime', b]:.2f}")


if __name__ == "__main__":
    main()
