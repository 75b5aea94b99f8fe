//! Immutable value types returned to Python: `Resource`, `Scale`, `ScaleResult`, `Event`,
//! `Decision` (and `Decisions`, a list of them), `Answer`. Each renders itself as an HTML table
//! in a notebook through [`html`](crate::python::html).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::core;
use crate::python::html;

/// Every field of `value` as a plain dict, in the core type's order (what `to_dict()`
/// returns, for JSON, YAML or a DataFrame).
pub(crate) fn dict_of<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyDict>> {
    Ok(pythonize::pythonize(py, value)?.cast_into::<PyDict>()?)
}

/// `Name(field=value, ...)` with each value's Python repr, as a dataclass shows itself.
pub(crate) fn repr_of(name: &str, fields: &Bound<'_, PyDict>) -> PyResult<String> {
    let parts = fields.iter().map(|(k, v)| Ok(format!("{k}={}", v.repr()?))).collect::<PyResult<Vec<_>>>()?;
    Ok(format!("{name}({})", parts.join(", ")))
}

/// Adds the value types to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Resource>()?;
    m.add_class::<Scale>()?;
    m.add_class::<ScaleResult>()?;
    m.add_class::<Event>()?;
    m.add_class::<Decision>()?;
    m.add_class::<Answer>()?;
    m.add_function(wrap_pyfunction!(html::html_table, m)?)?;
    Ok(())
}

/// A resource type as the API server serves it (from discovery).
///
/// Attributes:
///     group: API group ("" for the core group).
///     version: API version.
///     kind: Kind, e.g. "Deployment".
///     plural: Plural resource name, e.g. "deployments".
///     namespaced: Whether objects live in namespaces.
///     scalable: Whether the type has a ``scale`` subresource.
///     short_names: Short names, e.g. ["deploy"].
///     api_version: ``group/version``, or ``version`` for the core group.
#[pyclass(frozen, eq, module = "kubescale")]
#[derive(Clone, PartialEq)]
pub struct Resource(core::Resource);

#[pymethods]
impl Resource {
    #[getter]
    fn group(&self) -> &str {
        &self.0.group
    }

    #[getter]
    fn version(&self) -> &str {
        &self.0.version
    }

    #[getter]
    fn kind(&self) -> &str {
        &self.0.kind
    }

    #[getter]
    fn plural(&self) -> &str {
        &self.0.plural
    }

    #[getter]
    fn namespaced(&self) -> bool {
        self.0.namespaced
    }

    #[getter]
    fn scalable(&self) -> bool {
        self.0.scalable
    }

    #[getter]
    fn short_names(&self) -> Vec<String> {
        self.0.short_names.clone()
    }

    #[getter]
    fn api_version(&self) -> String {
        self.0.api_version()
    }

    /// Every field as a plain dict, in the order above (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = dict_of(py, &self.0)?;
        d.set_item("api_version", self.0.api_version())?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of("Resource", &dict_of(py, &self.0)?)
    }

    fn _repr_html_(&self) -> String {
        let r = &self.0;
        html::fields(
            "Resource",
            &[
                ("kind", r.kind.clone()),
                ("apiVersion", r.api_version()),
                ("plural", r.plural.clone()),
                ("namespaced", r.namespaced.to_string()),
                ("scalable", r.scalable.to_string()),
                ("short names", r.short_names.join(", ")),
            ],
        )
    }
}

impl From<core::Resource> for Resource {
    fn from(r: core::Resource) -> Self {
        Resource(r)
    }
}

/// The ``scale`` subresource of a target, as read.
///
/// Attributes:
///     namespace: Namespace of the target.
///     name: Name of the target.
///     kind: Kind, e.g. "Deployment".
///     api_version: apiVersion, e.g. "apps/v1".
///     spec_replicas: Desired replicas (``spec.replicas``).
///     status_replicas: Observed replicas (``status.replicas``).
///     selector: The pods' label selector, if the kind reports one.
///     resource_version: resourceVersion of the read.
#[pyclass(frozen, eq, module = "kubescale")]
#[derive(Clone, PartialEq)]
pub struct Scale(core::Scale);

