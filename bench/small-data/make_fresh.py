"""A third family of small sets for issue 11's criterion (dense -> .shrk within 1 point),
made with seeds and shapes that neither make.py nor make_heldout.py use, written after the
small-data defaults (`[compress.small_data]`) were chosen and run once, at the end, without
being looked at before. Tables of 110-480 rows and 4-28 columns (numeric and categorical),
and 8x8 IDX image sets. Usage: python3 make_fresh.py OUT_DIR (needs numpy and
scikit-learn; run from the repo root, which has data/credit and data/mnist)."""
import numpy as np, os, sys
from sklearn import datasets

from smallsets import category, credit_subsets, idx_set, rd, write_csv

out = sys.argv[1] if len(sys.argv) > 1 else "small-data-fresh"
os.makedirs(out, exist_ok=True)


# credit: 140 and 480 random rows (seeds 1701, 1702), 13 columns, 4 of them categorical.
credit_subsets(out, [(140, 1701), (480, 1702)])

# breast cancer: 200 rows, 12 of the 30 columns (seed 1703).
d = datasets.load_breast_cancer()
rng = np.random.default_rng(1703)
pick = rng.choice(len(d.target), 200, replace=False)
cols = np.sort(rng.choice(30, 12, replace=False))
write_csv(out, "bc12-200", [f"f{i}" for i in cols] + ["diagnosis"],
          [[f"{d.data[i, j]:g}" for j in cols] + [d.target_names[d.target[i]]] for i in pick])

# blobs: 5 overlapping classes, 420 rows, 7 numeric + 2 categorical (one from a feature,
# one pure noise) = 9 columns.
X, y = datasets.make_blobs(n_samples=420, centers=5, n_features=8, cluster_std=3.0,
                           random_state=1704)
rng = np.random.default_rng(1704)
rows = []
for x, t in zip(X, y):
    rows.append([f"{v:.3f}" for v in x[:7]] + [category(x[7], ["s", "m", "l"], -10, 10),
                                                ["q", "r", "s", "t"][rng.integers(4)],
                                                f"b{t}"])
write_csv(out, "blobs420", [f"v{i}" for i in range(7)] + ["size", "tag", "class"], rows)

# classification: 3 classes, 300 rows, 24 numeric + 4 categorical = 28 columns.
X, y = datasets.make_classification(n_samples=300, n_features=28, n_informative=10,
                                    n_redundant=6, n_classes=3, n_clusters_per_class=2,
                                    flip_y=0.05, random_state=1705)
levels = [["a", "b"], ["c", "d", "e"], ["f", "g", "h", "i"], ["j", "k", "l", "m", "n"]]
rows = []
for x, t in zip(X, y):
    rows.append([f"{v:.4f}" for v in x[:24]] + [category(x[24 + j], lv) for j, lv in
                                                 enumerate(levels)] + [f"c{t}"])
write_csv(out, "class300", [f"x{i}" for i in range(24)] + ["k0", "k1", "k2", "k3", "y"], rows)

# circles: 2 classes, 110 rows, 2 numeric + 1 noise numeric + 1 noise category = 4 columns.
X, y = datasets.make_circles(n_samples=110, noise=0.12, factor=0.5, random_state=1706)
rng = np.random.default_rng(1706)
write_csv(out, "circles110", ["u", "v", "noise", "shade", "ring"],
          [[f"{x[0]:.4f}", f"{x[1]:.4f}", f"{rng.normal():.4f}",
            ["dark", "light"][rng.integers(2)], ["inner", "outer"][1 - t]]
           for x, t in zip(X, y)])

# wine: 178 rows, 5 of its 13 columns turned into 4-level categories (seed 1707).
d = datasets.load_wine()
rng = np.random.default_rng(1707)
cat_cols = set(rng.choice(13, 5, replace=False).tolist())
rows = []
for x, t in zip(d.data, d.target):
    r = []
    for j in range(13):
        if j in cat_cols:
            q = np.quantile(d.data[:, j], [0.25, 0.5, 0.75])
            r.append(["q1", "q2", "q3", "q4"][int(np.searchsorted(q, x[j]))])
        else:
            r.append(f"{x[j]:g}")
    rows.append(r + [d.target_names[t]])
write_csv(out, "wine5cat", [f"c{j}" if j in cat_cols else f"n{j}" for j in range(13)] + ["cultivar"],
          rows)

# iris with 3 noise columns and a noise category: 150 rows, 8 columns (seed 1708).
d = datasets.load_iris()
rng = np.random.default_rng(1708)
write_csv(out, "iris-noisy", [f"m{i}" for i in range(4)] + ["z0", "z1", "z2", "lot", "species"],
          [[f"{v:g}" for v in x] + [f"{rng.normal(0, 2):.3f}" for _ in range(3)] +
           [["A", "B", "C"][rng.integers(3)], d.target_names[t]]
           for x, t in zip(d.data, d.target)])


# digits: 350 of the 1 797 (seed 1709).
dg = datasets.load_digits()
pick = np.random.default_rng(1709).choice(len(dg.target), 350, replace=False)
idx_set(out, "digits8-350", np.clip(dg.images[pick] * 16, 0, 255), dg.target[pick], seed=17)


# 450 MNIST training images from the middle of the set, centre 24x24 max-pooled to 8x8.
im = rd("data/mnist/train-images-idx3-ubyte.gz")[30000:30450, 2:26, 2:26].astype(float)
lb = rd("data/mnist/train-labels-idx1-ubyte.gz")[30000:30450]
im = im.reshape(450, 8, 3, 8, 3).max(axis=(2, 4))
idx_set(out, "mnist8-max450", im, lb, seed=18)

# 250 MNIST test images (8000-8250), mean-pooled 28 -> 7 then padded to 8x8.
im = rd("data/mnist/t10k-images-idx3-ubyte.gz")[8000:8250].astype(float)
lb = rd("data/mnist/t10k-labels-idx1-ubyte.gz")[8000:8250]
im = im.reshape(250, 7, 4, 7, 4).mean(axis=(2, 4))
im = np.pad(im, ((0, 0), (0, 1), (0, 1)))
idx_set(out, "mnist8-t250", np.clip(im * 2, 0, 255), lb, seed=19)
