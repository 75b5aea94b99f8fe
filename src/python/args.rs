//! Converting Python arguments: targets, replica counts, durations.

use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};

use crate::core::{Error, TargetRef, check_replicas};

/// A target from `"TYPE/NAME"` or from the keywords `api_version`, `kind`, `name`.
pub fn target(
    target: Option<&str>,
    api_version: Option<&str>,
    kind: Option<&str>,
    name: Option<&str>,
) -> PyResult<TargetRef> {
    match (target, api_version, kind, name) {
        (Some(t), None, None, None) => Ok(TargetRef::parse(t)?),
        (None, Some(av), Some(k), Some(n)) => Ok(TargetRef::from_parts(av, k, n)?),
        (Some(_), ..) => Err(PyTypeError::new_err(
            "give the target either as \"TYPE/NAME\" or as api_version=, kind=, name=, not both",
        )),
        (None, ..) => Err(PyTypeError::new_err(
            "a target is required: \"TYPE/NAME\" (e.g. \"deployment/web\") or api_version=, kind= and name=",
        )),
    }
}

/// A replica count: an `int` (not a `bool`) from 0 to 2**31-1.
pub fn replicas(field: &'static str, value: Option<&Bound<'_, PyAny>>) -> PyResult<i32> {
    let Some(v) = value else {
        return Err(PyTypeError::new_err(format!("{field} is required")));
    };
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{field} must be an int, not {}",
            v.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
        )));
    }
    let n: i64 = v.extract().map_err(|_| Error::InvalidValue {
        field,
        problem: format!("{v} is out of range: use an integer from 0 to {}", i32::MAX),
    })?;
    check_replicas(n).map_err(|e| match e {
        Error::InvalidValue { problem, .. } => Error::InvalidValue { field, problem }.into(),
        other => PyErr::from(other),
    })
}

/// A list of strings, or one string (a list of one): targets, types.
pub fn strings(field: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(s) = value.extract::<String>() {
        return Ok(vec![s]);
    }
    let items: Vec<Bound<'_, PyAny>> = value
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{field} must be a string or a list of strings")))?
        .collect::<PyResult<_>>()?;
    items
        .iter()
        .map(|i| i.extract::<String>())
        .collect::<PyResult<_>>()
        .map_err(|_| PyTypeError::new_err(format!("{field} must be a string or a list of strings")))
}

/// A timeout in seconds: a finite, non-negative number.
pub fn seconds(field: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| PyValueError::new_err(format!("{field} must be a finite number of seconds >= 0, not {value}")))
}

/// A Python callable `on_progress(seen, wanted)` as the core's [`Progress`](crate::core::Progress):
/// called with the GIL from a runtime thread; what it raises is logged, not propagated.
pub fn progress(callback: &Bound<'_, PyAny>) -> PyResult<crate::core::Progress> {
    if !callback.is_callable() {
        return Err(PyTypeError::new_err("on_progress must be callable"));
    }
    let callback = callback.clone().unbind();
    Ok(Box::new(move |seen, wanted| {
        Python::attach(|py| {
            if let Err(e) = callback.call1(py, (seen, wanted)) {
                tracing::warn!(error = %e, "on_progress raised; ignored");
            }
        })
    }))
}
