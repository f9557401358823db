"""A fifth family of small sets for issue 11's criterion (dense -> .shrk within 1 point),
written and generated before the fifth session's change to the small-data step (the
half-precision / exact last rung and its trigger) and run once, at the end, without being
looked at before. Seeds (3101-3112) and shapes that make.py, make_heldout.py,
make_fresh.py and make_fresh2.py do not use: tables of 100-600 rows and 4-30 columns,
numeric and categorical, some noisy (many rows near the decision boundary, where a
compressed model's small logit changes flip predictions), and 8x8 IDX image sets. Usage:
python3 make_fresh3.py OUT_DIR (needs numpy and scikit-learn; run from the repo root, which
has data/credit and data/mnist). Not here: running them (run.sh ... fresh3)."""
import numpy as np, os, sys
from sklearn import datasets

from smallsets import category, credit_subsets, idx_set, rd, write_csv

out = sys.argv[1] if len(sys.argv) > 1 else "small-data-fresh3"
os.makedirs(out, exist_ok=True)

# credit: 330 and 520 random rows (seeds 3101, 3102), 13 columns, 4 of them categorical.
credit_subsets(out, [(330, 3101), (520, 3102)])

# breast cancer: 300 rows, its first 10 columns (seed 3103).
d = datasets.load_breast_cancer()
rng = np.random.default_rng(3103)
pick = rng.choice(len(d.target), 300, replace=False)
write_csv(out, "bc10-300", [f"m{i}" for i in range(10)] + ["diagnosis"],
          [[f"{d.data[i, j]:g}" for j in range(10)] + [d.target_names[d.target[i]]]
           for i in pick])

# noisy 3 classes: 450 rows, 22 numeric + 3 categorical = 25 columns, 10% labels flipped.
X, y = datasets.make_classification(n_samples=450, n_features=25, n_informative=8,
                                    n_redundant=5, n_classes=3, flip_y=0.10,
                                    class_sep=0.7, random_state=3104)
lv = [["a", "b"], ["u", "v", "w", "x"], ["one", "two", "three"]]
write_csv(out, "noisy3-450", [f"c{i}" for i in range(22)] + ["k0", "k1", "k2", "label"],
          [[f"{v:.4f}" for v in x[:22]] + [category(x[22 + j], l) for j, l in enumerate(lv)] +
           [f"class{t}"] for x, t in zip(X, y)])

# circles: 200 rows, 2 numeric + 3 noise numeric = 5 columns.
X, y = datasets.make_circles(n_samples=200, noise=0.12, factor=0.55, random_state=3105)
rng = np.random.default_rng(3105)
write_csv(out, "circles200", ["x", "y", "z0", "z1", "z2", "ring"],
          [[f"{x[0]:.4f}", f"{x[1]:.4f}"] + [f"{rng.normal():.4f}" for _ in range(3)] +
           [["outer", "inner"][t]] for x, t in zip(X, y)])

# overlapping blobs: 350 rows, 6 classes, 7 numeric columns (seed 3106).
X, y = datasets.make_blobs(n_samples=350, n_features=7, centers=6, cluster_std=2.2,
                           random_state=3106)
write_csv(out, "blobs6-350", [f"d{i}" for i in range(7)] + ["cluster"],
          [[f"{v:.3f}" for v in x] + [f"g{t}"] for x, t in zip(X, y)])

# wine: 160 rows, all 13 columns (seed 3107).
d = datasets.load_wine()
pick = np.random.default_rng(3107).choice(len(d.target), 160, replace=False)
write_csv(out, "wine160", [f"v{j}" for j in range(13)] + ["cultivar"],
          [[f"{d.data[i, j]:g}" for j in range(13)] + [d.target_names[d.target[i]]]
           for i in pick])

# categorical, 2 classes: 500 rows, 8 categorical + 1 numeric = 9 columns; the label is a
# noisy logistic rule (seed 3108).
rng = np.random.default_rng(3108)
rows = []
for _ in range(500):
    c = [rng.integers(k) for k in (3, 4, 2, 5, 3, 2, 4, 3)]
    u = rng.normal()
    z = 0.8 * c[0] - 0.6 * (c[1] == 2) + 1.1 * c[2] - 0.3 * c[3] + 0.5 * u - 0.4
    t = int(rng.random() < 1 / (1 + np.exp(-2 * z)))
    rows.append([f"p{c[0]}", ["n", "e", "s", "w"][c[1]], ["no", "yes"][c[2]], f"q{c[3]}",
                 ["lo", "mid", "hi"][c[4]], ["r", "g"][c[5]], f"t{c[6]}", f"s{c[7]}",
                 f"{u:.3f}", ["reject", "accept"][t]])
write_csv(out, "logic500", ["a", "dir", "flag", "q", "level", "tone", "t", "s", "u", "decision"],
          rows)

# iris: 120 rows, its 4 columns plus 2 noise columns (seed 3109).
d = datasets.load_iris()
rng = np.random.default_rng(3109)
pick = rng.choice(len(d.target), 120, replace=False)
write_csv(out, "iris-n120", ["sl", "sw", "pl", "pw", "e0", "e1", "species"],
          [[f"{v:g}" for v in d.data[i]] + [f"{rng.normal():.3f}", f"{rng.normal():.3f}"] +
           [d.target_names[d.target[i]]] for i in pick])

# digits: 400 of the 1 797 (seed 3110).
dg = datasets.load_digits()
pick = np.random.default_rng(3110).choice(len(dg.target), 400, replace=False)
idx_set(out, "digits8-400", np.clip(dg.images[pick] * 16, 0, 255), dg.target[pick], seed=31)

# digits 5-9 only: 300 images (seed 3111).
rng = np.random.default_rng(3111)
ids = np.flatnonzero(dg.target >= 5)
keep = rng.choice(ids, 300, replace=False)
idx_set(out, "digits8-hi300", np.clip(dg.images[keep] * 16, 0, 255), dg.target[keep],
        seed=32)

# 400 MNIST training images (50000-50400), centre 24x24 max-pooled to 8x8 (seed 3112 for
# the split).
im = rd("data/mnist/train-images-idx3-ubyte.gz")[50000:50400, 2:26, 2:26].astype(float)
lb = rd("data/mnist/train-labels-idx1-ubyte.gz")[50000:50400]
im = im.reshape(400, 8, 3, 8, 3).max(axis=(2, 4))
idx_set(out, "mnist8-max400", np.clip(im, 0, 255), lb, seed=3112)
