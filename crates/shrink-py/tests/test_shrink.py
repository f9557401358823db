"""The Python package as a user calls it: the same predictions as `shrink run` on the
10 000 MNIST test images, the README's lines, shapes, dtypes, layouts and errors."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import shrink
from conftest import MODELS, MNIST_IMAGES, ROOT, shrink_bin, target_dir


def shrink_run_predictions(model_path, top_k, *extra):
    """`shrink run MODEL t10k-images --json --top-k K [extra flags]`: its predictions."""
    exe = shrink_bin()
    assert exe.exists(), f"{exe} missing: build it with `cargo build --release -p shrink`"
    out = subprocess.run(
        [str(exe), "run", str(model_path), str(MNIST_IMAGES), "--json", "--top-k", str(top_k),
         *extra],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    preds = json.loads(out)["predictions"]
    assert [p["example"] for p in preds] == list(range(len(preds)))
    return preds


def shrink_run_top(model_path, top_k):
    """`shrink run MODEL t10k-images --json --top-k K`: per image, [(class, score)]."""
    preds = shrink_run_predictions(model_path, top_k)
    return [[(s["class"], s["score"]) for s in p["top"]] for p in preds]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_predictions_equal_shrink_run_on_mnist_test(name, mnist_test_images):
    m = shrink.load(MODELS[name])
    reference = shrink_run_top(MODELS[name], top_k=3)
    assert len(reference) == 10_000
    labels, probs = m.classify(mnist_test_images / 255.0, top_k=3)
    assert [[c for c, _ in r] for r in reference] == labels
    want = np.array([[s for _, s in r] for r in reference], dtype=np.float32)
    np.testing.assert_allclose(probs, want, rtol=0, atol=2e-6)
    # The argmax of the logits is the top class.
    logits = m.predict(mnist_test_images / 255.0)
    assert logits.shape == (10_000, 10) and logits.dtype == np.float32
    top = np.array(m.classes)[logits.argmax(axis=1)]
    assert list(top) == [r[0] for r in labels]


def readme_python_block():
    """The code block under README's "Use a `.shrk` from Python" heading."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Use a `.shrk` from Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_lines_give_shrink_runs_predictions(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    scope = {}
    exec(compile(readme_python_block(), "README.md", "exec"), scope)
    reference = shrink_run_top(MODELS["lenet-5"], top_k=3)
    assert scope["labels"] == [[c for c, _ in r] for r in reference]
    assert capsys.readouterr().out.strip(), "the README's lines print something"


def test_shapes_classes_and_info():
    m = shrink.load(MODELS["lenet-5"])
    assert m.input_shape == (1, 28, 28)
    assert m.classes == [str(i) for i in range(10)]
    assert m.memory_bytes > 0
    info = m.info()
    size = MODELS["lenet-5"].stat().st_size
    summary = m.summary()
    assert summary["file_bytes"] == size
    assert summary["header_bytes"] + sum(t["bytes"] for t in info) == size
    assert summary["ratio"] == pytest.approx(summary["dense_bytes"] / size)
    weights = [t for t in info if t["kind"] == "compressed"]
    assert weights and all(t["kept"] < t["numel"] and t["bits"] <= 8 for t in weights)
    dense = m.dense_weights()
    assert [t["name"] for t in info] == list(dense)
    for t in info:
        assert list(dense[t["name"]].shape) == t["shape"]
        assert np.count_nonzero(dense[t["name"]]) <= t["kept"]
    mlp = shrink.load(MODELS["lenet-300-100"])
    assert mlp.input_shape == (1, 28, 28)
    assert len(mlp.classes) == 10


def test_any_dtype_and_layout_gives_the_same_logits(mnist_test_images):
    m = shrink.load(MODELS["lenet-5"])
    x = mnist_test_images[:8].astype(np.float32) / 255.0
    want = m.predict(x)
    assert want.shape == (8, 10)
    np.testing.assert_array_equal(m.predict(x.astype(np.float64)), want)
    np.testing.assert_array_equal(m.predict(x.tolist()), want)
    # Fortran order and a strided view.
    np.testing.assert_array_equal(m.predict(np.asfortranarray(x)), want)
    strided = np.repeat(x, 2, axis=0)[::2]
    assert not strided.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(m.predict(strided), want)
    # Integer images that happen to be 0/1 equal their float version.
    ints = (mnist_test_images[:8] > 127).astype(np.int64)
    np.testing.assert_array_equal(m.predict(ints), m.predict(ints.astype(np.float32)))
    # Batch 0, and batch 1 (another kernel: equal up to float rounding).
    assert m.predict(np.zeros((0, 1, 28, 28))).shape == (0, 10)
    np.testing.assert_allclose(m.predict(x[:1]), want[:1], rtol=0, atol=1e-5)


def test_threads_and_concurrent_calls_agree(mnist_test_images):
    x = mnist_test_images[:64] / 255.0
    m = shrink.load(MODELS["lenet-5"])
    want = m.predict(x)
    m.threads = 2
    assert m.threads == 2
    np.testing.assert_allclose(m.predict(x), want, rtol=0, atol=1e-5)
    results = [None] * 4

    def work(i):
        results[i] = m.predict(x)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_allclose(r, want, rtol=0, atol=1e-5)
    with pytest.raises(shrink.ShrinkError, match="at least 1"):
        m.threads = 0


