//! `replay()`'s result: the core's [`Replay`](core::Replay) as a `kubescale.Replay`, each step
//! a `kubescale.ReplayStep` with a `kubescale.TriggerSample` per trigger, its numbers a
//! `kubescale.ReplaySummary`, and two replays side by side a `kubescale.ReplayComparison`.
//! The rows, the words and the plot come from the core ([`core::replay_svg`]).

use std::time::Duration;

use jiff::Timestamp;
use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::core;
use crate::python::html;
use crate::python::types::{Answer, dict_of, repr_of};

/// `t` as an aware ``datetime`` in UTC (to the microsecond): one call of the class, with the
/// class and ``timezone.utc`` looked up once (a replay makes one per step).
fn utc_datetime<'py>(py: Python<'py>, t: Timestamp) -> PyResult<Bound<'py, PyAny>> {
    static DATETIME: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static UTC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let utc =
        UTC.get_or_try_init(py, || PyResult::Ok(py.import("datetime")?.getattr("timezone")?.getattr("utc")?.unbind()))?;
    let d = jiff::tz::Offset::UTC.to_datetime(t);
    let microsecond = d.subsec_nanosecond() / 1000;
    let args = (d.year(), d.month(), d.day(), d.hour(), d.minute(), d.second(), microsecond, utc.bind(py));
    DATETIME.import(py, "datetime", "datetime")?.call1(args)
}

/// An answer as ``to_dict()`` writes it: ``"unhealthy"``, ``"wants_up"`` or ``"allows_zero"``.
fn answer_name(a: Option<core::Answer>) -> Option<&'static str> {
    a.map(|a| match a {
        core::Answer::Unhealthy => "unhealthy",
        core::Answer::WantsUp => "wants_up",
        core::Answer::AllowsZero => "allows_zero",
    })
}

/// Adds the replay types to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TriggerSample>()?;
    m.add_class::<ReplayStep>()?;
    m.add_class::<ReplaySummary>()?;
    m.add_class::<Replay>()?;
    m.add_class::<ReplayComparison>()
}

/// One trigger's answer at one step of a replay.
///
/// Attributes:
///     answer: ``Answer.UNHEALTHY`` (also for a step without data), ``WANTS_UP`` or
///         ``ALLOWS_ZERO``.
///     value: The value the trigger compared (Prometheus: the query's value), if any.
///     note: Why it is unhealthy, when the data says (``"no sample"``, an error).
#[pyclass(frozen, eq, module = "kubescale")]
#[derive(Clone, PartialEq)]
pub struct TriggerSample {
    sample: core::Sample,
}

#[pymethods]
impl TriggerSample {
    #[getter]
    fn answer(&self) -> Answer {
        self.sample.answer.into()
    }

    #[getter]
    fn value(&self) -> Option<f64> {
        self.sample.value
    }

    #[getter]
    fn note(&self) -> Option<&str> {
        self.sample.note.as_deref()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let fields = PyDict::new(py);
        fields.set_item("answer", self.answer())?;
        fields.set_item("value", self.sample.value)?;
        fields.set_item("note", self.note())?;
        repr_of("TriggerSample", &fields)
    }
}

/// One step of a replay.
///
/// Attributes:
///     time: The step's time (UTC ``datetime``).
///     triggers: Each trigger's ``TriggerSample``, in the service's order.
///     answer: The triggers' answer as the loop asks them, or None when an earlier rule
///         (age, enabled period) decided and they were not asked.
///     direction: ``"scale_up"``, ``"scale_down"`` or ``"no_scale"``.
///     reason: Why, in the loop's words.
///     replicas_before: The target's count before the step.
///     replicas: Its count after the step.
///     cold_start: A trigger wanted the target up while it was at zero (a request waited).
///     wait: How long that request would have waited (``timedelta``): at most a polling
///         interval until a pass saw the traffic, plus the target's wake-up (``replay``'s
///         ``polling_interval`` and ``wake_up``); zero without a cold start.
///     value: The first trigger's value (what the plot draws).
#[pyclass(frozen, eq, module = "kubescale")]
#[derive(Clone, PartialEq)]
pub struct ReplayStep {
    step: core::ReplayStep,
}

