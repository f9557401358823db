"""Small validation sets for `shrink compress` with zoo specs (issue 11): scikit-learn's
bundled iris, wine and breast_cancer as CSV, 400 rows of data/credit/credit.csv, a mixed
numeric/categorical synthetic table, digits as 8x8 IDX, and 600 MNIST digits pooled to
8x8. Usage: python3 make.py OUT_DIR (needs numpy and scikit-learn; run from the repo)."""
import numpy as np, gzip, struct, os, csv, sys
from sklearn import datasets
out = sys.argv[1] if len(sys.argv) > 1 else "small-data"
os.makedirs(out, exist_ok=True)
def write_csv(name, header, rows):
    with open(f"{out}/{name}.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(header); w.writerows(rows)
for name, loader in [("iris", datasets.load_iris), ("wine", datasets.load_wine), ("bc", datasets.load_breast_cancer)]:
    d = loader()
    header = [f"f{i}" for i in range(d.data.shape[1])] + ["label"]
    names = list(d.target_names)
    rows = [list(map(lambda v: f"{v:g}", x)) + [names[y]] for x, y in zip(d.data, d.target)]
    write_csv(name, header, rows)
# credit: 400 random rows
rng = np.random.default_rng(7)
with open("data/credit/credit.csv") as f:
    lines = f.read().splitlines()
idx = rng.choice(len(lines) - 1, 400, replace=False) + 1
with open(f"{out}/credit400.csv", "w") as f:
    f.write(lines[0] + "\n"); f.write("\n".join(lines[i] for i in sorted(idx)) + "\n")
# synthetic mixed numeric/categorical, 300 rows, 3 classes
X, y = datasets.make_classification(n_samples=300, n_features=8, n_informative=5, n_redundant=1, n_classes=3, random_state=11)
lv = np.array(["low", "mid", "high"])
rows = []
for x, t in zip(X, y):
    r = [f"{v:.4f}" for v in x[:5]] + [lv[np.digitize(v, [-0.5, 0.5])] for v in x[5:]] + [f"c{t}"]
    rows.append(r)
write_csv("mixed300", [f"n{i}" for i in range(5)] + ["cat5", "cat6", "cat7", "class"], rows)
# digits as 8x8 IDX
def idx_write(path, arr, dtype_code=8):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, dtype_code, arr.ndim]))
        for d in arr.shape: f.write(struct.pack(">I", d))
        f.write(arr.astype(np.uint8).tobytes())
def idx_set(name, imgs, labels, test_frac=0.2, seed=0):
    d = f"{out}/{name}"; os.makedirs(d, exist_ok=True)
    r = np.random.default_rng(seed); p = r.permutation(len(imgs)); nt = int(len(imgs) * test_frac)
    te, tr = p[:nt], p[nt:]
    idx_write(f"{d}/train-images-idx3-ubyte", imgs[tr]); idx_write(f"{d}/train-labels-idx1-ubyte", labels[tr])
    idx_write(f"{d}/t10k-images-idx3-ubyte", imgs[te]); idx_write(f"{d}/t10k-labels-idx1-ubyte", labels[te])
dg = datasets.load_digits()
idx_set("digits8", np.clip(dg.images * 16, 0, 255), dg.target)
# 600 MNIST images pooled down to 8x8 (held-out check)
def rd(p):
    with gzip.open(p) as f: b = f.read()
    nd = b[3]; dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b[4 + 4 * nd:], np.uint8).reshape(dims)
im = rd("data/mnist/train-images-idx3-ubyte.gz")[:600].astype(float)
lb = rd("data/mnist/train-labels-idx1-ubyte.gz")[:600]
im = np.pad(im, ((0, 0), (2, 2), (2, 2))).reshape(600, 8, 4, 8, 4).mean(axis=(2, 4))
idx_set("mnist8-600", np.clip(im * 1.5, 0, 255), lb, seed=1)
