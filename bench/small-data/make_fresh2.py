"""A fourth family of small sets for issue 11's criterion (dense -> .shrk within 1 point),
written and generated before the third session's changes to the small-data step and run
once, at the end, without being looked at before. Seeds (2101-2111) and shapes that
make.py, make_heldout.py and make_fresh.py do not use: tables of 100-600 rows and 4-30
columns, numeric and categorical, several with class imbalance (80/20, 50/25/15/10), and
8x8 IDX image sets (digits, imbalanced digits, pooled MNIST). Usage: python3
make_fresh2.py OUT_DIR (needs numpy and scikit-learn; run from the repo root, which has
data/credit and data/mnist). Not here: running them (run.sh ... fresh2)."""
import numpy as np, os, sys
from sklearn import datasets

from smallsets import category, credit_subsets, idx_set, rd, write_csv

out = sys.argv[1] if len(sys.argv) > 1 else "small-data-fresh2"
os.makedirs(out, exist_ok=True)


# credit: 260 and 600 random rows (seeds 2101, 2102), 13 columns, 4 of them categorical;
# about 72/28 good/bad.
credit_subsets(out, [(260, 2101), (600, 2102)])

# breast cancer: 550 rows, all 30 columns (seed 2103), about 63/37.
d = datasets.load_breast_cancer()
rng = np.random.default_rng(2103)
pick = rng.choice(len(d.target), 550, replace=False)
write_csv(out, "bc30-550", [f"f{i}" for i in range(30)] + ["diagnosis"],
          [[f"{d.data[i, j]:g}" for j in range(30)] + [d.target_names[d.target[i]]]
           for i in pick])

# imbalanced binary: 380 rows, 80/20, 16 numeric + 3 categorical = 19 columns.
X, y = datasets.make_classification(n_samples=380, n_features=19, n_informative=7,
                                    n_redundant=4, n_classes=2, weights=[0.8, 0.2],
                                    flip_y=0.03, class_sep=0.9, random_state=2104)
lv = [["lo", "hi"], ["x", "y", "z"], ["p", "q", "r", "s", "t"]]
write_csv(out, "imb380", [f"a{i}" for i in range(16)] + ["g0", "g1", "g2", "label"],
          [[f"{v:.4f}" for v in x[:16]] + [category(x[16 + j], l) for j, l in enumerate(lv)] +
           [["neg", "pos"][t]] for x, t in zip(X, y)])

# imbalanced 4 classes: 520 rows, 50/25/15/10, 10 numeric + 2 categorical = 12 columns.
X, y = datasets.make_classification(n_samples=520, n_features=12, n_informative=6,
                                    n_redundant=2, n_classes=4, n_clusters_per_class=1,
                                    weights=[0.5, 0.25, 0.15, 0.1], flip_y=0.02,
                                    random_state=2105)
write_csv(out, "imb4-520", [f"b{i}" for i in range(10)] + ["colour", "size", "kind"],
          [[f"{v:.3f}" for v in x[:10]] +
           [category(x[10], ["red", "green", "blue"]), category(x[11], ["S", "M", "L", "XL"])] +
           [f"k{t}"] for x, t in zip(X, y)])

# moons: 160 rows, 2 numeric + 2 noise numeric + 1 noise category = 5 columns.
X, y = datasets.make_moons(n_samples=160, noise=0.25, random_state=2106)
rng = np.random.default_rng(2106)
write_csv(out, "moons160", ["p", "q", "n0", "n1", "batch", "moon"],
          [[f"{x[0]:.4f}", f"{x[1]:.4f}", f"{rng.normal():.4f}", f"{rng.uniform(-3, 3):.4f}",
            ["b1", "b2", "b3"][rng.integers(3)], ["upper", "lower"][t]] for x, t in zip(X, y)])

# wine, imbalanced: 125 rows (all of class 0 and 1 would be 130; class 2 cut to 12 rows and
# class 1 to 54), all 13 columns (seed 2107).
d = datasets.load_wine()
rng = np.random.default_rng(2107)
keep = []
for c, n in [(0, 59), (1, 54), (2, 12)]:
    ids = np.flatnonzero(d.target == c)
    keep += rng.choice(ids, n, replace=False).tolist()
keep = rng.permutation(keep)
write_csv(out, "wine-imb125", [f"w{j}" for j in range(13)] + ["cultivar"],
          [[f"{d.data[i, j]:g}" for j in range(13)] + [d.target_names[d.target[i]]]
           for i in keep])

# mostly categorical: 240 rows, 6 categorical + 2 numeric = 8 columns; the label is a rule
# on four of them with 8% of labels flipped (seed 2108), 3 classes.
rng = np.random.default_rng(2108)
rows = []
for _ in range(240):
    a, b, c = rng.integers(3), rng.integers(4), rng.integers(2)
    e, f = rng.integers(5), rng.integers(3)
    u, v = rng.normal(), rng.normal()
    score = a + (b >= 2) + 2 * c + (u > 0.3)
    t = 0 if score <= 1 else (1 if score <= 3 else 2)
    if rng.random() < 0.08:
        t = rng.integers(3)
    rows.append([["low", "med", "high"][a], ["n", "e", "s", "w"][b], ["no", "yes"][c],
                 f"e{e}", ["A", "B", "C"][f], ["r", "g"][rng.integers(2)],
                 f"{u:.3f}", f"{v:.3f}", ["unacc", "acc", "good"][t]])
write_csv(out, "rules240", ["buying", "dir", "flag", "grade", "cls", "tone", "u", "v", "eval"],
          rows)

# iris, imbalanced: 100 rows (50 / 32 / 18), its 4 columns (seed 2109).
d = datasets.load_iris()
rng = np.random.default_rng(2109)
keep = []
for c, n in [(0, 50), (1, 32), (2, 18)]:
    keep += rng.choice(np.flatnonzero(d.target == c), n, replace=False).tolist()
keep = rng.permutation(keep)
write_csv(out, "iris-imb100", ["sl", "sw", "pl", "pw", "species"],
          [[f"{v:g}" for v in d.data[i]] + [d.target_names[d.target[i]]] for i in keep])

# digits: 500 of the 1 797 (seed 2110).
dg = datasets.load_digits()
pick = np.random.default_rng(2110).choice(len(dg.target), 500, replace=False)
idx_set(out, "digits8-500", np.clip(dg.images[pick] * 16, 0, 255), dg.target[pick], seed=21)

# digits 0-4, imbalanced (90/70/50/30/20 = 260 images; seed 2111).
rng = np.random.default_rng(2111)
keep = []
for c, n in enumerate([90, 70, 50, 30, 20]):
    keep += rng.choice(np.flatnonzero(dg.target == c), n, replace=False).tolist()
keep = np.array(rng.permutation(keep))
idx_set(out, "digits8-imb260", np.clip(dg.images[keep] * 16, 0, 255), dg.target[keep],
        seed=22)

# 600 MNIST training images (45000-45600), centre 24x24 mean-pooled to 8x8.
im = rd("data/mnist/train-images-idx3-ubyte.gz")[45000:45600, 2:26, 2:26].astype(float)
lb = rd("data/mnist/train-labels-idx1-ubyte.gz")[45000:45600]
im = im.reshape(600, 8, 3, 8, 3).mean(axis=(2, 4))
idx_set(out, "mnist8-mean600", np.clip(im * 1.5, 0, 255), lb, seed=23)