#[pymethods]
impl Scale {
    #[getter]
    fn namespace(&self) -> &str {
        &self.0.namespace
    }

    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }

    #[getter]
    fn kind(&self) -> &str {
        &self.0.kind
    }

    #[getter]
    fn api_version(&self) -> &str {
        &self.0.api_version
    }

    #[getter]
    fn spec_replicas(&self) -> i32 {
        self.0.spec_replicas
    }

    #[getter]
    fn status_replicas(&self) -> i32 {
        self.0.status_replicas
    }

    #[getter]
    fn selector(&self) -> Option<&str> {
        self.0.selector.as_deref()
    }

    #[getter]
    fn resource_version(&self) -> &str {
        &self.0.resource_version
    }

    /// Every field as a plain dict, in the order above (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(py, &self.0)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of("Scale", &dict_of(py, &self.0)?)
    }

    fn _repr_html_(&self) -> String {
        let s = &self.0;
        html::fields(
            &format!("{}/{}", s.kind, s.name),
            &[
                ("namespace", s.namespace.clone()),
                ("spec replicas", s.spec_replicas.to_string()),
                ("status replicas", s.status_replicas.to_string()),
                ("selector", s.selector.clone().unwrap_or_default()),
            ],
        )
    }
}

impl From<core::Scale> for Scale {
    fn from(s: core::Scale) -> Self {
        Scale(s)
    }
}

/// What a scale call did.
///
/// Attributes:
///     target: The target, as ``kind.group/name``.
///     previous: Desired replicas before the call.
///     replicas: Desired replicas after the call.
///     changed: Whether the call wrote a new count.
///     reason: Why, in words.
#[pyclass(frozen, eq, module = "kubescale")]
#[derive(Clone, PartialEq)]
pub struct ScaleResult(core::ScaleResult);

#[pymethods]
impl ScaleResult {
    #[getter]
    fn target(&self) -> &str {
        &self.0.target
    }

    #[getter]
    fn previous(&self) -> i32 {
        self.0.previous
    }

    #[getter]
    fn replicas(&self) -> i32 {
        self.0.replicas
    }

    #[getter]
    fn changed(&self) -> bool {
        self.0.changed
    }

    #[getter]
    fn reason(&self) -> &str {
        &self.0.reason
    }

    /// Every field as a plain dict, in the order above (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(py, &self.0)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of("ScaleResult", &dict_of(py, &self.0)?)
    }

    fn _repr_html_(&self) -> String {
        let o = &self.0;
        html::fields(
            &o.target,
            &[
                ("previous", o.previous.to_string()),
                ("replicas", o.replicas.to_string()),
                ("changed", o.changed.to_string()),
                ("reason", o.reason.clone()),
            ],
        )
    }
}

impl ScaleResult {
    /// The core's result.
    pub(crate) fn core(&self) -> &core::ScaleResult {
        &self.0
    }
}

impl From<core::ScaleResult> for ScaleResult {
    fn from(o: core::ScaleResult) -> Self {
        ScaleResult(o)
    }
}

/// The outcome of one scale-to-zero pass for one ElastiService.
///
/// Attributes:
///     namespace: The service's namespace.
///     name: The service's name.
///     service: ``namespace/name`` of the service.
///     direction: "scale_up", "scale_down" or "no_scale".
///     reason: Why, in words.
///     error: What went wrong (then nothing was scaled), or None.
///     actions: What the pass did, or in a dry run would do, e.g.
///         ``["pause KEDA web-so", "scale deployment.apps/web 3 → 0"]``.
///     dry_run: Whether nothing was written.
///     shard: The service's shard in a sharded run (``run(shards=N)``), else None.
#[pyclass(frozen, eq, module = "kubescale")]
#[derive(Clone, PartialEq)]
pub struct Decision(core::Decision);

#[pymethods]
impl Decision {
    #[getter]
    fn service(&self) -> String {
        format!("{}/{}", self.0.namespace, self.0.name)
    }

    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }

    #[getter]
    fn namespace(&self) -> &str {
        &self.0.namespace
    }

    #[getter]
    fn direction(&self) -> &'static str {
        self.0.direction.as_str()
    }

    #[getter]
    fn reason(&self) -> &str {
        &self.0.reason
    }

    #[getter]
    fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    #[getter]
    fn actions(&self) -> Vec<String> {
        self.0.actions.clone()
    }

    #[getter]
    fn dry_run(&self) -> bool {
        self.0.dry_run
    }

    #[getter]
    fn shard(&self) -> Option<u32> {
        self.0.shard
    }

    /// Every field as a plain dict, in the order above (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = dict_of(py, &self.0)?;
        d.set_item("service", self.service())?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of("Decision", &dict_of(py, &self.0)?)
    }

    fn _repr_html_(&self) -> String {
        let d = &self.0;
        html::fields(
            &self.service(),
            &[
                ("direction", d.direction.as_str().to_string()),
                ("reason", d.reason.clone()),
                ("error", d.error.clone().unwrap_or_default()),
                (if d.dry_run { "would do" } else { "done" }, d.actions.join("; ")),
            ],
        )
    }
}

