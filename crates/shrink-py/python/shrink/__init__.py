"""Run compressed ``.shrk`` models (from ``shrink compress``) on NumPy arrays.

A ``.shrk`` file holds a network pruned, weight-shared and Huffman-coded (Deep
Compression). This package runs it as stored — sparse rows and codebook indices, never
expanded to dense floats — with the same Rust runtime as the ``shrink`` command, the C
library and the web page.

>>> import shrink
>>> m = shrink.load("web/model.shrk")           # doctest: +SKIP
>>> m.input_shape, m.classes[:3]                # doctest: +SKIP
((1, 28, 28), ['0', '1', '2'])
>>> logits = m.predict(images)                  # [N, 1, 28, 28] in [0, 1] -> [N, 10]
>>> labels, probs = m.classify(images, top_k=3) # names and softmax probabilities

Errors (a corrupt file, an input of the wrong shape) raise :class:`ShrinkError`, a
``ValueError`` carrying the runtime's message.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from ._shrink import Model as _NativeModel
from ._shrink import ShrinkError, __version__

__all__ = ["Model", "ShrinkError", "load", "__version__"]


class Model:
    """A compressed model ready to run.

    Make one with :func:`load` (a path) or :meth:`Model.from_bytes` (the file's bytes).
    Methods may be called from several threads at once; ``predict`` releases the GIL
    while the model runs.
    """

    __slots__ = ("_native",)

    def __init__(self, native: _NativeModel) -> None:
        self._native = native

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview], threads: int = 1) -> "Model":
        """Load a model from the bytes of a ``.shrk`` file.

        ``threads``: threads a batch's examples are split over (large layers at
        batch 1; 1 is best for small models and batches). Raises :class:`ShrinkError` when the bytes are not a valid model.
        """
        model = cls(_NativeModel.from_bytes(bytes(data)))
        model.threads = threads
        return model

    @property
    def input_shape(self) -> Tuple[int, ...]:
        """Shape of one example, e.g. ``(1, 28, 28)`` for MNIST or ``(F,)`` for a table."""
        return tuple(self._native.input_shape)

    @property
    def classes(self) -> List[str]:
        """One name per output, as stored in the file (``"0"``, ``"1"``, … when the file
        names none)."""
        names = self._native.class_names
        return names if names else [str(i) for i in range(self._native.num_classes)]

    @property
    def memory_bytes(self) -> int:
        """Bytes the model's parameters take in memory (compressed, as stored)."""
        return self._native.memory_bytes

    @property
    def threads(self) -> int:
        """Threads a batch is split over (default 1)."""
        return self._native.threads

    @threads.setter
    def threads(self, n: int) -> None:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"threads must be an int, not {type(n).__name__}")
        if n < 1:
            raise ShrinkError(f"threads must be at least 1, not {n}")
        self._native.threads = int(n)

    def predict(self, x: Any) -> np.ndarray:
        """Logits ``float32 [N, len(classes)]`` for ``x`` shaped ``[N, *input_shape]``.

        ``x`` is anything NumPy turns into an array of numbers (any dtype, any memory
        layout); it is converted to C-contiguous float32. Give raw values as the data
        loader does — images in [0, 1] — the model applies its own normalisation.
        Raises :class:`ShrinkError` for an array of the wrong shape.
        """
        try:
            arr = np.ascontiguousarray(x, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise ShrinkError(f"input is not an array of numbers: {e}") from None
        return self._native.predict_f32(arr)

    def classify(self, x: Any, top_k: int = 3) -> Tuple[List[List[str]], np.ndarray]:
        """The ``top_k`` best classes of each example, best first.

        Returns ``(labels, probs)``: ``labels[i]`` the class names of example ``i`` and
        ``probs[i]`` their softmax probabilities (``float32 [N, top_k]``). ``top_k`` is
        capped at the number of classes.
        """
        if top_k < 1:
            raise ShrinkError(f"top_k must be at least 1, not {top_k}")
        logits = self.predict(x)
        k = min(int(top_k), logits.shape[1])
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        probs = exp / exp.sum(axis=1, keepdims=True)
        # Stable sort on -probs: ties keep the lower class index first, as `shrink run`.
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        names = self.classes
        labels = [[names[j] for j in row] for row in order]
        return labels, np.take_along_axis(probs, order, axis=1).astype(np.float32)

    def info(self) -> List[Dict[str, Any]]:
        """The per-tensor table of ``shrink info FILE.shrk``, one dict per tensor:
        ``name``, ``shape``, ``kind`` ("compressed" or "dense"), ``numel``, ``kept``,
        ``fillers``, ``bits``, ``index_bits``, ``weight_bits_huffman``,
        ``index_bits_huffman``, ``codebook_bytes``, ``bytes``."""
        tensors: List[Dict[str, Any]] = self.summary()["tensors"]
        return tensors

    def summary(self) -> Dict[str, Any]:
        """Everything ``shrink info`` says about the file: ``name``, ``input``,
        ``classes``, ``class_names``, ``file_bytes``, ``header_bytes``, ``dense_bytes``
        (the parameters as float32), ``ratio``, ``meta`` (the file's key/values) and
        ``tensors`` (as :meth:`info`)."""
        summary: Dict[str, Any] = json.loads(self._native.info_json())
        return summary

    def spec_toml(self) -> str:
        """The architecture stored in the file, as TOML text."""
        return self._native.spec_toml()

    def dense_weights(self) -> Dict[str, np.ndarray]:
        """Every tensor decoded to dense float32, by name (e.g. ``layers.0.weight``
        shaped ``[out, in]``) — to export the network to another runtime. ``predict``
        never needs this."""
        return self._native.dense_weights()

    def __repr__(self) -> str:
        return f"<shrink.Model input {self.input_shape} -> {len(self.classes)} classes>"


def load(path: Union[str, "os.PathLike[str]"], threads: int = 1) -> Model:
    """Load the ``.shrk`` file at ``path`` (see :meth:`Model.from_bytes`).

    Raises ``OSError`` when the file cannot be read and :class:`ShrinkError` when it is
    not a valid model (the message names the file)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return Model.from_bytes(data, threads=threads)
    except ShrinkError as e:
        raise ShrinkError(f"{os.fspath(path)}: {e}") from None
