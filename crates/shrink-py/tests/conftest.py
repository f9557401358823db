"""Shared fixtures: the repository's paths, MNIST test images, the `shrink` binary.

The `shrink` binary (for `shrink run`, the reference) is `$SHRINK_BIN`, else
`$CARGO_TARGET_DIR/release/shrink`, else `target/release/shrink`; build it with
`cargo build --release -p shrink`. Without it the comparison tests fail, they do not skip.
"""

import gzip
import os
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
HERE = pathlib.Path(__file__).resolve().parent
MNIST_IMAGES = ROOT / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"

#: The two models the package is checked on: the page's LeNet-5 and a LeNet-300-100
#: made by `shrink demo` (see tests/data/README.md).
MODELS = {
    "lenet-5": ROOT / "web" / "model.shrk",
    "lenet-300-100": HERE / "data" / "lenet-300-100.shrk",
}


def target_dir() -> pathlib.Path:
    """Cargo's target directory: `$CARGO_TARGET_DIR`, else the repository's `target/`."""
    return pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def shrink_bin() -> pathlib.Path:
    if os.environ.get("SHRINK_BIN"):
        return pathlib.Path(os.environ["SHRINK_BIN"])
    return target_dir() / "release" / "shrink"


@pytest.fixture(scope="session")
def mnist_test_images() -> np.ndarray:
    """The 10 000 MNIST test images, uint8 [10000, 1, 28, 28]."""
    raw = gzip.open(MNIST_IMAGES).read()
    assert raw[:4] == b"\x00\x00\x08\x03", "IDX magic of a u8 image file"
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28)
