//! The results of fleet calls (`scale_all`, `sleep`, `wake`): a `BatchEntry` per target,
//! returned together as a `kubescale.ScaleBatch` (a list with views, a table and `to_dict()`).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::core;
use crate::python::types::ScaleResult;

/// One target of a fleet call (``scale_all``, ``sleep``, ``wake``) and how it ended.
///
/// Attributes:
///     target: The target, as ``kind.group/name`` (for a namespace that could not be
///         listed, the type).
///     namespace: Its namespace.
///     result: What was done (``ScaleResult``), or None when it failed.
///     error: The exception it failed with (a ``KubeScaleError``), or None.
///     skipped: Why it was left alone on purpose (held by an ElastiService, nothing
///         remembered to wake it to, scaled by someone while asleep), or None.
#[pyclass(frozen, module = "kubescale")]
pub struct BatchEntry {
    #[pyo3(get)]
    target: String,
    #[pyo3(get)]
    namespace: String,
    #[pyo3(get)]
    result: Option<ScaleResult>,
    #[pyo3(get)]
    error: Option<Py<PyAny>>,
    #[pyo3(get)]
    skipped: Option<String>,
}

#[pymethods]
impl BatchEntry {
    /// Whether a new count was written (or, in a dry run, would be).
    #[getter]
    fn changed(&self) -> bool {
        self.result.as_ref().is_some_and(|r| r.core().changed)
    }

    /// Whether the target did not fail.
    #[getter]
    fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Every field as a plain dict (for JSON, YAML or a DataFrame): ``target``,
    /// ``namespace``, ``changed``, ``previous``, ``replicas``, ``reason``, ``skipped``,
    /// ``error`` (its message) and ``error_type`` (its class name).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("target", &self.target)?;
        d.set_item("namespace", &self.namespace)?;
        d.set_item("changed", self.changed())?;
        d.set_item("previous", self.result.as_ref().map(|r| r.core().previous))?;
        d.set_item("replicas", self.result.as_ref().map(|r| r.core().replicas))?;
        d.set_item("reason", self.result.as_ref().map(|r| r.core().reason.as_str()))?;
        d.set_item("skipped", &self.skipped)?;
        let error = self.error.as_ref().map(|e| e.bind(py));
        d.set_item("error", error.map(|e| e.str()).transpose()?)?;
        d.set_item("error_type", error.map(|e| e.get_type().name()).transpose()?)?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let place =
            if self.namespace.is_empty() { self.target.clone() } else { format!("{}/{}", self.namespace, self.target) };
        Ok(match (&self.error, &self.result) {
            (Some(e), _) => format!("BatchEntry({place:?}, error={})", e.bind(py).repr()?),
            (None, Some(r)) => {
                format!("BatchEntry({place:?}, changed={}, reason={:?})", py_bool(r.core().changed), r.core().reason)
            }
            (None, None) => format!("BatchEntry({place:?})"),
        })
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

impl BatchEntry {
    /// What a wait over the batch waits for: the target, its namespace and the count it was
    /// given (`None` for an entry that failed).
    pub(crate) fn wanted(&self) -> Option<(String, String, i32)> {
        let r = self.result.as_ref().filter(|_| self.error.is_none())?;
        Some((self.target.clone(), self.namespace.clone(), r.core().replicas))
    }

    fn of(py: Python<'_>, e: core::FleetEntry) -> Self {
        let (result, error) = match e.outcome {
            Ok(r) => (Some(ScaleResult::from(r)), None),
            Err(err) => (None, Some(PyErr::from(err).into_value(py).into_any())),
        };
        BatchEntry { target: e.target, namespace: e.namespace, result, error, skipped: e.skipped }
    }
}

/// A fleet call's entries, returned as ``kubescale.ScaleBatch``; with `raise_on_error`, a
/// failed entry raises ``ScaleBatchError`` carrying the whole batch.
pub struct Batch {
    pub entries: Vec<core::FleetEntry>,
    pub raise_on_error: bool,
}

impl<'py> IntoPyObject<'py> for Batch {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let items: Vec<BatchEntry> = self.entries.into_iter().map(|e| BatchEntry::of(py, e)).collect();
        let batch = py.import("kubescale._types")?.getattr("ScaleBatch")?.call1((items,))?;
        if self.raise_on_error {
            batch.call_method0("raise_for_errors")?;
        }
        Ok(batch)
    }
}

/// Adds the fleet types to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BatchEntry>()
}