impl ReplayStep {
    fn of(step: &core::ReplayStep) -> Self {
        ReplayStep { step: step.clone() }
    }
}

#[pymethods]
impl ReplayStep {
    #[getter]
    fn time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        utc_datetime(py, self.step.time)
    }

    #[getter]
    fn triggers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.step.triggers.iter().map(|sample| TriggerSample { sample: sample.clone() }))
    }

    #[getter]
    fn answer(&self) -> Option<Answer> {
        self.step.answer.map(Answer::from)
    }

    #[getter]
    fn direction(&self) -> &'static str {
        self.step.direction.as_str()
    }

    #[getter]
    fn reason(&self) -> &str {
        &self.step.reason
    }

    #[getter]
    fn replicas_before(&self) -> i32 {
        self.step.replicas_before
    }

    #[getter]
    fn replicas(&self) -> i32 {
        self.step.replicas
    }

    #[getter]
    fn cold_start(&self) -> bool {
        self.step.cold_start
    }

    #[getter]
    fn wait(&self) -> Duration {
        self.step.wait
    }

    #[getter]
    fn value(&self) -> Option<f64> {
        self.step.value()
    }

    /// Every field as plain values: answers as ``"unhealthy"``, ``"wants_up"`` or
    /// ``"allows_zero"``, ``wait`` in seconds, ``value`` the first trigger's.
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        step_dict(py, &self.step)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = &self.step;
        let fields = PyDict::new(py);
        fields.set_item("time", utc_datetime(py, s.time)?)?;
        fields.set_item("replicas_before", s.replicas_before)?;
        fields.set_item("replicas", s.replicas)?;
        fields.set_item("direction", s.direction.as_str())?;
        fields.set_item("reason", &s.reason)?;
        repr_of("ReplayStep", &fields)
    }
}

/// `ReplayStep.to_dict()` of `s`, read in place (the replay's dict and DataFrame copy no step).
fn step_dict<'py>(py: Python<'py>, s: &core::ReplayStep) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("time", utc_datetime(py, s.time)?)?;
    d.set_item("value", s.value())?;
    d.set_item("answer", answer_name(s.answer))?;
    d.set_item("direction", s.direction.as_str())?;
    d.set_item("reason", &s.reason)?;
    d.set_item("replicas_before", s.replicas_before)?;
    d.set_item("replicas", s.replicas)?;
    d.set_item("cold_start", s.cold_start)?;
    d.set_item("wait", s.wait.as_secs_f64())?;
    let triggers = PyList::empty(py);
    for t in &s.triggers {
        let t_dict = PyDict::new(py);
        t_dict.set_item("answer", answer_name(Some(t.answer)))?;
        t_dict.set_item("value", t.value)?;
        t_dict.set_item("note", t.note.as_deref())?;
        triggers.append(t_dict)?;
    }
    d.set_item("triggers", triggers)?;
    Ok(d)
}

/// The numbers of a replay.
///
/// Attributes:
///     steps: Steps replayed.
///     baseline_replicas: The count the target runs at when the loop leaves it up.
///     time_at_zero: Time the target spent at zero (``timedelta``).
///     fraction_at_zero: ``time_at_zero`` over the range (0 to 1).
///     replica_hours_saved: Replica-hours not run, against the baseline throughout.
///     scale_downs: Times the target went to zero.
///     scale_ups: Times it came back from zero.
///     cold_starts: Steps where traffic found the target at zero.
///     longest_at_zero: The longest stretch at zero (``timedelta``).
///     cold_start_wait: What the cold starts cost the requests that waited, in all
///         (``timedelta``).
///     worst_wait: The longest one of them waited (``timedelta``).
#[pyclass(frozen, eq, module = "kubescale")]
#[derive(Clone, PartialEq)]
pub struct ReplaySummary {
    summary: core::Summary,
}