impl From<Vec<core::Decision>> for Decisions {
    fn from(ds: Vec<core::Decision>) -> Self {
        Decisions(ds.into_iter().map(Decision).collect())
    }
}

/// A pass's decisions, returned as ``kubescale.Decisions`` (a ``list`` that renders as one
/// HTML table in a notebook).
pub struct Decisions(pub Vec<Decision>);

impl<'py> IntoPyObject<'py> for Decisions {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let items = self.0.into_pyobject(py)?;
        py.import("kubescale._types")?.getattr("Decisions")?.call1((items,))
    }
}

impl From<core::Decision> for Decision {
    fn from(d: core::Decision) -> Self {
        Decision(d)
    }
}

/// An ``events.k8s.io/v1`` Event, as ``ScaleHandler.events()`` lists it.
///
/// Attributes:
///     type: "Normal" or "Warning".
///     reason: e.g. "SuccessToScale".
///     action: e.g. "Scale".
///     note: The human-readable text (the newest of a series).
///     count: How often it happened (the series count).
///     last_time: RFC 3339 time of the last occurrence.
///     reporter: The reporting controller.
///
/// ``event["reason"]`` (the dict access of kubescale 0.1's Events) still works, with a
/// DeprecationWarning.
#[pyclass(frozen, eq, module = "kubescale")]
#[derive(Clone, PartialEq)]
pub struct Event(core::Event);

#[pymethods]
impl Event {
    #[getter(r#type)]
    fn type_(&self) -> &str {
        &self.0.type_
    }

    #[getter]
    fn reason(&self) -> &str {
        &self.0.reason
    }

    #[getter]
    fn action(&self) -> &str {
        &self.0.action
    }

    #[getter]
    fn note(&self) -> &str {
        &self.0.note
    }

    #[getter]
    fn count(&self) -> i32 {
        self.0.count
    }

    #[getter]
    fn last_time(&self) -> &str {
        &self.0.last_time
    }

    #[getter]
    fn reporter(&self) -> &str {
        &self.0.reporter
    }

    /// Every field as a plain dict, in the order above (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(py, &self.0)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of("Event", &dict_of(py, &self.0)?)
    }

    /// The dict access of kubescale 0.1, deprecated: use the attribute.
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let message = format!("Event[{key:?}] is deprecated: use the attribute, Event.{key}");
        let warning = py.get_type::<pyo3::exceptions::PyDeprecationWarning>();
        PyErr::warn(py, &warning, &std::ffi::CString::new(message)?, 1)?;
        self.to_dict(py)?.get_item(key)?.ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.to_string()))
    }

    fn _repr_html_(&self) -> String {
        let e = &self.0;
        html::fields(
            &format!("{} {}", e.type_, e.reason),
            &[
                ("note", e.note.clone()),
                ("count", e.count.to_string()),
                ("last time", e.last_time.clone()),
                ("reporter", e.reporter.clone()),
            ],
        )
    }
}

impl From<core::Event> for Event {
    fn from(e: core::Event) -> Self {
        Event(e)
    }
}

/// What a trigger says, as a Python scaler's answer reaches the loop: one of ``UNHEALTHY``
/// (its data cannot be trusted now: no scaling), ``WANTS_UP`` (the target should run) and
/// ``ALLOWS_ZERO`` (the target may be at zero).
#[pyclass(frozen, eq, eq_int, hash, from_py_object, module = "kubescale")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    /// The trigger's data source cannot be trusted now.
    #[pyo3(name = "UNHEALTHY")]
    Unhealthy,
    /// The trigger wants the target up.
    #[pyo3(name = "WANTS_UP")]
    WantsUp,
    /// The trigger allows zero.
    #[pyo3(name = "ALLOWS_ZERO")]
    AllowsZero,
}

impl From<Answer> for core::Answer {
    fn from(a: Answer) -> Self {
        match a {
            Answer::Unhealthy => core::Answer::Unhealthy,
            Answer::WantsUp => core::Answer::WantsUp,
            Answer::AllowsZero => core::Answer::AllowsZero,
        }
    }
}

impl From<core::Answer> for Answer {
    fn from(a: core::Answer) -> Self {
        match a {
            core::Answer::Unhealthy => Answer::Unhealthy,
            core::Answer::WantsUp => Answer::WantsUp,
            core::Answer::AllowsZero => Answer::AllowsZero,
        }
    }
}
