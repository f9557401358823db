//! `shrink._shrink`: the native half of the Python package `shrink` (the other half,
//! `python/shrink/__init__.py`, converts arrays and adds `load` and `classify`).
//!
//! A [`Model`] wraps shrink-capi's model (the one the C library and the browser run):
//! the compressed weights as stored, scratch memory reused across calls. `predict`
//! releases the GIL while the runtime works, so Python threads can predict at once.
//! Every failure is a `shrink.ShrinkError` (a `ValueError`) carrying the runtime's
//! message; nothing panics across the boundary (a panic would be PyO3's
//! `PanicException`, not a crash).
//!
//! Not here: dtype and layout conversion (NumPy does it in `__init__.py`), softmax.

use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use shrink_capi::ShrinkModel;
use std::sync::RwLock;

create_exception!(
    _shrink,
    ShrinkError,
    PyValueError,
    "A .shrk file that cannot be loaded, or an input the model cannot take."
);

/// A compressed model ready to run (see `shrink.Model` for the documented wrapper).
#[pyclass(frozen, module = "shrink._shrink")]
struct Model {
    /// Read for `predict` (many at once), written by `set_threads`.
    inner: RwLock<ShrinkModel>,
    /// The decoded container, for `dense_weights`.
    bytes: Vec<u8>,
}

fn error(msg: impl std::fmt::Display) -> PyErr {
    ShrinkError::new_err(msg.to_string())
}

#[pymethods]
impl Model {
    /// Decode a `.shrk` file's bytes. Raises ShrinkError (the runtime's message) when
    /// they are not a valid model.
    #[staticmethod]
    fn from_bytes(data: &Bound<'_, PyBytes>) -> PyResult<Model> {
        let bytes = data.as_bytes().to_vec();
        let model = ShrinkModel::from_bytes(&bytes).map_err(error)?;
        Ok(Model {
            inner: RwLock::new(model),
            bytes,
        })
    }

    /// Shape of one example, e.g. (1, 28, 28).
    #[getter]
    fn input_shape(&self) -> Vec<usize> {
        self.read().model().input_shape().to_vec()
    }

    /// Outputs (logits) per example.
    #[getter]
    fn num_classes(&self) -> usize {
        self.read().model().classes()
    }

    /// Class names stored in the file (empty when it names none).
    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.read().model().class_names().to_vec()
    }

    /// Bytes the parameters take in memory (compressed, as stored).
    #[getter]
    fn memory_bytes(&self) -> usize {
        self.read().model().memory_bytes()
    }

    /// Threads a batch's examples are split over (batch 1: large layers).
    #[getter]
    fn threads(&self) -> usize {
        self.read().threads()
    }

    #[setter]
    fn set_threads(&self, threads: usize) -> PyResult<()> {
        if threads == 0 {
            return Err(error("threads must be at least 1"));
        }
        self.inner
            .write()
            .map_err(|_| error("model lock poisoned"))?
            .set_threads(threads);
        Ok(())
    }

    /// The `shrink info` summary of the file as JSON text.
    fn info_json(&self) -> String {
        self.read().info_json().to_string()
    }

    /// The spec (architecture) stored in the file, as TOML text.
    fn spec_toml(&self) -> PyResult<String> {
        Ok(shrink_format::read(&self.bytes).map_err(error)?.spec_toml)
    }

    /// Every tensor decoded to dense float32, by name, in file order (a dict of NumPy
    /// arrays shaped as stored, e.g. linear `[out, in]`). For exporting the network to
    /// another runtime; `predict` never expands the weights.
    fn dense_weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let file = shrink_format::read(&self.bytes).map_err(error)?;
        let out = PyDict::new(py);
        for t in &file.tensors {
            let shape: Vec<usize> = t.data.shape().iter().map(|&d| d as usize).collect();
            let values = PyArray1::from_vec(py, t.data.to_dense());
            out.set_item(&t.name, values.reshape(shape)?)?;
        }
        Ok(out)
    }

    /// Logits `[N, classes]` for `x`, a C-contiguous float32 array `[N, *input_shape]`.
    /// The GIL is released while the model runs.
    fn predict_f32<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let inner = self.read();
        let want = inner.model().input_shape();
        let shape = x.shape();
        if shape.len() != want.len() + 1 || shape[1..] != *want {
            return Err(error(format!(
                "input has shape {shape:?}; this model takes [N, {}]",
                want.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let batch = shape[0];
        let classes = inner.model().classes();
        let values = x.as_slice().map_err(error)?;
        let mut out = vec![0.0f32; batch * classes];
        py.detach(|| inner.predict_into(values, batch, &mut out))
            .map_err(error)?;
        let out = Array2::from_shape_vec((batch, classes), out).map_err(error)?;
        Ok(out.into_pyarray(py))
    }
}

impl Model {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, ShrinkModel> {
        // A panic cannot happen while the lock is held for writing (set_threads only
        // stores a number), so poisoning is ignored.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// The native module.
#[pymodule]
fn _shrink(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add("ShrinkError", m.py().get_type::<ShrinkError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