#[pymethods]
impl ReplaySummary {
    #[getter]
    fn steps(&self) -> usize {
        self.summary.steps
    }

    #[getter]
    fn baseline_replicas(&self) -> i32 {
        self.summary.baseline_replicas
    }

    #[getter]
    fn time_at_zero(&self) -> Duration {
        self.summary.time_at_zero
    }

    #[getter]
    fn fraction_at_zero(&self) -> f64 {
        self.summary.fraction_at_zero
    }

    #[getter]
    fn replica_hours_saved(&self) -> f64 {
        self.summary.replica_hours_saved
    }

    #[getter]
    fn scale_downs(&self) -> usize {
        self.summary.scale_downs
    }

    #[getter]
    fn scale_ups(&self) -> usize {
        self.summary.scale_ups
    }

    #[getter]
    fn cold_starts(&self) -> usize {
        self.summary.cold_starts
    }

    #[getter]
    fn longest_at_zero(&self) -> Duration {
        self.summary.longest_at_zero
    }

    #[getter]
    fn cold_start_wait(&self) -> Duration {
        self.summary.cold_start_wait
    }

    #[getter]
    fn worst_wait(&self) -> Duration {
        self.summary.worst_wait
    }

    /// Every field, durations in seconds.
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(py, &self.summary)
    }

    /// The numbers in words, as the notebook's table shows them: ``("time at zero",
    /// "3m00s (43%)")``, ``("replica-hours saved", "0.1 (against 2)")``, ...
    ///
    /// Returns:
    ///     list[tuple[str, str]]
    fn rows(&self) -> Vec<(&'static str, String)> {
        self.summary.rows()
    }

    fn __repr__(&self) -> String {
        let rows: Vec<String> = self.summary.rows().into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("ReplaySummary({})", rows.join("; "))
    }

    fn _repr_html_(&self) -> String {
        html::fields("replay summary", &self.summary.rows())
    }
}

/// What the scale-to-zero loop would have done for one service over a range of time
/// (``ScaleHandler.replay``).
///
/// Attributes:
///     namespace: The service's namespace.
///     name: The service's name.
///     service: ``namespace/name`` of the ElastiService.
///     target: The target, ``TYPE/NAME``.
///     step: Time between steps (``timedelta``).
///     cooldown: The cooldown used, after overrides and the 0 → 900 s rule (``timedelta``).
///     trigger_types: Each trigger's type.
///     thresholds: Each trigger's ``threshold``, where it has a number.
///     overrides: What was tried instead of the spec, as given to ``replay`` (a copy).
///     label: The overrides in one line (``"cooldown=300"``), or ``"as stored"``.
///     steps: Every ``ReplayStep``, in time order.
///     summary: The numbers, a ``ReplaySummary``.
#[pyclass(frozen, module = "kubescale")]
pub struct Replay {
    replay: core::Replay,
    overrides: Py<PyDict>,
    steps: PyOnceLock<Py<PyTuple>>,
}

impl Replay {
    /// The core's replay, with the overrides the caller gave.
    pub fn new(replay: core::Replay, overrides: Py<PyDict>) -> Self {
        Replay { replay, overrides, steps: PyOnceLock::new() }
    }

    fn label_of(&self, py: Python<'_>) -> PyResult<String> {
        let given = self.overrides.bind(py).iter().map(|(k, v)| Ok((k.str()?.to_string(), v.str()?.to_string())));
        Ok(core::overrides_label(&given.collect::<PyResult<Vec<_>>>()?))
    }
}

#[pymethods]
impl Replay {
    #[getter]
    fn namespace(&self) -> &str {
        &self.replay.namespace
    }

    #[getter]
    fn name(&self) -> &str {
        &self.replay.name
    }

    #[getter]
    fn service(&self) -> String {
        format!("{}/{}", self.replay.namespace, self.replay.name)
    }

    #[getter]
    fn target(&self) -> &str {
        &self.replay.target
    }

