"""A sixth family of small sets for issue 11's criterion (dense -> .shrk within 1 point),
written and generated before the fifth session's second change to the small-data step
(the tie budget derived from `max_val_drop` and the test split's size) and run once, at
the end, without being looked at before. Seeds (4101-4112) and shapes that the other
make_*.py scripts do not use: tables of 100-600 rows and 4-30 columns, numeric and
categorical, some noisy, and 8x8 IDX image sets. Usage: python3 make_fresh4.py OUT_DIR
(needs numpy and scikit-learn; run from the repo root, which has data/credit and
data/mnist). Not here: running them (run.sh ... fresh4)."""
import numpy as np, os, sys
from sklearn import datasets

from smallsets import category, credit_subsets, idx_set, rd, write_csv

out = sys.argv[1] if len(sys.argv) > 1 else "small-data-fresh4"
os.makedirs(out, exist_ok=True)

# credit: 180 and 440 random rows (seeds 4101, 4102), 13 columns, 4 of them categorical.
credit_subsets(out, [(180, 4101), (440, 4102)])

# breast cancer: 400 rows, its last 20 columns (seed 4103).
d = datasets.load_breast_cancer()
rng = np.random.default_rng(4103)
pick = rng.choice(len(d.target), 400, replace=False)
write_csv(out, "bc20-400", [f"m{i}" for i in range(10, 30)] + ["diagnosis"],
          [[f"{d.data[i, j]:g}" for j in range(10, 30)] + [d.target_names[d.target[i]]]
           for i in pick])

# noisy 4 classes: 560 rows, 22 numeric + 3 categorical = 25 columns, 10% labels flipped.
X, y = datasets.make_classification(n_samples=560, n_features=25, n_informative=6,
                                    n_redundant=5, n_classes=4, flip_y=0.08,
                                    class_sep=0.8, random_state=4104)
lv = [["a", "b"], ["u", "v", "w", "x"], ["one", "two", "three"]]
write_csv(out, "noisy4-560", [f"c{i}" for i in range(22)] + ["k0", "k1", "k2", "label"],
          [[f"{v:.4f}" for v in x[:22]] + [category(x[22 + j], l) for j, l in enumerate(lv)] +
           [f"class{t}"] for x, t in zip(X, y)])

# circles: 240 rows, 2 numeric + 3 noise numeric = 5 columns.
X, y = datasets.make_circles(n_samples=240, noise=0.15, factor=0.5, random_state=4105)
rng = np.random.default_rng(4105)
write_csv(out, "circles240", ["u", "v", "z0", "z1", "z2", "ring"],
          [[f"{x[0]:.4f}", f"{x[1]:.4f}"] + [f"{rng.normal():.4f}" for _ in range(3)] +
           [["outer", "inner"][t]] for x, t in zip(X, y)])

# overlapping blobs: 300 rows, 5 classes, 9 numeric columns (seed 4106).
X, y = datasets.make_blobs(n_samples=300, n_features=9, centers=5, cluster_std=2.6,
                           random_state=4106)
write_csv(out, "blobs5-300", [f"d{i}" for i in range(9)] + ["cluster"],
          [[f"{v:.3f}" for v in x] + [f"g{t}"] for x, t in zip(X, y)])

# wine: 140 rows, all 13 columns (seed 4107).
d = datasets.load_wine()
pick = np.random.default_rng(4107).choice(len(d.target), 140, replace=False)
write_csv(out, "wine140", [f"v{j}" for j in range(13)] + ["cultivar"],
          [[f"{d.data[i, j]:g}" for j in range(13)] + [d.target_names[d.target[i]]]
           for i in pick])

# categorical, 2 classes: 380 rows, 8 categorical + 1 numeric = 9 columns; the label is a
# noisy logistic rule (seed 4108).
rng = np.random.default_rng(4108)
rows = []
for _ in range(380):
    c = [rng.integers(k) for k in (3, 4, 2, 5, 3, 2, 4, 3)]
    u = rng.normal()
    z = 0.8 * c[0] - 0.6 * (c[1] == 2) + 1.1 * c[2] - 0.3 * c[3] + 0.5 * u - 0.4
    t = int(rng.random() < 1 / (1 + np.exp(-2 * z)))
    rows.append([f"p{c[0]}", ["n", "e", "s", "w"][c[1]], ["no", "yes"][c[2]], f"q{c[3]}",
                 ["lo", "mid", "hi"][c[4]], ["r", "g"][c[5]], f"t{c[6]}", f"s{c[7]}",
                 f"{u:.3f}", ["reject", "accept"][t]])
write_csv(out, "logic380", ["a", "dir", "flag", "q", "level", "tone", "t", "s", "u", "decision"],
          rows)

# iris: 140 rows, its 4 columns plus 2 noise columns (seed 4109).
d = datasets.load_iris()
rng = np.random.default_rng(4109)
pick = rng.choice(len(d.target), 140, replace=False)
write_csv(out, "iris-n140", ["sl", "sw", "pl", "pw", "e0", "e1", "species"],
          [[f"{v:g}" for v in d.data[i]] + [f"{rng.normal():.3f}", f"{rng.normal():.3f}"] +
           [d.target_names[d.target[i]]] for i in pick])

# digits: 550 of the 1 797 (seed 4110).
dg = datasets.load_digits()
pick = np.random.default_rng(4110).choice(len(dg.target), 550, replace=False)
idx_set(out, "digits8-550", np.clip(dg.images[pick] * 16, 0, 255), dg.target[pick], seed=41)

# digits 0-4 only: 240 images (seed 4111).
rng = np.random.default_rng(4111)
ids = np.flatnonzero(dg.target < 5)
keep = rng.choice(ids, 240, replace=False)
idx_set(out, "digits8-lo240", np.clip(dg.images[keep] * 16, 0, 255), dg.target[keep],
        seed=42)

# 500 MNIST training images (30000-30500), centre 24x24 mean-pooled to 8x8 (seed 4112 for
# the split).
im = rd("data/mnist/train-images-idx3-ubyte.gz")[30000:30500, 2:26, 2:26].astype(float)
lb = rd("data/mnist/train-labels-idx1-ubyte.gz")[30000:30500]
im = im.reshape(500, 8, 3, 8, 3).mean(axis=(2, 4))
idx_set(out, "mnist8-mean500", np.clip(im * 1.5, 0, 255), lb, seed=4112)
