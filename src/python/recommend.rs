//! `recommend_cooldown()`'s result: the core's [`Recommendation`](core::Recommendation) as a
//! `kubescale.CooldownRecommendation`, each point of its curve a `kubescale.CooldownPoint`.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::core;
use crate::python::html;

fn text(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// One cooldown replayed over the service's history.
///
/// Attributes:
///     cooldown: The cooldown tried (``timedelta``).
///     time_at_zero: Time the target would have spent at zero (``timedelta``).
///     fraction_at_zero: That time over the whole range.
///     replica_hours_saved: Replica-hours saved against running the baseline throughout.
///     cold_starts: Steps where traffic found the target at zero.
///     cold_starts_per_day: Cold starts per day of the range.
///     worst_wait: The longest a request would have waited at a cold start: a polling
///         interval for a pass to see it, plus the wake-up (``timedelta``; zero without cold
///         starts).
#[pyclass(frozen, module = "kubescale")]
#[derive(Clone)]
pub struct CooldownPoint {
    #[pyo3(get)]
    cooldown: Duration,
    #[pyo3(get)]
    time_at_zero: Duration,
    #[pyo3(get)]
    fraction_at_zero: f64,
    #[pyo3(get)]
    replica_hours_saved: f64,
    #[pyo3(get)]
    cold_starts: usize,
    #[pyo3(get)]
    cold_starts_per_day: f64,
    #[pyo3(get)]
    worst_wait: Duration,
}

impl From<core::CooldownPoint> for CooldownPoint {
    fn from(p: core::CooldownPoint) -> Self {
        CooldownPoint {
            cooldown: p.cooldown,
            time_at_zero: p.time_at_zero,
            fraction_at_zero: p.fraction_at_zero,
            replica_hours_saved: p.replica_hours_saved,
            cold_starts: p.cold_starts,
            cold_starts_per_day: p.cold_starts_per_day,
            worst_wait: p.worst_wait,
        }
    }
}

#[pymethods]
impl CooldownPoint {
    /// Every field as a plain dict, durations in seconds (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("cooldown", self.cooldown.as_secs_f64())?;
        d.set_item("time_at_zero", self.time_at_zero.as_secs_f64())?;
        d.set_item("fraction_at_zero", self.fraction_at_zero)?;
        d.set_item("replica_hours_saved", self.replica_hours_saved)?;
        d.set_item("cold_starts", self.cold_starts)?;
        d.set_item("cold_starts_per_day", self.cold_starts_per_day)?;
        d.set_item("worst_wait", self.worst_wait.as_secs_f64())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "CooldownPoint(cooldown={:?}, at_zero={:.0}%, replica_hours_saved={:.1}, cold_starts_per_day={:.1})",
            text(self.cooldown),
            100.0 * self.fraction_at_zero,
            self.replica_hours_saved,
            self.cold_starts_per_day
        )
    }
}

impl CooldownPoint {
    fn row(&self) -> Vec<String> {
        vec![
            text(self.cooldown),
            format!("{:.0}%", 100.0 * self.fraction_at_zero),
            format!("{:.1}", self.replica_hours_saved),
            format!("{:.1}", self.cold_starts_per_day),
            text(self.worst_wait),
        ]
    }
}

/// The cooldown recommended for a service from its own history (``recommend_cooldown()``).
///
/// Attributes:
///     cooldown: The cooldown recommended (``timedelta``), or None when no candidate fits
///         the budget.
///     reason: Why, in words.
///     knee: The knee of the curve (``timedelta``): the candidate keeping the largest share
///         of the most replica-hours saved for the smallest share of the most cold starts.
///     points: Every candidate's ``CooldownPoint``, in the order tried.
#[pyclass(frozen, module = "kubescale")]
pub struct CooldownRecommendation {
    #[pyo3(get)]
    cooldown: Option<Duration>,
    #[pyo3(get)]
    reason: String,
    #[pyo3(get)]
    knee: Option<Duration>,
    #[pyo3(get)]
    points: Vec<CooldownPoint>,
}

impl From<core::Recommendation> for CooldownRecommendation {
    fn from(r: core::Recommendation) -> Self {
        CooldownRecommendation {
            cooldown: r.cooldown,
            reason: r.reason,
            knee: r.knee,
            points: r.points.into_iter().map(CooldownPoint::from).collect(),
        }
    }
}

#[pymethods]
impl CooldownRecommendation {
    /// The recommendation as a plain dict (durations in seconds), the curve under ``points``.
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("cooldown", self.cooldown.map(|c| c.as_secs_f64()))?;
        d.set_item("reason", &self.reason)?;
        d.set_item("knee", self.knee.map(|c| c.as_secs_f64()))?;
        let points = self.points.iter().map(|p| p.to_dict(py)).collect::<PyResult<Vec<_>>>()?;
        d.set_item("points", points)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!("CooldownRecommendation(cooldown={:?}, reason={:?})", self.cooldown.map(text), self.reason)
    }

    /// The curve as an SVG image: replica-hours saved (left axis) and cold starts a day
    /// (right axis) for each cooldown tried, the recommendation and the knee marked.
    ///
    /// Args:
    ///     width: Pixels.
    ///     height: Pixels.
    ///
    /// Returns:
    ///     str: ``<svg ...>...</svg>``.
    #[pyo3(signature = (width=640, height=220))]
    fn plot_svg(&self, width: u32, height: u32) -> String {
        let labels: Vec<String> = self.points.iter().map(|p| text(p.cooldown)).collect();
        let at = |d: Option<Duration>| d.and_then(|d| self.points.iter().position(|p| p.cooldown == d));
        let mut marks = Vec::new();
        if let Some(i) = at(self.cooldown) {
            marks.push((i, "recommended"));
        }
        if let Some(i) = at(self.knee).filter(|k| Some(*k) != at(self.cooldown)) {
            marks.push((i, "knee"));
        }
        let saved = self.points.iter().map(|p| p.replica_hours_saved).collect();
        let cold = self.points.iter().map(|p| p.cold_starts_per_day).collect();
        core::curve_svg(
            (width, height),
            &labels,
            &core::Series { name: "replica-hours saved", colour: "#1f77b4", values: saved },
            &core::Series { name: "cold starts a day", colour: "#ff7f0e", values: cold },
            &marks,
        )
    }

    fn _repr_html_(&self) -> String {
        let head = ["cooldown", "at zero", "replica-hours saved", "cold starts a day", "worst wait"];
        let rows = self.points.iter().map(CooldownPoint::row).collect();
        let table = html::html_table(&self.reason, head.iter().map(|h| h.to_string()).collect(), rows);
        format!("<div>{}{table}</div>", self.plot_svg(640, 220))
    }
}

/// Adds the recommendation types to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CooldownPoint>()?;
    m.add_class::<CooldownRecommendation>()
}
