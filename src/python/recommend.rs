//! `recommend_cooldown()`'s result: the core's [`Recommendation`](core::Recommendation) as a
//! `kubescale.CooldownRecommendation`, each point of its curve a `kubescale.CooldownPoint`.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::core;
use crate::python::html;
use crate::python::types::dict_of;

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
pub struct CooldownPoint(core::CooldownPoint);

#[pymethods]
impl CooldownPoint {
    #[getter]
    fn cooldown(&self) -> Duration {
        self.0.cooldown
    }

    #[getter]
    fn time_at_zero(&self) -> Duration {
        self.0.time_at_zero
    }

    #[getter]
    fn fraction_at_zero(&self) -> f64 {
        self.0.fraction_at_zero
    }

    #[getter]
    fn replica_hours_saved(&self) -> f64 {
        self.0.replica_hours_saved
    }

    #[getter]
    fn cold_starts(&self) -> usize {
        self.0.cold_starts
    }

    #[getter]
    fn cold_starts_per_day(&self) -> f64 {
        self.0.cold_starts_per_day
    }

    #[getter]
    fn worst_wait(&self) -> Duration {
        self.0.worst_wait
    }

    /// Every field as a plain dict, durations in seconds (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(py, &self.0)
    }

    fn __repr__(&self) -> String {
        let p = &self.0;
        format!(
            "CooldownPoint(cooldown={:?}, at_zero={:.0}%, replica_hours_saved={:.1}, cold_starts_per_day={:.1})",
            text(p.cooldown),
            100.0 * p.fraction_at_zero,
            p.replica_hours_saved,
            p.cold_starts_per_day
        )
    }
}

/// A point as a row of the recommendation's table.
fn row(p: &core::CooldownPoint) -> Vec<String> {
    vec![
        text(p.cooldown),
        format!("{:.0}%", 100.0 * p.fraction_at_zero),
        format!("{:.1}", p.replica_hours_saved),
        format!("{:.1}", p.cold_starts_per_day),
        text(p.worst_wait),
    ]
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
pub struct CooldownRecommendation(core::Recommendation);

impl From<core::Recommendation> for CooldownRecommendation {
    fn from(r: core::Recommendation) -> Self {
        CooldownRecommendation(r)
    }
}

#[pymethods]
impl CooldownRecommendation {
    #[getter]
    fn cooldown(&self) -> Option<Duration> {
        self.0.cooldown
    }

    #[getter]
    fn reason(&self) -> &str {
        &self.0.reason
    }

    #[getter]
    fn knee(&self) -> Option<Duration> {
        self.0.knee
    }

    #[getter]
    fn points(&self) -> Vec<CooldownPoint> {
        self.0.points.iter().cloned().map(CooldownPoint).collect()
    }

    /// The recommendation as a plain dict (durations in seconds), the curve under ``points``.
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!("CooldownRecommendation(cooldown={:?}, reason={:?})", self.0.cooldown.map(text), self.0.reason)
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
        let r = &self.0;
        let labels: Vec<String> = r.points.iter().map(|p| text(p.cooldown)).collect();
        let at = |d: Option<Duration>| d.and_then(|d| r.points.iter().position(|p| p.cooldown == d));
        let mut marks = Vec::new();
        if let Some(i) = at(r.cooldown) {
            marks.push((i, "recommended"));
        }
        if let Some(i) = at(r.knee).filter(|k| Some(*k) != at(r.cooldown)) {
            marks.push((i, "knee"));
        }
        let saved = r.points.iter().map(|p| p.replica_hours_saved).collect();
        let cold = r.points.iter().map(|p| p.cold_starts_per_day).collect();
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
        let rows = self.0.points.iter().map(row).collect();
        let table = html::html_table(&self.0.reason, head.iter().map(|h| h.to_string()).collect(), rows);
        format!("<div>{}{table}</div>", self.plot_svg(640, 220))
    }
}

/// Adds the recommendation types to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CooldownPoint>()?;
    m.add_class::<CooldownRecommendation>()
}