    #[getter]
    fn step(&self) -> Duration {
        self.replay.step
    }

    #[getter]
    fn cooldown(&self) -> Duration {
        self.replay.cooldown
    }

    #[getter]
    fn trigger_types<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.replay.trigger_types)
    }

    #[getter]
    fn thresholds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.replay.thresholds)
    }

    #[getter]
    fn overrides<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.overrides.bind(py).copy()
    }

    #[getter]
    fn label(&self, py: Python<'_>) -> PyResult<String> {
        self.label_of(py)
    }

    #[getter]
    fn steps<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let steps = self.steps.get_or_try_init(py, || {
            PyTuple::new(py, self.replay.steps.iter().map(ReplayStep::of)).map(Bound::unbind)
        })?;
        Ok(steps.bind(py).clone())
    }

    #[getter]
    fn summary(&self) -> ReplaySummary {
        ReplaySummary { summary: self.replay.summary.clone() }
    }

    /// The steps that changed the target's count.
    ///
    /// Returns:
    ///     list[ReplayStep]
    fn transitions(&self) -> Vec<ReplayStep> {
        self.replay.steps.iter().filter(|s| s.moved()).map(ReplayStep::of).collect()
    }

    /// Everything as plain values (for JSON): the summary and every step (``ReplayStep.to_dict``).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = &self.replay;
        let d = PyDict::new(py);
        d.set_item("service", self.service())?;
        d.set_item("target", &r.target)?;
        d.set_item("step", r.step.as_secs_f64())?;
        d.set_item("cooldown", r.cooldown.as_secs_f64())?;
        d.set_item("trigger_types", &r.trigger_types)?;
        d.set_item("thresholds", &r.thresholds)?;
        d.set_item("overrides", self.overrides(py)?)?;
        d.set_item("summary", dict_of(py, &r.summary)?)?;
        let steps = r.steps.iter().map(|s| step_dict(py, s)).collect::<PyResult<Vec<_>>>()?;
        d.set_item("steps", steps)?;
        Ok(d)
    }

    /// The steps as a DataFrame indexed by time (needs pandas: ``pip install pandas``).
    ///
    /// Returns:
    ///     pandas.DataFrame: One row per step: ``value``, ``answer``, ``direction``,
    ///     ``reason``, ``replicas_before``, ``replicas``, ``cold_start``, ``wait``.
    ///
    /// Raises:
    ///     ImportError: pandas is not installed.
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pandas = py.import("pandas").map_err(|e| {
            let err = PyImportError::new_err("Replay.to_pandas() needs pandas: pip install pandas");
            err.set_cause(py, Some(e));
            err
        })?;
        let rows = PyList::empty(py);
        for s in &self.replay.steps {
            let row = step_dict(py, s)?;
            row.del_item("triggers")?;
            rows.append(row)?;
        }
        pandas.call_method1("DataFrame", (rows,))?.call_method1("set_index", ("time",))
    }

    /// This replay and ``other`` side by side (e.g. cooldown 300 against 900).
    ///
    /// Args:
    ///     other: Another replay, usually of the same service.
    ///
    /// Returns:
    ///     ReplayComparison
    fn compare(slf: Bound<'_, Self>, other: Bound<'_, Replay>) -> ReplayComparison {
        ReplayComparison { left: slf.unbind(), right: other.unbind() }
    }

    /// The replay as an SVG image: the replicas over time (a step line, left axis), the first
    /// trigger's value (dotted, right axis) with its threshold (dashed), stretches at zero and
    /// steps with an unhealthy trigger shaded, time ticks below (UTC). Above 1,500 steps the
    /// value's line is drawn from buckets, each its highest value.
    ///
    /// Args:
    ///     width: Pixels.
    ///     height: Pixels.
    ///
    /// Returns:
    ///     str: ``<svg ...>...</svg>``.
    #[pyo3(signature = (width=720, height=220))]
    fn plot_svg(&self, width: u32, height: u32) -> String {
        core::replay_svg(&self.replay, width, height, None)
    }

    /// A replay built by hand, for tests and examples without a cluster: one step per count
    /// in ``replicas``, ``step`` seconds apart from 2023-11-14 22:13:20 UTC, each with one
    /// Prometheus trigger (threshold 0.5) whose value is beside it in ``values`` (None: no
    /// sample, unhealthy), as if ``replay`` had been given ``overrides``.
    #[staticmethod]
    #[pyo3(signature = (replicas, values, step=60, overrides=None))]
    fn _example(
        py: Python<'_>,
        replicas: Vec<i32>,
        values: Vec<Option<f64>>,
        step: u64,
        overrides: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Replay> {
        let overrides = match overrides {
            Some(o) => o.copy()?,
            None => PyDict::new(py),
        };
        Ok(Replay::new(core::Replay::example(&replicas, &values, step), overrides.unbind()))
    }

    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        let caption = format!("replay of {} ({}), {}", self.service(), self.replay.target, self.label_of(py)?);
        let summary = html_rows(&caption, vec![String::new(), String::new()], &[&self.replay.summary]);
        let transitions = self.replay.transition_rows().into_iter().map(Vec::from).collect();
        let head = ["time", "replicas", "reason"].map(String::from).to_vec();
        Ok(format!(
            "<div>{summary}{}{}</div>",
            self.plot_svg(720, 220),
            html::html_table("transitions", head, transitions)
        ))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let m = &self.replay.summary;
        let fields = PyDict::new(py);
        fields.set_item("service", self.service())?;
        fields.set_item("steps", m.steps)?;
        fields.set_item("fraction_at_zero", (m.fraction_at_zero * 100.0).round() / 100.0)?;
        fields.set_item("scale_downs", m.scale_downs)?;
        fields.set_item("scale_ups", m.scale_ups)?;
        fields.set_item("cold_starts", m.cold_starts)?;
        fields.set_item("overrides", self.overrides.bind(py))?;
        repr_of("Replay", &fields)
    }
}

