"""Run ONNX models in ONNX Runtime: `python ort_run.py jobs.json`.

jobs.json: a list of {"model": path.onnx, "shape": [batch, ...], "input": [flat f32],
"output": path.json}; each output file gets {"output": [flat f32], "shape": [...]}.
One process for every model (Python and ONNX Runtime start once). Used by
tests/export_ort.rs (needs onnxruntime and numpy; .ci/run installs them).
"""

import json
import sys

import numpy as np
import onnxruntime as ort

with open(sys.argv[1]) as f:
    jobs = json.load(f)
for job in jobs:
    x = np.asarray(job["input"], dtype=np.float32).reshape(job["shape"])
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(job["model"], so, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {sess.get_inputs()[0].name: x})
    with open(job["output"], "w") as f:
        json.dump({"output": y.astype(np.float32).ravel().tolist(), "shape": list(y.shape)}, f)
