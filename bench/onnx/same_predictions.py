"""Compare `shrink eval --json` with PyTorch's predictions (bench/onnx/train_lenet5.py).

    python bench/onnx/same_predictions.py OUT/pytorch.json OUT/eval.json

Exits non-zero unless the test error and every class's accuracy are equal.
"""

import gzip
import json
import sys

import numpy as np

torch_run = json.load(open(sys.argv[1]))
shrink_run = json.load(open(sys.argv[2]))
with gzip.open("data/mnist/t10k-labels-idx1-ubyte.gz", "rb") as f:
    labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
pred = np.asarray(torch_run["predictions"])
per_class = [float((pred[labels == c] == c).mean()) for c in range(10)]
errors = int((pred != labels).sum())
shrink_errors = round(shrink_run["test_error"] * shrink_run["n"])
print(f"PyTorch: {errors} errors of {len(labels)}; shrink eval: {shrink_errors} of {shrink_run['n']}")
same = errors == shrink_errors and per_class == shrink_run["per_class_accuracy"]
print("same test error and per-class accuracies" if same else "DIFFERENT")
sys.exit(0 if same else 1)
