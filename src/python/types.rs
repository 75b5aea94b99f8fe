//! Immutable value types returned to Python: `Resource`, `Scale`, `ScaleResult`.

use pyo3::prelude::*;

use crate::core;

fn html_table(title: &str, rows: &[(&str, String)]) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body: String = rows
        .iter()
        .map(|(k, v)| format!("<tr><th style=\"text-align:left\">{k}</th><td>{}</td></tr>", esc(v)))
        .collect();
    format!("<table><caption>{}</caption>{body}</table>", esc(title))
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
///     short_names: Short names, e.g. ("deploy",).
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
    /// Short names, e.g. ``("deploy",)``.
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
        html_table(
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
        html_table(
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
        html_table(
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
}

#[pymethods]
impl Decision {
    /// ``namespace/name`` of the ElastiService.
    #[getter]
    fn service(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn __repr__(&self) -> String {
        format!(
            "Decision(service={:?}, direction={:?}, reason={:?}, error={}, actions={:?}{})",
            self.service(),
            self.direction,
            self.reason,
            self.error.as_ref().map_or_else(|| "None".to_string(), |e| format!("{e:?}")),
            self.actions,
            if self.dry_run { ", dry_run=True" } else { "" },
        )
    }

    fn _repr_html_(&self) -> String {
        html_table(
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
        }
    }
}