def test_corrupt_files_raise_with_the_runtimes_message(tmp_path):
    good = MODELS["lenet-5"].read_bytes()
    with pytest.raises(shrink.ShrinkError, match="not a .shrk file"):
        shrink.Model.from_bytes(b"<html>404</html>")
    with pytest.raises(shrink.ShrinkError) as e:
        shrink.Model.from_bytes(good[: len(good) // 2])
    assert str(e.value)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    with pytest.raises(shrink.ShrinkError):
        shrink.Model.from_bytes(bytes(flipped))
    bad = tmp_path / "bad.shrk"
    bad.write_bytes(good[:-1])
    with pytest.raises(shrink.ShrinkError, match="bad.shrk"):
        shrink.load(bad)
    with pytest.raises(FileNotFoundError):
        shrink.load(tmp_path / "missing.shrk")
    assert issubclass(shrink.ShrinkError, ValueError)


def test_wrong_inputs_raise_with_clear_messages():
    m = shrink.load(MODELS["lenet-5"])
    with pytest.raises(shrink.ShrinkError, match=r"shape \[5, 28, 28\].*\[N, 1, 28, 28\]"):
        m.predict(np.zeros((5, 28, 28)))
    with pytest.raises(shrink.ShrinkError, match=r"shape \[1, 784\]"):
        m.predict(np.zeros((1, 784)))
    with pytest.raises(shrink.ShrinkError, match="not an array of numbers"):
        m.predict([["a", "b"]])
    with pytest.raises(shrink.ShrinkError, match="top_k"):
        m.classify(np.zeros((1, 1, 28, 28)), top_k=0)
    labels, probs = m.classify(np.zeros((2, 1, 28, 28)), top_k=50)
    assert len(labels[0]) == 10 and probs.shape == (2, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_the_package_is_typed_and_documented():
    pkg = pathlib.Path(shrink.__file__).parent
    assert (pkg / "py.typed").exists() and (pkg / "_shrink.pyi").exists()
    for f in (shrink.load, shrink.Model.predict, shrink.Model.classify, shrink.Model.info):
        assert f.__doc__ and len(f.__doc__) > 40


def test_c_example_prints_the_logits_of_shrink_run(tmp_path, mnist_test_images):
    """crates/shrink-capi/examples/classify.c, compiled with `cc -Wall -Werror` against
    shrink.h and libshrink_capi.a: its top class, probability and logits are those of
    `shrink run --logits` (within 1e-5: `shrink run` feeds the runtime batches of 64, the
    C example all 200 at once), and its logits are this package's bit for bit."""
    subprocess.run(
        ["cargo", "build", "--release", "-p", "shrink-capi"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "CARGO_TARGET_DIR": str(target_dir())},
    )
    target = target_dir() / "release"
    exe = tmp_path / "classify"
    capi = ROOT / "crates" / "shrink-capi"
    subprocess.run(
        [shutil.which("cc") or "cc", "-std=c11", "-Wall", "-Werror", "-O2",
         "-I", str(capi / "include"), str(capi / "examples" / "classify.c"),
         str(target / "libshrink_capi.a"), "-lpthread", "-ldl", "-lm", "-o", str(exe)],
        check=True,
    )
    n = 200
    x = (mnist_test_images[:n] / 255.0).astype(np.float32)
    images = tmp_path / "images.f32"
    images.write_bytes(x.astype("<f4").tobytes())
    for name, path in MODELS.items():
        out = subprocess.run([str(exe), str(path), str(images)], check=True,
                             capture_output=True, text=True).stdout.splitlines()
        assert len(out) == n, name
        preds = shrink_run_predictions(path, 1, "--logits", "--limit", str(n))
        reference = [[(s["class"], s["score"]) for s in p["top"]] for p in preds]
        run_logits = np.array([p["logits"] for p in preds], dtype=np.float32)
        assert run_logits.shape == (n, 10), name
        logits = shrink.load(path).predict(x)
        for i, line in enumerate(out):
            fields = line.split()
            assert int(fields[0]) == i
            assert fields[1] == reference[i][0][0], f"{name} example {i}"
            assert abs(float(fields[2]) - reference[i][0][1]) < 2e-6
            c_logits = np.array(fields[3:], dtype=np.float32)
            np.testing.assert_array_equal(c_logits, logits[i])
            np.testing.assert_allclose(c_logits, run_logits[i], rtol=0, atol=1e-5)


def test_predict_releases_the_gil():
    """The main thread counts while a worker thread is inside `predict`. With a GIL
    switch interval longer than the call, the main thread can only run meanwhile if
    `predict` releases the GIL; holding it, the count would not move during the call."""
    m = shrink.load(MODELS["lenet-5"])
    x = np.zeros((500, 1, 28, 28), dtype=np.float32)
    count = [0]
    during = []
    started = threading.Event()

    def work():
        started.set()
        before = count[0]
        m.predict(x)
        during.append(count[0] - before)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(2.0)
    try:
        t = threading.Thread(target=work)
        t.start()
        started.wait()
        while t.is_alive():
            count[0] += 1
        t.join()
    finally:
        sys.setswitchinterval(interval)
    assert during[0] > 0, "the main thread did not run while predict was running"
