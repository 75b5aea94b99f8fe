//! Immutable value types returned to Python: `Resource`, `Scale`, `ScaleResult`, `Event`,
//! `Decision` (and `Decisions`, a list of them), `Answer`. Each renders itself as an HTML table
//! in a notebook through [`html`](crate::python::html).

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::core;
use crate::python::html;

/// A dict of `fields`, in their order (what `to_dict()` returns).
fn dict<'py>(py: Python<'py>, fields: &[(&str, Bound<'py, PyAny>)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in fields {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// Converts a field's value for [`dict`].
fn py_of<'py>(py: Python<'py>, v: impl IntoPyObjectExt<'py>) -> PyResult<Bound<'py, PyAny>> {
    v.into_bound_py_any(py)
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
#[pyclass(frozen, eq, module = "kubescale")]
#[derive(Clone, PartialEq)]
pub struct Resource {
    #[pyo3(get)]
    group: String,
    #[pyo3(get)]
    version: String,
    #[pyo3(get)]
    kind: String,
    #[pyo3(get)]
    plural: String,
    #[pyo3(get)]
    namespaced: bool,
    #[pyo3(get)]
    scalable: bool,
    short: Vec<String>,
}

#[pymethods]
impl Resource {
    /// Every field as a plain dict, in the order above (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict(
            py,
            &[
                ("group", py_of(py, &self.group)?),
                ("version", py_of(py, &self.version)?),
                ("kind", py_of(py, &self.kind)?),
                ("plural", py_of(py, &self.plural)?),
                ("namespaced", py_of(py, self.namespaced)?),
                ("scalable", py_of(py, self.scalable)?),
                ("short_names", py_of(py, &self.short)?),
                ("api_version", py_of(py, self.api_version())?),
            ],
        )
    }

    /// Short names, e.g. ``["deploy"]``.
    #[getter]
    fn short_names(&self) -> Vec<String> {
        self.short.clone()
    }

    /// ``group/version``, or ``version`` for the core group.
    #[getter]
    fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    fn __repr__(&self) -> String {
        format!(
            "Resource(group={:?}, version={:?}, kind={:?}, plural={:?}, namespaced={}, scalable={}, short_names={:?})",
            self.group,
            self.version,
            self.kind,
            self.plural,
            if self.namespaced { "True" } else { "False" },
            if self.scalable { "True" } else { "False" },
            self.short
        )
    }

    fn _repr_html_(&self) -> String {
        html::fields(
            "Resource",
            &[
                ("kind", self.kind.clone()),
                ("apiVersion", self.api_version()),
                ("plural", self.plural.clone()),
                ("namespaced", self.namespaced.to_string()),
                ("scalable", self.scalable.to_string()),
                ("short names", self.short.join(", ")),
            ],
        )
    }
}

impl From<core::Resource> for Resource {
    fn from(r: core::Resource) -> Self {
        Resource {
            group: r.group,
            version: r.version,
            kind: r.kind,
            plural: r.plural,
            namespaced: r.namespaced,
            scalable: r.scalable,
            short: r.short_names,
        }
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
pub struct Scale {
    #[pyo3(get)]
    namespace: String,
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    kind: String,
    #[pyo3(get)]
    api_version: String,
    #[pyo3(get)]
    spec_replicas: i32,
    #[pyo3(get)]
    status_replicas: i32,
    #[pyo3(get)]
    selector: Option<String>,
    #[pyo3(get)]
    resource_version: String,
}

#[pymethods]
impl Scale {
    /// Every field as a plain dict, in the order above (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict(
            py,
            &[
                ("namespace", py_of(py, &self.namespace)?),
                ("name", py_of(py, &self.name)?),
                ("kind", py_of(py, &self.kind)?),
                ("api_version", py_of(py, &self.api_version)?),
                ("spec_replicas", py_of(py, self.spec_replicas)?),
                ("status_replicas", py_of(py, self.status_replicas)?),
                ("selector", py_of(py, &self.selector)?),
                ("resource_version", py_of(py, &self.resource_version)?),
            ],
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "Scale(namespace={:?}, name={:?}, kind={:?}, api_version={:?}, spec_replicas={}, status_replicas={}, selector={}, resource_version={:?})",
            self.namespace,
            self.name,
            self.kind,
            self.api_version,
            self.spec_replicas,
            self.status_replicas,
            self.selector.as_ref().map_or_else(|| "None".to_string(), |s| format!("{s:?}")),
            self.resource_version
        )
    }

    fn _repr_html_(&self) -> String {
        html::fields(
            &format!("{}/{}", self.kind, self.name),
            &[
                ("namespace", self.namespace.clone()),
                ("spec replicas", self.spec_replicas.to_string()),
                ("status replicas", self.status_replicas.to_string()),
                ("selector", self.selector.clone().unwrap_or_default()),
            ],
        )
    }
}

impl From<core::Scale> for Scale {
    fn from(s: core::Scale) -> Self {
        Scale {
            namespace: s.namespace,
            name: s.name,
            kind: s.kind,
            api_version: s.api_version,
            spec_replicas: s.spec_replicas,
            status_replicas: s.status_replicas,
            selector: s.selector,
            resource_version: s.resource_version,
        }
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
pub struct ScaleResult {
    #[pyo3(get)]
    target: String,
    #[pyo3(get)]
    previous: i32,
    #[pyo3(get)]
    replicas: i32,
    #[pyo3(get)]
    changed: bool,
    #[pyo3(get)]
    reason: String,
}

#[pymethods]
impl ScaleResult {
    /// Every field as a plain dict, in the order above (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict(
            py,
            &[
                ("target", py_of(py, &self.target)?),
                ("previous", py_of(py, self.previous)?),
                ("replicas", py_of(py, self.replicas)?),
                ("changed", py_of(py, self.changed)?),
                ("reason", py_of(py, &self.reason)?),
            ],
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "ScaleResult(target={:?}, previous={}, replicas={}, changed={}, reason={:?})",
            self.target,
            self.previous,
            self.replicas,
            if self.changed { "True" } else { "False" },
            self.reason
        )
    }

    fn _repr_html_(&self) -> String {
        html::fields(
            &self.target,
            &[
                ("previous", self.previous.to_string()),
                ("replicas", self.replicas.to_string()),
                ("changed", self.changed.to_string()),
                ("reason", self.reason.clone()),
            ],
        )
    }
}

impl ScaleResult {
    pub(crate) fn changed(&self) -> bool {
        self.changed
    }

    pub(crate) fn previous(&self) -> i32 {
        self.previous
    }

    pub(crate) fn replicas(&self) -> i32 {
        self.replicas
    }

    pub(crate) fn reason(&self) -> &str {
        &self.reason
    }
}

impl From<core::ScaleResult> for ScaleResult {
    fn from(o: core::ScaleResult) -> Self {
        ScaleResult {
            target: o.target,
            previous: o.previous,
            replicas: o.replicas,
            changed: o.changed,
            reason: o.reason,
        }
    }
}

/// The outcome of one scale-to-zero pass for one ElastiService.
///
/// Attributes:
///     namespace: The service's namespace.
///     name: The service's name.
///     direction: "scale_up", "scale_down" or "no_scale".
///     reason: Why, in words.
///     error: What went wrong (then nothing was scaled), or None.
///     actions: What the pass did, or in a dry run would do, e.g.
///         ``["pause KEDA web-so", "scale deployment.apps/web 3 → 0"]``.
///     dry_run: Whether nothing was written.
///     shard: The service's shard in a sharded run (``run(shards=N)``), else None.
#[pyclass(frozen, eq, module = "kubescale")]
#[derive(Clone, PartialEq)]
pub struct Decision {
    #[pyo3(get)]
    namespace: String,
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    direction: &'static str,
    #[pyo3(get)]
    reason: String,
    #[pyo3(get)]
    error: Option<String>,
    #[pyo3(get)]
    actions: Vec<String>,
    #[pyo3(get)]
    dry_run: bool,
    #[pyo3(get)]
    shard: Option<u32>,
}

#[pymethods]
impl Decision {
    /// Every field as a plain dict, in the order above (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict(
            py,
            &[
                ("namespace", py_of(py, &self.namespace)?),
                ("name", py_of(py, &self.name)?),
                ("service", py_of(py, self.service())?),
                ("direction", py_of(py, self.direction)?),
                ("reason", py_of(py, &self.reason)?),
                ("error", py_of(py, &self.error)?),
                ("actions", py_of(py, &self.actions)?),
                ("dry_run", py_of(py, self.dry_run)?),
                ("shard", py_of(py, self.shard)?),
            ],
        )
    }

    /// ``namespace/name`` of the ElastiService.
    #[getter]
    fn service(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn __repr__(&self) -> String {
        format!(
            "Decision(service={:?}, direction={:?}, reason={:?}, error={}, actions={:?}{}{})",
            self.service(),
            self.direction,
            self.reason,
            self.error.as_ref().map_or_else(|| "None".to_string(), |e| format!("{e:?}")),
            self.actions,
            if self.dry_run { ", dry_run=True" } else { "" },
            self.shard.map_or_else(String::new, |s| format!(", shard={s}")),
        )
    }

    fn _repr_html_(&self) -> String {
        html::fields(
            &self.service(),
            &[
                ("direction", self.direction.to_string()),
                ("reason", self.reason.clone()),
                ("error", self.error.clone().unwrap_or_default()),
                (if self.dry_run { "would do" } else { "done" }, self.actions.join("; ")),
            ],
        )
    }
}

