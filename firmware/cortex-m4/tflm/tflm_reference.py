#!/usr/bin/env python3
"""TensorFlow Lite Micro's figures for the networks the Cortex-M4 firmware runs.

Builds LeNet-5 and LeNet-300-100 (the layer lists of zoo/lenet-5.toml and
zoo/lenet-300-100.toml) in Keras, converts each to a fully int8-quantized .tflite
(weights and activations int8, calibrated on 200 MNIST training images: what TFLite
Micro users deploy), and reports:

* model bytes: the .tflite flatbuffer, which TFLite Micro keeps in flash as is;
* tensor arena bytes: the smallest arena with which TFLite Micro's own interpreter (the
  `tflite-micro` PyPI package) allocates the model and runs one inference, found by
  bisection, with the interpreter's allocation report beside it.

Weights are Keras' random initialisation: a dense int8 model's size and arena do not
depend on the weight values. The arena is measured by the x86-64 build of TFLite Micro
in the PyPI package; its persistent part holds pointers, so a 32-bit Cortex-M needs a
little less. Not run by CI (TensorFlow is a large download):

    python3 -m venv /tmp/tflm && /tmp/tflm/bin/pip install tensorflow-cpu tflite-micro
    /tmp/tflm/bin/python firmware/cortex-m4/tflm/tflm_reference.py [--out DIR]
"""

import argparse
import gzip
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def mnist_images(n):
    with gzip.open(ROOT / "data/mnist/train-images-idx3-ubyte.gz") as f:
        raw = f.read()
    import numpy as np

    assert raw[:4] == b"\x00\x00\x08\x03", "not an IDX image file"
    x = np.frombuffer(raw[16 : 16 + n * 784], dtype=np.uint8)
    return (x.reshape(n, 28, 28, 1).astype("float32")) / 255.0


def lenet5(tf):
    # zoo/lenet-5.toml: conv 20@5x5, max pool 2, conv 50@5x5, max pool 2, fc 500, relu, fc 10.
    return tf.keras.Sequential(
        [
            tf.keras.Input((28, 28, 1)),
            tf.keras.layers.Conv2D(20, 5),
            tf.keras.layers.MaxPooling2D(2),
            tf.keras.layers.Conv2D(50, 5),
            tf.keras.layers.MaxPooling2D(2),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(500, activation="relu"),
            tf.keras.layers.Dense(10),
        ]
    )


def lenet300(tf):
    # zoo/lenet-300-100.toml: fc 300, relu, fc 100, relu, fc 10.
    return tf.keras.Sequential(
        [
            tf.keras.Input((28, 28, 1)),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(300, activation="relu"),
            tf.keras.layers.Dense(100, activation="relu"),
            tf.keras.layers.Dense(10),
        ]
    )


def to_int8(tf, model, images):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([images[i : i + 1]] for i in range(len(images)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


# Allocate the model in an arena of argv[2] bytes and run one inference; with a third
# argument, print TFLite Micro's allocation report.
RUN = (
    "import sys, numpy as np\n"
    "from tflite_micro.python.tflite_micro import runtime\n"
    "m = open(sys.argv[1], 'rb').read()\n"
    "it = runtime.Interpreter.from_bytes(m, arena_size=int(sys.argv[2]))\n"
    "it.set_input(np.zeros(it.get_input_details(0)['shape'], np.int8), 0)\n"
    "it.invoke()\n"
    "if len(sys.argv) > 3: it.print_allocations()\n"
)


def runs(path, arena, report=False):
    """TFLite Micro on the model in `arena` bytes, in a child process (a failed
    allocation may abort it)."""
    argv = [sys.executable, "-c", RUN, str(path), str(arena)] + (["report"] if report else [])
    return subprocess.run(argv, capture_output=True, text=True)


def min_arena(path):
    lo, hi = 0, 1 << 20
    assert runs(path, hi).returncode == 0, runs(path, hi).stderr[-2000:]
    while hi - lo > 16:
        mid = (lo + hi) // 2
        if runs(path, mid).returncode == 0:
            hi = mid
        else:
            lo = mid
    return hi


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/tflm-reference", help="where the .tflite files go")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = mnist_images(200)
    print(f"TensorFlow {tf.__version__}")
    for name, build in [("LeNet-5", lenet5), ("LeNet-300-100", lenet300)]:
        model = build(tf)
        params = model.count_params()
        flat = to_int8(tf, model, images)
        path = out / f"{name.lower()}-int8.tflite"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(flat)
        tmp.replace(path)
        arena = min_arena(path)
        report = runs(path, arena, report=True)
        report = report.stdout + report.stderr
        print(f"{name}: {params} parameters, int8 .tflite {len(flat)} bytes, tensor arena {arena} bytes (smallest that runs, to 16 bytes)")
        for line in report.splitlines():
            if "rena" in line or "ytes" in line:
                print("    " + line.strip())


if __name__ == "__main__":
    main()
