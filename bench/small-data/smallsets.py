"""Writers shared by make_heldout.py and make_fresh.py: a CSV table, an 8x8 IDX image set
split into train and test (the four MNIST-named files), and the IDX reader they take
MNIST images from. Not here: which sets are made (the scripts)."""
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