/// The summaries' rows side by side under `header`: one column per summary.
fn html_rows(caption: &str, header: Vec<String>, summaries: &[&core::Summary]) -> String {
    let columns: Vec<Vec<(&str, String)>> = summaries.iter().map(|s| s.rows()).collect();
    let rows = (0..columns[0].len())
        .map(|i| std::iter::once(columns[0][i].0.to_string()).chain(columns.iter().map(|c| c[i].1.clone())).collect())
        .collect();
    html::html_table(caption, header, rows)
}

/// Two replays side by side (``Replay.compare``).
///
/// Attributes:
///     left: The first replay.
///     right: The second.
#[pyclass(frozen, module = "kubescale")]
pub struct ReplayComparison {
    #[pyo3(get)]
    left: Py<Replay>,
    #[pyo3(get)]
    right: Py<Replay>,
}

#[pymethods]
impl ReplayComparison {
    /// Both summaries, keyed by each replay's label.
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for r in [self.left.get(), self.right.get()] {
            d.set_item(r.label_of(py)?, dict_of(py, &r.replay.summary)?)?;
        }
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let (l, r) = (self.left.get(), self.right.get());
        let fields = PyDict::new(py);
        fields.set_item("service", l.service())?;
        fields.set_item("left", l.label_of(py)?)?;
        fields.set_item("right", r.label_of(py)?)?;
        repr_of("ReplayComparison", &fields)
    }

    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        let (l, r) = (self.left.get(), self.right.get());
        let header = vec![String::new(), l.label_of(py)?, r.label_of(py)?];
        let table = html_rows(&format!("replay of {}", l.service()), header, &[&l.replay.summary, &r.replay.summary]);
        // One scale for both: they compare by eye.
        let shared = core::PlotScales::of(&[&l.replay, &r.replay]);
        let plots: String = [l, r].iter().map(|x| core::replay_svg(&x.replay, 720, 220, shared)).collect();
        Ok(format!("<div>{table}{plots}</div>"))
    }
}
