"""Compare shrink's predictions with PyTorch's, image by image (bench/onnx/train_lenet5.py).

    shrink run MODEL data/mnist/t10k-images-idx3-ubyte.gz --json --top-k 1 > OUT/run.json
    shrink eval MODEL --data mnist --json > OUT/eval.json
    python bench/onnx/same_predictions.py OUT/pytorch.json OUT/run.json OUT/eval.json

Exits non-zero unless every one of the 10 000 test images gets the same class from
PyTorch and from `shrink run`, and `shrink eval`'s test error equals PyTorch's.
"""

import gzip
import json
import sys

import numpy as np

torch_run = json.load(open(sys.argv[1]))
shrink_run = json.load(open(sys.argv[2]))
shrink_eval = json.load(open(sys.argv[3]))
with gzip.open("data/mnist/t10k-labels-idx1-ubyte.gz", "rb") as f:
    labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
torch_pred = np.asarray(torch_run["predictions"])
rows = sorted(shrink_run["predictions"], key=lambda p: p["example"])
shrink_pred = np.asarray([p["top"][0]["index"] for p in rows])
if len(shrink_pred) != len(labels) or len(torch_pred) != len(labels):
    sys.exit(f"expected {len(labels)} predictions, got PyTorch {len(torch_pred)}, shrink {len(shrink_pred)}")
differ = np.flatnonzero(torch_pred != shrink_pred)
torch_errors = int((torch_pred != labels).sum())
run_errors = int((shrink_pred != labels).sum())
eval_errors = round(shrink_eval["test_error"] * shrink_eval["n"])
print(f"PyTorch: {torch_errors} errors of {len(labels)}; shrink run: {run_errors}; shrink eval: {eval_errors} of {shrink_eval['n']}")
print(f"images where PyTorch and shrink predict different classes: {len(differ)}"
      + (f" (first: {differ[:10].tolist()})" if len(differ) else ""))
same = len(differ) == 0 and torch_errors == eval_errors
print("same predictions on every test image, same test error" if same else "DIFFERENT")
sys.exit(0 if same else 1)
