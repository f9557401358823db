"""Held-out small sets for issue 11's criterion (dense -> .shrk within 1 point): made with
other seeds and other generators than make.py, and not looked at while the compress
defaults were chosen. Tables of 150-600 rows and 4-30 columns (numeric and categorical),
8x8 IDX image sets. Usage: python3 make_heldout.py OUT_DIR (needs numpy and
scikit-learn; run from the repo root, which has data/credit and data/mnist)."""
import numpy as np, os, sys
from sklearn import datasets

from smallsets import credit_subsets, idx_set, rd, write_csv

out = sys.argv[1] if len(sys.argv) > 1 else "small-data-heldout"
os.makedirs(out, exist_ok=True)


# credit: 250 and 550 other random rows (other seeds than make.py's 400).
credit_subsets(out, [(250, 101), (550, 202)])

# breast cancer: 350 random rows of the 569, 30 numeric columns.
d = datasets.load_breast_cancer()
rng = np.random.default_rng(303)
pick = rng.choice(len(d.target), 350, replace=False)
write_csv(out, "bc350", [f"f{i}" for i in range(30)] + ["diagnosis"],
          [[f"{v:g}" for v in d.data[i]] + [d.target_names[d.target[i]]] for i in pick])

# wine with its columns shuffled and 2 of them turned into 3-level categories.
d = datasets.load_wine()
rng = np.random.default_rng(404)
perm = rng.permutation(d.data.shape[1])
X = d.data[:, perm]
lv = np.array(["lo", "mid", "hi"])
rows = []
for x, t in zip(X, d.target):
    q = [lv[int(np.searchsorted(np.quantile(X[:, j], [1 / 3, 2 / 3]), x[j]))] for j in (0, 1)]
    rows.append(q + [f"{v:g}" for v in x[2:]] + [d.target_names[t]])
write_csv(out, "wine-cat", ["c0", "c1"] + [f"n{i}" for i in range(X.shape[1] - 2)] + ["cultivar"], rows)

# synthetic: 4 classes, 500 rows, 16 numeric + 4 categorical columns (20 in all).
X, y = datasets.make_classification(n_samples=500, n_features=20, n_informative=8, n_redundant=4,
                                    n_classes=4, n_clusters_per_class=2, flip_y=0.03, random_state=57)
cats = [np.array(["a", "b", "c", "d"]), np.array(["x", "y"]), np.array(["p", "q", "r"]),
        np.array(["u", "v", "w", "z", "t"])]
rows = []
for x, t in zip(X, y):
    r = [f"{v:.4f}" for v in x[:16]]
    for j, c in enumerate(cats):
        r.append(c[min(len(c) - 1, int((x[16 + j] + 2.5) / 5 * len(c)) if x[16 + j] > -2.5 else 0)])
    rows.append(r + [f"k{t}"])
write_csv(out, "synth500", [f"x{i}" for i in range(16)] + ["g0", "g1", "g2", "g3", "class"], rows)

# two moons with noise columns and a category: 2 classes, 200 rows, 5 columns.
X, y = datasets.make_moons(n_samples=200, noise=0.25, random_state=8)
rng = np.random.default_rng(8)
rows = []
for x, t in zip(X, y):
    rows.append([f"{x[0]:.4f}", f"{x[1]:.4f}", f"{rng.normal():.4f}", f"{rng.normal():.4f}",
                 ["red", "green", "blue"][rng.integers(3)], ["no", "yes"][t]])
write_csv(out, "moons200", ["a", "b", "noise1", "noise2", "colour", "label"], rows)


# digits: 600 of the 1 797, another split seed than make.py's.
dg = datasets.load_digits()
pick = np.random.default_rng(505).choice(len(dg.target), 600, replace=False)
idx_set(out, "digits8-600", np.clip(dg.images[pick] * 16, 0, 255), dg.target[pick], seed=5)


# 500 MNIST test images (make.py uses the first 600 training images), pooled to 8x8.
im = rd("data/mnist/t10k-images-idx3-ubyte.gz")[5000:5500].astype(float)
lb = rd("data/mnist/t10k-labels-idx1-ubyte.gz")[5000:5500]
im = np.pad(im, ((0, 0), (2, 2), (2, 2))).reshape(500, 8, 4, 8, 4).mean(axis=(2, 4))
idx_set(out, "mnist8-t500", np.clip(im * 1.5, 0, 255), lb, seed=6)