impl From<Vec<core::Decision>> for Decisions {
    fn from(ds: Vec<core::Decision>) -> Self {
        Decisions(ds.into_iter().map(Decision::from).collect())
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
        Decision {
            namespace: d.namespace,
            name: d.name,
            direction: d.direction.as_str(),
            reason: d.reason,
            error: d.error,
            actions: d.actions,
            dry_run: d.dry_run,
            shard: d.shard,
        }
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
pub struct Event {
    #[pyo3(get, name = "type")]
    type_: String,
    #[pyo3(get)]
    reason: String,
    #[pyo3(get)]
    action: String,
    #[pyo3(get)]
    note: String,
    #[pyo3(get)]
    count: i32,
    #[pyo3(get)]
    last_time: String,
    #[pyo3(get)]
    reporter: String,
}

#[pymethods]
impl Event {
    /// Every field as a plain dict, in the order above (for JSON, YAML or a DataFrame).
    ///
    /// Returns:
    ///     dict[str, Any]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dict(
            py,
            &[
                ("type", py_of(py, &self.type_)?),
                ("reason", py_of(py, &self.reason)?),
                ("action", py_of(py, &self.action)?),
                ("note", py_of(py, &self.note)?),
                ("count", py_of(py, self.count)?),
                ("last_time", py_of(py, &self.last_time)?),
                ("reporter", py_of(py, &self.reporter)?),
            ],
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "Event(type={:?}, reason={:?}, action={:?}, note={:?}, count={}, last_time={:?}, reporter={:?})",
            self.type_, self.reason, self.action, self.note, self.count, self.last_time, self.reporter
        )
    }

    /// The dict access of kubescale 0.1, deprecated: use the attribute.
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let message = format!("Event[{key:?}] is deprecated: use the attribute, Event.{key}");
        let warning = py.get_type::<pyo3::exceptions::PyDeprecationWarning>();
        PyErr::warn(py, &warning, &std::ffi::CString::new(message)?, 1)?;
        self.to_dict(py)?.get_item(key)?.ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.to_string()))
    }

    fn _repr_html_(&self) -> String {
        html::fields(
            &format!("{} {}", self.type_, self.reason),
            &[
                ("note", self.note.clone()),
                ("count", self.count.to_string()),
                ("last time", self.last_time.clone()),
                ("reporter", self.reporter.clone()),
            ],
        )
    }
}

impl From<core::Event> for Event {
    fn from(e: core::Event) -> Self {
        Event {
            type_: e.type_,
            reason: e.reason,
            action: e.action,
            note: e.note,
            count: e.count,
            last_time: e.last_time,
            reporter: e.reporter,
        }
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
