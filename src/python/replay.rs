//! `replay()`'s arguments: moments and durations as Python users give them, and the spec
//! overrides (its result is in `replay_result`).

use std::time::Duration;

use jiff::Timestamp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::core::{self, Error};

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

fn is_instance(v: &Bound<'_, PyAny>, class: &str) -> PyResult<bool> {
    v.is_instance(&v.py().import("datetime")?.getattr(class)?)
}

/// Seconds of a `timedelta`, a number, or Go duration text ("90s", "5m", "1h30m").
pub fn duration(field: &'static str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let invalid = |problem: String| PyErr::from(Error::InvalidValue { field, problem });
    let secs: f64 = if is_instance(value, "timedelta")? {
        value.call_method0("total_seconds")?.extract()?
    } else if value.is_instance_of::<PyString>() {
        return Ok(core::parse_duration(field, &value.extract::<String>()?)?);
    } else if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{field} must be a timedelta, seconds or text like \"5m\", not bool"
        )));
    } else if let Ok(n) = value.extract::<f64>() {
        n
    } else {
        return Err(PyTypeError::new_err(format!(
            "{field} must be a timedelta, seconds or text like \"5m\", not {}",
            type_name(value)
        )));
    };
    Duration::try_from_secs_f64(secs).map_err(|_| invalid(format!("{secs} is not a duration >= 0")))
}

/// A moment: a `datetime` (a naive one is local time, as `datetime.timestamp()` reads it), a
/// `timedelta` or Go duration text meaning that long before `now`, or an RFC 3339 time.
pub fn instant(field: &'static str, value: &Bound<'_, PyAny>, now: Timestamp) -> PyResult<Timestamp> {
    let invalid = |problem: String| PyErr::from(Error::InvalidValue { field, problem });
    if is_instance(value, "datetime")? {
        let secs: f64 = value.call_method0("timestamp")?.extract()?;
        return Timestamp::from_nanosecond((secs * 1e9) as i128).map_err(|e| invalid(e.to_string()));
    }
    let ago = if value.is_instance_of::<PyString>() {
        let text: String = value.extract()?;
        if let Ok(t) = text.parse::<Timestamp>() {
            return Ok(t);
        }
        core::parse_duration(field, &text)
            .map_err(|_| invalid(format!("{text:?} is neither an RFC 3339 time nor a duration such as \"24h\"")))?
    } else if is_instance(value, "timedelta")? {
        duration(field, value)?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{field} must be a datetime, a timedelta or text (\"24h\" ago, or an RFC 3339 time), not {}",
            type_name(value)
        )));
    };
    let ago = jiff::SignedDuration::try_from(ago).map_err(|e| invalid(e.to_string()))?;
    now.checked_sub(ago).map_err(|e| invalid(e.to_string()))
}

/// `enabled_period=`: `{"schedule": ..., "duration": ...}`, or `"always"` for none.
pub fn enabled_period(value: &Bound<'_, PyAny>) -> PyResult<Option<core::EnabledPeriodSpec>> {
    if value.is_instance_of::<PyString>() && value.extract::<String>()? == "always" {
        return Ok(None);
    }
    let wrong = || PyTypeError::new_err("enabled_period must be {\"schedule\": ..., \"duration\": ...} or \"always\"");
    let d = value.cast::<PyDict>().map_err(|_| wrong())?;
    let field =
        |k: &str| -> PyResult<String> { d.get_item(k)?.ok_or_else(wrong)?.extract::<String>().map_err(|_| wrong()) };
    let spec = core::EnabledPeriodSpec { schedule: field("schedule")?, duration: field("duration")? };
    // Named now, not at the first step: the same check the loop makes.
    core::EnabledPeriod::parse(&spec.schedule, &spec.duration)?;
    Ok(Some(spec))
}

/// A JSON value of a metadata override (`threshold=5`, `query="..."`): numbers are written as
/// the text a spec holds.
pub fn metadata_value(value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    if let Ok(s) = value.extract::<String>() {
        return Ok(serde_json::Value::String(s));
    }
    if !value.is_instance_of::<pyo3::types::PyBool>()
        && let Ok(n) = value.extract::<f64>()
    {
        return Ok(serde_json::Value::String(n.to_string()));
    }
    Err(PyTypeError::new_err(format!("a trigger metadata value must be a str or a number, not {}", type_name(value))))
}
