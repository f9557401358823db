"""Writers shared by make_heldout.py, make_fresh.py, make_fresh2.py, make_fresh3.py and make_fresh4.py: a CSV table, random
row subsets of data/credit/credit.csv, an 8x8 IDX image set split into train and test (the
four MNIST-named files), the IDX reader they take MNIST images from, and the binning that
turns a numeric feature into a categorical one. Not here: which sets are made (the
scripts)."""
import csv
import gzip
import os
import struct

import numpy as np


def write_csv(out, name, header, rows):
    """`out/name.csv` with a header line."""
    with open(f"{out}/{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def credit_subsets(out, sizes_and_seeds):
    """`out/credit{n}.csv` for each (n, seed): the header and n random rows (seed) of
    data/credit/credit.csv, in file order."""
    with open("data/credit/credit.csv") as f:
        lines = f.read().splitlines()
    for n, seed in sizes_and_seeds:
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(lines) - 1, n, replace=False) + 1
        with open(f"{out}/credit{n}.csv", "w") as f:
            f.write(lines[0] + "\n")
            f.write("\n".join(lines[i] for i in sorted(idx)) + "\n")


def category(v, levels, lo=-2.0, hi=2.0):
    """The level of `levels` that value v falls in, cutting [lo, hi] into equal parts."""
    k = int((v - lo) / (hi - lo) * len(levels))
    return levels[min(len(levels) - 1, max(0, k))]


def idx_write(path, arr):
    """An uncompressed IDX file of unsigned bytes."""
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, arr.ndim]))
        for dim in arr.shape:
            f.write(struct.pack(">I", dim))
        f.write(arr.astype(np.uint8).tobytes())


def idx_set(out, name, imgs, labels, seed, test_frac=0.2):
    """`out/name/` holding images and labels split at random (seed) into train and t10k."""
    d = f"{out}/{name}"
    os.makedirs(d, exist_ok=True)
    p = np.random.default_rng(seed).permutation(len(imgs))
    nt = int(len(imgs) * test_frac)
    te, tr = p[:nt], p[nt:]
    idx_write(f"{d}/train-images-idx3-ubyte", imgs[tr])
    idx_write(f"{d}/train-labels-idx1-ubyte", labels[tr])
    idx_write(f"{d}/t10k-images-idx3-ubyte", imgs[te])
    idx_write(f"{d}/t10k-labels-idx1-ubyte", labels[te])


def rd(p):
    """A gzipped IDX file as a numpy array of its declared shape."""
    with gzip.open(p) as f:
        b = f.read()
    nd = b[3]
    dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b[4 + 4 * nd:], np.uint8).reshape(dims)
