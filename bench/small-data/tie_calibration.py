"""Is the small-data guard's estimate of unseen rows flipped at ties
(`fidelity::tie_flip_rate`) calibrated? For each run of `run.sh` whose stderr was kept
(OUT/NAME.err, a run without --quiet) and whose weight sharing was judged (the line
"weight sharing: ... unseen rows flipped at ties ~X%"), count the rows whose class differs
between the dense model (OUT/NAME/base) and the `.shrk` (OUT/NAME/model.shrk), and add up
the estimate times the rows compared. IDX sets are compared on their test images
(t10k-images-idx3-ubyte: true test rows); CSV sets on every row of the file (training rows
too, which the dense model is surer of: fewer flips than unseen rows).

Usage: python3 tie_calibration.py SHRINK OUT SETS (OUT: a run.sh output directory, SETS
its data directory). BENCHMARKS.md "Ties on unseen rows" ran it on runs made with
`--quality 0 --retrain-epochs 0 --fc-bits 8` and the guard's budgets opened, so that
each `.shrk` is 8-bit sharing of the dense model and nothing else."""
import glob
import json
import os
import re
import subprocess
import sys

shrink, out, sets = sys.argv[1:4]
SPECS = ["lenet-300-100", "mlp-bn", "shallow-800"]


def logits(model, inp):
    r = subprocess.run([shrink, "run", model, inp, "--json", "--top-k", "1", "--logits"],
                       capture_output=True, text=True, check=True)
    return [p["logits"] for p in json.loads(r.stdout)["predictions"]]


def top(row):
    return max(range(len(row)), key=lambda i: row[i])


totals = {"idx": [0, 0.0, 0], "csv": [0, 0.0, 0]}
for err in sorted(glob.glob(f"{out}/*.err")):
    run = err[:-4]
    name = os.path.basename(run)
    found = re.findall(r"weight sharing: .*?unseen rows flipped at ties ~([0-9.]+)%",
                       open(err).read())
    if not found or not os.path.exists(f"{run}/model.shrk"):
        continue
    rate = float(found[-1]) / 100
    set_name = next(name[len(s) + 1:] for s in SPECS if name.startswith(s + "-"))
    path = f"{sets}/{set_name}"
    kind, inp = ("idx", f"{path}/t10k-images-idx3-ubyte") if os.path.isdir(path) \
        else ("csv", f"{path}.csv")
    a, b = logits(f"{run}/base", inp), logits(f"{run}/model.shrk", inp)
    flips = sum(top(x) != top(y) for x, y in zip(a, b))
    t = totals[kind]
    t[0] += flips
    t[1] += rate * len(a)
    t[2] += len(a)
    print(f"{name}: estimate {rate:.2e}, {len(a)} rows, predicted {rate * len(a):.3f}, observed {flips}")
for kind, (flips, predicted, rows) in totals.items():
    print(f"{kind}: {rows} rows, predicted {predicted:.1f} flips, observed {flips}")
