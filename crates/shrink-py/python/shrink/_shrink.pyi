"""Type stubs of the native module ``shrink._shrink`` (use the ``shrink`` package)."""

from typing import Dict, List

import numpy as np
import numpy.typing as npt

__version__: str

class ShrinkError(ValueError):
    """A .shrk file that cannot be loaded, or an input the model cannot take."""

class Model:
    """A compressed model ready to run (see ``shrink.Model``)."""

    @staticmethod
    def from_bytes(data: bytes) -> "Model":
        """Decode a ``.shrk`` file's bytes; raises ShrinkError when they are not a model."""
    @property
    def input_shape(self) -> List[int]:
        """Shape of one example."""
    @property
    def num_classes(self) -> int:
        """Outputs per example."""
    @property
    def class_names(self) -> List[str]:
        """Class names stored in the file (empty when it names none)."""
    @property
    def memory_bytes(self) -> int:
        """Bytes the parameters take in memory."""
    @property
    def threads(self) -> int:
        """Threads large layers may use."""
    @threads.setter
    def threads(self, threads: int) -> None: ...
    def info_json(self) -> str:
        """The ``shrink info`` summary of the file as JSON text."""
    def spec_toml(self) -> str:
        """The spec stored in the file, as TOML text."""
    def dense_weights(self) -> Dict[str, npt.NDArray[np.float32]]:
        """Every tensor decoded to dense float32, by name."""
    def predict_f32(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Logits [N, classes] for a C-contiguous float32 [N, *input_shape]; releases the GIL."""
