//! `ScaleHandler` (blocking) and `AsyncScaleHandler` (awaitable): the same methods, generated
//! once by `handler_class!`, each a thin conversion around one `async fn` of the core.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;

use crate::core::{self, EventSpec, EventType, HandlerOptions, RunOptions, ScaleOptions};
use crate::python::args;
use crate::python::asyncio_bridge::run_async;
use crate::python::blocking::run_sync;
use crate::python::runtime::runtime;
use crate::python::scaler_bridge::{LoopCell, PyScalerFactory};
use crate::python::types::{Decision, Decisions, Resource, Scale, ScaleResult};

// The constructor's signature spells the default out (so that `__text_signature__` shows it).
const _: () = assert!(core::DEFAULT_CONCURRENCY == 32);
const _: () = assert!(core::elasti::controller::DEFAULT_SCALER_CONCURRENCY == 16);

/// The constructor's arguments.
struct NewArgs {
    namespace: Option<String>,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    reporter: String,
    timeout: Option<f64>,
    record_events: bool,
    concurrency: i64,
}

/// Builds the core handler (reads config; no request is made).
fn connect(py: Python<'_>, a: NewArgs) -> PyResult<Arc<core::ScaleHandler>> {
    let timeout = a.timeout.map(|t| args::seconds("timeout", t)).transpose()?;
    // Out of range either way: the core names the problem.
    let concurrency = usize::try_from(a.concurrency).unwrap_or(0);
    let connect = core::config::ConnectOptions { kubeconfig: a.kubeconfig, context: a.context, timeout };
    let opts = HandlerOptions {
        connect,
        namespace: a.namespace,
        reporter: a.reporter,
        record_events: a.record_events,
        concurrency,
    };
    let handler = py.detach(|| runtime().block_on(core::ScaleHandler::connect(opts)))?;
    Ok(Arc::new(handler))
}

/// An Event as a plain dict (converted to a Python dict on return).
fn event_dict(e: core::Event) -> std::collections::BTreeMap<&'static str, EventValue> {
    use EventValue::{Int, Text};
    std::collections::BTreeMap::from([
        ("type", Text(e.type_)),
        ("reason", Text(e.reason)),
        ("action", Text(e.action)),
        ("note", Text(e.note)),
        ("count", Int(e.count)),
        ("last_time", Text(e.last_time)),
        ("reporter", Text(e.reporter)),
    ])
}

/// A value of an Event dict.
#[derive(IntoPyObject)]
enum EventValue {
    Text(String),
    Int(i32),
}

fn repr(name: &str, h: &core::ScaleHandler) -> String {
    format!(
        "{name}(server={:?}, context={}, namespace={})",
        h.server(),
        h.context().map_or_else(|| "None".to_string(), |c| format!("{c:?}")),
        h.watch_namespace().map_or_else(|| "None".to_string(), |n| format!("{n:?}")),
    )
}

/// The constructor's arguments, part of both classes' docstrings (Python shows the class
/// docstring, not `__new__`'s, in `help()`).
macro_rules! constructor_doc {
    () => {
        "Connects to a cluster the way kubectl does.

Args:
    namespace: The watch namespace. When set, calls for any other namespace raise
        NamespaceNotAllowedError; calls without ``namespace=`` use it.
    kubeconfig: A kubeconfig file. Default: ``$KUBECONFIG`` (several paths merged),
        then ``~/.kube/config``, then the in-cluster service account.
    context: A context of the kubeconfig. Default: its current context.
    reporter: ``reportingController`` of the Events this handler records.
    timeout: Seconds to wait for the connection and for each read or write.
        Default: 60 s for a read or a write without progress, 30 s to connect, so a
        stalled connection fails the call (ApiUnavailableError) instead of hanging.
    record_events: Record an Event for every change and every failed scale
        (``SuccessToScale``, ``FailedToScale``), as the loop does for its
        decisions. Each is one more API write; ``False`` skips them.
        ``record_event()`` records regardless.
    concurrency: How many scale operations may talk to the API server at once.
        Further calls queue for a place (a fair queue, in the order the calls
        reach the runtime), which bounds the load on the API server and keeps the
        latency of a burst even.
    scaler_concurrency: How many ElastiServices the loop asks its scalers about at
        once; the others wait their turn. A scaler call that does not return within
        its ``register_scaler(timeout=)`` is that service's error, and the trigger is
        not called again until the stuck call returns (no thread per pass).

Raises:
    ConfigError: No usable configuration, or an unknown context.
    InvalidValueError: ``namespace`` is not a valid namespace name, or
        ``concurrency`` or ``scaler_concurrency`` is below 1, or ``reporter`` is empty
        or longer than 128 characters."
    };
}

macro_rules! handler_class {
    ($cls:ident, $pyname:literal, $run:ident, $run_loop:ident, $capture_loop:ident, $doc:literal, { $($extra:tt)* }) => {
        #[doc = concat!($doc, "\n\n", constructor_doc!())]
        #[pyclass(frozen, name = $pyname, module = "kubescale")]
        pub struct $cls {
            inner: Arc<core::ScaleHandler>,
            /// The scale-to-zero loop, scaling through `inner`.
            elasti: Arc<core::Controller>,
            loop_cell: LoopCell,
        }

        #[pymethods]
        impl $cls {
            /// Connects to a cluster the way kubectl does (arguments: see the class docstring).
            #[new]
            #[pyo3(signature = (
                namespace=None, *, kubeconfig=None, context=None, reporter="kubescale", timeout=None,
                record_events=true, concurrency=32, scaler_concurrency=16,
            ))]
            #[allow(clippy::too_many_arguments)]
            fn new(
                py: Python<'_>,
                namespace: Option<String>,
                kubeconfig: Option<PathBuf>,
                context: Option<String>,
                reporter: &str,
                timeout: Option<f64>,
                record_events: bool,
                concurrency: i64,
                scaler_concurrency: i64,
            ) -> PyResult<Self> {
                let scaler_concurrency = usize::try_from(scaler_concurrency).ok().filter(|n| *n >= 1).ok_or_else(|| {
                    core::Error::InvalidValue { field: "scaler_concurrency", problem: "must be at least 1".into() }
                })?;
                let reporter = reporter.to_string();
                let a = NewArgs { namespace, kubeconfig, context, reporter, timeout, record_events, concurrency };
                let inner = connect(py, a)?;
                let elasti = Arc::new(core::Controller::new(inner.clone(), scaler_concurrency));
                Ok(Self { inner, elasti, loop_cell: LoopCell::default() })
            }

            fn __repr__(&self) -> String {
                repr($pyname, &self.inner)
            }

            /// The API server's URL.
            #[getter]
            fn server(&self) -> String {
                self.inner.server().to_string()
            }

            /// The kubeconfig context in use (None in-cluster).
            #[getter]
            fn context(&self) -> Option<String> {
                self.inner.context().map(str::to_string)
            }

            /// The watch namespace, or None.
            #[getter]
            fn namespace(&self) -> Option<String> {
                self.inner.watch_namespace().map(str::to_string)
            }

            /// The namespace calls use when they name none.
            #[getter]
            fn default_namespace(&self) -> String {
                self.inner.default_namespace().to_string()
            }

            /// How many per-target locks are held or awaited right now (0 when idle).
            #[getter]
            fn lock_count(&self) -> usize {
                self.inner.lock_count()
            }

            /// Closes the handler: writes the Events still queued (waiting at most 5 s), then
            /// later calls raise HandlerClosedError.
            fn close(&self, py: Python<'_>) {
                close_flushing(py, &self.elasti);
            }

            /// Forgets the cached discovery information (e.g. after installing a CRD).
            fn reset_discovery(&self) {
                self.inner.reset_discovery();
            }

            /// Resolves a resource type through discovery, as kubectl does.
            ///
            /// Args:
            ///     type: ``deploy``, ``deployments``, ``deployments.apps``, ``Deployment.v1.apps``...
            ///
            /// Returns:
            ///     Resource: group, version, kind, plural, namespaced, scalable, short_names.
            ///
            /// Raises:
            ///     InvalidTargetError: The type is malformed.
            ///     NoMatchError: The server serves no such type.
            #[pyo3(signature = (r#type))]
            fn resolve(&self, py: Python<'_>, r#type: &str) -> PyResult<Py<PyAny>> {
                let spec = core::TypeSpec::parse(r#type)?;
                let h = self.inner.clone();
                $run(py, async move { h.resolve(&spec).await.map(Resource::from) })
            }

            /// Lists the resource types the server serves (preferred versions), like
            /// ``kubectl api-resources``.
            ///
            /// Args:
            ///     scalable: Only the types with a ``scale`` subresource.
            ///
            /// Returns:
            ///     list[Resource]
            ///
            /// Raises:
            ///     ForbiddenError, ApiUnavailableError.
            #[pyo3(signature = (*, scalable=false))]
            fn resources(&self, py: Python<'_>, scalable: bool) -> PyResult<Py<PyAny>> {
                let h = self.inner.clone();
                $run(py, async move {
                    h.resources(scalable).await.map(|rs| rs.into_iter().map(Resource::from).collect::<Vec<_>>())
                })
            }

            /// Reads the scale subresource of a target.
            ///
            /// Args:
            ///     target: ``TYPE[.VERSION][.GROUP]/NAME``, e.g. ``"deployment/web"``; or give
            ///         ``api_version=``, ``kind=`` and ``name=`` instead.
            ///     namespace: Default: the watch namespace, else the context's, else "default".
            ///
            /// Returns:
            ///     Scale: spec and status replicas, selector, resourceVersion.
            ///
            /// Raises:
            ///     InvalidTargetError, NoMatchError, NotScalableError, NamespaceNotAllowedError,
            ///     NotFoundError, ForbiddenError, ApiUnavailableError.
            #[pyo3(signature = (target=None, *, namespace=None, api_version=None, kind=None, name=None))]
            fn get_scale(
                &self,
                py: Python<'_>,
                target: Option<&str>,
                namespace: Option<String>,
                api_version: Option<&str>,
                kind: Option<&str>,
                name: Option<&str>,
            ) -> PyResult<Py<PyAny>> {
                let t = args::target(target, api_version, kind, name)?;
                let h = self.inner.clone();
                $run(py, async move { h.get_scale(&t, namespace.as_deref()).await.map(Scale::from) })
            }

            /// Sets the desired replicas of a target.
            ///
            /// Serialised per target; compares with the desired (spec) count, so an equal count
            /// writes nothing; retries conflicts with a fresh read; records an Event
            /// (``SuccessToScale`` or ``FailedToScale``) regarding the target.
            ///
            /// Args:
            ///     target: ``TYPE[.VERSION][.GROUP]/NAME``, or the keywords below.
            ///     replicas: The desired count, an int from 0 to 2**31-1.
            ///     namespace: Default: the watch namespace, else the context's, else "default".
            ///     at_least: Keep a current count that is larger than ``replicas``.
            ///     dry_run: Let the server validate the write without applying it.
            ///     api_version, kind, name: The target, when not given as a string.
            ///
            /// Returns:
            ///     ScaleResult: target, previous, replicas, changed, reason.
            ///
            /// Raises:
            ///     TypeError, InvalidValueError: ``replicas`` is not a non-negative int32.
            ///     InvalidTargetError, NoMatchError, NotScalableError, NamespaceNotAllowedError,
            ///     NotFoundError, ForbiddenError, InvalidError, ApiUnavailableError.
            #[pyo3(signature = (target=None, replicas=None, *, namespace=None, at_least=false, dry_run=false, api_version=None, kind=None, name=None))]
            #[allow(clippy::too_many_arguments)]
            fn scale(
                &self,
                py: Python<'_>,
                target: Option<&str>,
                replicas: Option<&Bound<'_, PyAny>>,
                namespace: Option<String>,
                at_least: bool,
                dry_run: bool,
                api_version: Option<&str>,
                kind: Option<&str>,
                name: Option<&str>,
            ) -> PyResult<Py<PyAny>> {
                let t = args::target(target, api_version, kind, name)?;
                let r = args::replicas("replicas", replicas)?;
                let h = self.inner.clone();
                let opts = ScaleOptions { at_least, dry_run };
                $run(py, async move { h.scale(&t, r, namespace.as_deref(), opts).await.map(ScaleResult::from) })
            }

            /// Remembers the desired count in the ``kubescale.io/previous-replicas`` annotation of
            /// the target, then scales it to 0.
            ///
            /// Args:
            ///     target: ``TYPE[.VERSION][.GROUP]/NAME``, or the keywords below.
            ///     namespace: Default: the watch namespace, else the context's, else "default".
            ///     api_version, kind, name: The target, when not given as a string.
            ///
            /// Returns:
            ///     ScaleResult
            ///
            /// Raises:
            ///     The errors of ``scale``.
            #[pyo3(signature = (target=None, *, namespace=None, api_version=None, kind=None, name=None))]
            fn scale_to_zero(
                &self,
                py: Python<'_>,
                target: Option<&str>,
                namespace: Option<String>,
                api_version: Option<&str>,
                kind: Option<&str>,
                name: Option<&str>,
            ) -> PyResult<Py<PyAny>> {
                let t = args::target(target, api_version, kind, name)?;
                let h = self.inner.clone();
                $run(py, async move { h.scale_to_zero(&t, namespace.as_deref()).await.map(ScaleResult::from) })
            }

            /// Scales a target up from zero.
            ///
            /// Args:
            ///     target: ``TYPE[.VERSION][.GROUP]/NAME``, or the keywords below.
            ///     min_replicas: The least count to scale to.
            ///     namespace: Default: the watch namespace, else the context's, else "default".
            ///     restore: Scale to the count remembered by ``scale_to_zero`` (at least
            ///         ``min_replicas``); else to ``min_replicas``. A larger current count is kept.
            ///     api_version, kind, name: The target, when not given as a string.
            ///
            /// Returns:
            ///     ScaleResult
            ///
            /// Raises:
            ///     The errors of ``scale``.
            #[pyo3(signature = (target=None, min_replicas=None, *, namespace=None, restore=true, api_version=None, kind=None, name=None))]
            #[allow(clippy::too_many_arguments)]
            fn scale_from_zero(
                &self,
                py: Python<'_>,
                target: Option<&str>,
                min_replicas: Option<&Bound<'_, PyAny>>,
                namespace: Option<String>,
                restore: bool,
                api_version: Option<&str>,
                kind: Option<&str>,
                name: Option<&str>,
            ) -> PyResult<Py<PyAny>> {
                let t = args::target(target, api_version, kind, name)?;
                let min = match min_replicas {
                    Some(v) => args::replicas("min_replicas", Some(v))?,
                    None => 1,
                };
                let h = self.inner.clone();
                $run(py, async move { h.scale_from_zero(&t, min, namespace.as_deref(), restore).await.map(ScaleResult::from) })
            }

            /// Waits, with a watch, until the target's replicas reach a count.
            ///
            /// Args:
            ///     target: ``TYPE[.VERSION][.GROUP]/NAME``, or the keywords below.
            ///     replicas: The count to wait for. Default: the target's desired count.
            ///     ready: Count ready replicas, where the kind reports them.
            ///     timeout: Seconds to wait.
            ///     namespace: Default: the watch namespace, else the context's, else "default".
            ///     api_version, kind, name: The target, when not given as a string.
            ///
            /// Returns:
            ///     Scale: the scale subresource once the count is reached.
            ///
            /// Raises:
            ///     WaitTimeoutError: The count was not reached in time (states wanted and seen).
            ///     The errors of ``get_scale``.
            #[pyo3(signature = (target=None, replicas=None, *, ready=true, timeout=60.0, namespace=None, api_version=None, kind=None, name=None))]
            #[allow(clippy::too_many_arguments)]
            fn wait_for_replicas(
                &self,
                py: Python<'_>,
                target: Option<&str>,
                replicas: Option<&Bound<'_, PyAny>>,
                ready: bool,
                timeout: f64,
                namespace: Option<String>,
                api_version: Option<&str>,
                kind: Option<&str>,
                name: Option<&str>,
            ) -> PyResult<Py<PyAny>> {
                let t = args::target(target, api_version, kind, name)?;
                let wanted = replicas.map(|r| args::replicas("replicas", Some(r))).transpose()?;
                let timeout = args::seconds("timeout", timeout)?;
                let h = self.inner.clone();
                $run(py, async move {
                    h.wait_for_replicas(&t, wanted, ready, timeout, namespace.as_deref()).await.map(Scale::from)
                })
            }

            /// Pauses a KEDA ScaledObject (``autoscaling.keda.sh/paused: "true"``,
            /// ``paused-replicas: "0"``).
            ///
            /// Args:
            ///     scaled_object: The ScaledObject's name.
            ///     namespace: Default: the watch namespace, else the context's, else "default".
            ///
            /// Returns:
            ///     bool: Whether anything was written (False when already paused).
            ///
            /// Raises:
            ///     NoMatchError: KEDA's CRD is not installed. NotFoundError, ForbiddenError.
            #[pyo3(signature = (scaled_object, *, namespace=None))]
            fn pause_keda(&self, py: Python<'_>, scaled_object: String, namespace: Option<String>) -> PyResult<Py<PyAny>> {
                let h = self.inner.clone();
                $run(py, async move { h.set_keda_paused(&scaled_object, namespace.as_deref(), true).await })
            }

            /// Resumes a KEDA ScaledObject (``paused: "false"``, ``paused-replicas`` removed).
            ///
            /// Args:
            ///     scaled_object: The ScaledObject's name.
            ///     namespace: Default: the watch namespace, else the context's, else "default".
            ///
            /// Returns:
            ///     bool: Whether anything was written (False when already resumed).
            ///
            /// Raises:
            ///     NoMatchError: KEDA's CRD is not installed. NotFoundError, ForbiddenError.
            #[pyo3(signature = (scaled_object, *, namespace=None))]
            fn resume_keda(&self, py: Python<'_>, scaled_object: String, namespace: Option<String>) -> PyResult<Py<PyAny>> {
                let h = self.inner.clone();
                $run(py, async move { h.set_keda_paused(&scaled_object, namespace.as_deref(), false).await })
            }

            /// Records an ``events.k8s.io/v1`` Event regarding a target (any kind).
            ///
            /// Args:
            ///     target: ``TYPE[.VERSION][.GROUP]/NAME``.
            ///     type: "Normal" or "Warning".
            ///     reason: UpperCamelCase reason, e.g. "ManualScale".
            ///     note: Human-readable text (cut at 1 kB).
            ///     namespace: Default: the watch namespace, else the context's, else "default".
            ///     action: What was done.
            ///
            /// Raises:
            ///     InvalidValueError: Bad type or reason. ForbiddenError, ApiUnavailableError.
            #[pyo3(signature = (target, r#type, reason, note, *, namespace=None, action="Scale"))]
            #[allow(clippy::too_many_arguments)]
            fn record_event(
                &self,
                py: Python<'_>,
                target: &str,
                r#type: &str,
                reason: String,
                note: String,
                namespace: Option<String>,
                action: &str,
            ) -> PyResult<Py<PyAny>> {
                let t = core::TargetRef::parse(target)?;
                let ev = EventSpec { type_: EventType::parse(r#type)?, reason, action: action.to_string(), note };
                let h = self.inner.clone();
                $run(py, async move { h.record_event(&t, namespace.as_deref(), &ev).await })
            }

            /// Lists the Events regarding a target, oldest first.
            ///
            /// Args:
            ///     target: ``TYPE[.VERSION][.GROUP]/NAME`` (any kind).
            ///     namespace: Default: the watch namespace, else the context's, else "default".
            ///
            /// Returns:
            ///     list[dict]: type, reason, action, note, count, last_time, reporter.
            ///
            /// Raises:
            ///     InvalidTargetError, NoMatchError, ForbiddenError, ApiUnavailableError.
            #[pyo3(signature = (target, *, namespace=None))]
            fn events(&self, py: Python<'_>, target: &str, namespace: Option<String>) -> PyResult<Py<PyAny>> {
                let t = core::TargetRef::parse(target)?;
                let h = self.inner.clone();
                $run(py, async move {
                    h.events(&t, namespace.as_deref()).await.map(|es| es.into_iter().map(event_dict).collect::<Vec<_>>())
                })
            }

            /// Registers a Python scaler for a trigger type (overriding a built-in one).
            ///
            /// Args:
            ///     type: The trigger ``type`` in ElastiService objects, e.g. "queue-depth".
            ///     factory: ``factory(metadata: dict, cooldown: datetime.timedelta) -> Scaler``;
            ///         the scaler's methods may be plain or ``async``.
            ///     timeout: Seconds one trigger's evaluation may take (the factory, then
            ///         ``is_healthy()`` and ``should_scale_to_zero()``, run together in one
            ///         call with the GIL); a slower one makes that service's decision an error.
            ///
            /// Evaluations run on a few threads of kubescale's, which answer queued calls one
            /// after another while holding the GIL; a call that blocks (I/O, ``time.sleep``)
            /// gets the others moving on another thread within 20 ms.
            ///
            /// Raises:
            ///     TypeError: ``factory`` is not callable.
            ///     InvalidValueError: ``type`` is empty or ``timeout`` is not positive.
            #[pyo3(signature = (r#type, factory, *, timeout=10.0))]
            fn register_scaler(&self, r#type: &str, factory: Bound<'_, PyAny>, timeout: f64) -> PyResult<()> {
                if !factory.is_callable() {
                    return Err(pyo3::exceptions::PyTypeError::new_err("factory must be callable"));
                }
                let timeout = args::seconds("timeout", timeout)?;
                if timeout.is_zero() {
                    return Err(core::Error::InvalidValue { field: "timeout", problem: "must be positive".into() }.into());
                }
                let f = PyScalerFactory {
                    type_: r#type.to_string(),
                    factory: Arc::new(factory.unbind()),
                    timeout,
                    loop_cell: self.loop_cell.clone(),
                    busy: Default::default(),
                };
                Ok(self.elasti.scalers().register(r#type, Arc::new(f))?)
            }

            /// kubescale's metrics in Prometheus' (OpenMetrics) text format: passes, decisions,
            /// errors, scale and Event writes, API requests, scaler latency, leadership. One
            /// set per process.
            ///
            /// Returns:
            ///     str: The exposition text.
            fn metrics(&self) -> String {
                core::metrics::metrics().encode()
            }

            /// Serves ``/metrics``, ``/healthz`` and ``/readyz`` over HTTP until the handler
            /// is closed (what ``kubescale run --metrics-bind-address`` does).
            ///
            /// Args:
            ///     address: ``host:port`` to listen on; port 0 picks a free one.
            ///
            /// Returns:
            ///     str: The address listened on, ``host:port``.
            ///
            /// Raises:
            ///     InvalidValueError: The address cannot be listened on.
            #[pyo3(signature = (address="127.0.0.1:8080"))]
            fn serve_metrics(&self, py: Python<'_>, address: &str) -> PyResult<String> {
                let c = self.elasti.clone();
                let address = address.to_string();
                let bound = py.detach(|| runtime().block_on(core::serve::serve(&address, c)))?;
                Ok(bound.to_string())
            }

            /// Applies the ElastiService CRD (server-side apply; idempotent) and waits until it
            /// is established.
            ///
            /// Returns:
            ///     list[str]: The names of the CRDs applied.
            ///
            /// Raises:
            ///     ForbiddenError: No permission to manage CRDs. ApiUnavailableError.
            fn install_crds(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                let c = self.elasti.clone();
                $run(py, async move { c.install_crds().await })
            }

            /// One scale-to-zero pass over the ElastiServices of the watch namespace (all
            /// namespaces when the handler has none).
            ///
            /// Args:
            ///     dry_run: Decide exactly as a real pass and write nothing (no scale, KEDA
            ///         annotation, status, Event or finalizer); each decision's ``actions``
            ///         say what the pass would have done.
            ///
            /// Returns:
            ///     Decisions: One Decision per service (a list, shown as one table in a
            ///     notebook); a failing service has ``error`` set while the others proceed.
            ///
            /// Raises:
            ///     NoMatchError: The ElastiService CRD is not installed. ForbiddenError,
            ///     ApiUnavailableError.
            #[pyo3(signature = (*, dry_run=false))]
            fn check_and_scale(&self, py: Python<'_>, dry_run: bool) -> PyResult<Py<PyAny>> {
                $capture_loop(py, &self.loop_cell)?;
                let c = self.elasti.clone();
                $run(py, async move {
                    c.check_and_scale(dry_run).await.map(|ds| Decisions(ds.into_iter().map(Decision::from).collect()))
                })
            }

            /// Lets go of every target the loop holds at zero: restores it (the remembered
            /// count, at least ``minTargetReplicas``), resumes its KEDA ScaledObject, and
            /// removes kubescale's finalizer from the ElastiService, so that kubescale can be
            /// uninstalled without stranding anything. Stop the loop first, or its next pass
            /// takes the targets back to zero. What can never be restored (the target or its
            /// kind gone, a spec that cannot be read) is reported in the decision's ``reason``
            /// and a Warning Event, and the finalizer still goes.
            ///
            /// Args:
            ///     namespace: Only the ElastiServices of this namespace. Default: the watch
            ///         namespace, else every namespace.
            ///     dry_run: Write nothing; ``actions`` say what would be done.
            ///
            /// Returns:
            ///     Decisions: One Decision per service that was held, its ``actions`` saying
            ///     what was done; ``error`` is set where it failed (retry it).
            ///
            /// Raises:
            ///     NoMatchError: The ElastiService CRD is not installed. ForbiddenError,
            ///     NamespaceNotAllowedError, ApiUnavailableError.
            #[pyo3(signature = (namespace=None, *, dry_run=false))]
            fn release_all(&self, py: Python<'_>, namespace: Option<String>, dry_run: bool) -> PyResult<Py<PyAny>> {
                $capture_loop(py, &self.loop_cell)?;
                let c = self.elasti.clone();
                $run(py, async move {
                    c.release_all(namespace.as_deref(), dry_run)
                        .await
                        .map(|ds| Decisions(ds.into_iter().map(Decision::from).collect()))
                })
            }

            /// One scale-to-zero decision for one ElastiService (for operators, such as kopf
            /// timers, that schedule services themselves).
            ///
            /// Args:
            ///     name: The ElastiService's name.
            ///     namespace: Default: the watch namespace, else the context's, else "default".
            ///     dry_run: Decide and write nothing; ``actions`` say what would be done.
            ///
            /// Returns:
            ///     Decision: ``error`` is set when the decision failed (nothing was scaled).
            ///
            /// Raises:
            ///     NotFoundError: No such ElastiService. NoMatchError: the CRD is not installed.
            #[pyo3(signature = (name, *, namespace=None, dry_run=false))]
            fn check_and_scale_service(
                &self,
                py: Python<'_>,
                name: String,
                namespace: Option<String>,
                dry_run: bool,
            ) -> PyResult<Py<PyAny>> {
                $capture_loop(py, &self.loop_cell)?;
                let c = self.elasti.clone();
                $run(py, async move {
                    c.check_and_scale_service(&name, namespace.as_deref(), dry_run).await.map(Decision::from)
                })
            }

            /// Runs scale-to-zero passes until ``close()`` (or Ctrl-C / cancellation).
            ///
            /// Args:
            ///     polling_interval: Seconds between passes. Default: ``$POLLING_INTERVAL``
            ///         (a Go duration such as "30s"), else 30.
            ///     leader_election: Act only while holding a Lease, so that of several
            ///         processes exactly one acts.
            ///     lease_name: Name of the Lease.
            ///     lease_namespace: Namespace of the Lease. Default: the handler's namespace.
            ///     lease_duration: Seconds a Lease holds without renewal.
            ///     dry_run: Decide every pass and write nothing (see ``check_and_scale``).
            ///     qps: The handler's requests per second while it runs (on average;
            ///         KEDA's operator uses 20). A steady state sends none.
            ///     burst: Requests allowed at once above ``qps``.
            ///
            /// Passes decide from watches of the ElastiServices, of their targets' types
            /// (metadata only) and of KEDA ScaledObjects, so a steady state sends no request;
            /// a service created or edited is decided at once. A 429 from the API server is
            /// answered by waiting its ``Retry-After``.
            ///
            /// Raises:
            ///     InvalidValueError: A non-positive interval, duration or ``qps``, or a
            ///         ``burst`` below 1.
            #[pyo3(signature = (polling_interval=None, *, leader_election=false, lease_name="kubescale-scale-to-zero", lease_namespace=None, lease_duration=15.0, dry_run=false, qps=50.0, burst=100))]
            #[allow(clippy::too_many_arguments)]
            fn run(
                &self,
                py: Python<'_>,
                polling_interval: Option<f64>,
                leader_election: bool,
                lease_name: &str,
                lease_namespace: Option<String>,
                lease_duration: f64,
                dry_run: bool,
                qps: f64,
                burst: i64,
            ) -> PyResult<Py<PyAny>> {
                let burst = u32::try_from(burst).unwrap_or(0);
                let polling_interval = match polling_interval {
                    Some(s) => args::seconds("polling_interval", s)?,
                    None => core::elasti::run::polling_interval_from_env(),
                };
                let lease_duration = args::seconds("lease_duration", lease_duration)?;
                if polling_interval.is_zero() || lease_duration.is_zero() {
                    return Err(core::Error::InvalidValue {
                        field: "polling_interval",
                        problem: "polling_interval and lease_duration must be positive".into(),
                    }
                    .into());
                }
                let opts = RunOptions {
                    polling_interval,
                    leader_election,
                    lease_name: lease_name.to_string(),
                    lease_namespace,
                    lease_duration,
                    identity: None,
                    dry_run,
                    qps,
                    burst,
                };
                core::throttle::quota(qps, burst)?;
                $capture_loop(py, &self.loop_cell)?;
                let c = self.elasti.clone();
                let stop = self.elasti.clone();
                $run_loop(py, async move { c.run(opts).await }, Box::new(move || stop.stop_run()))
            }

            $($extra)*
        }
    };
}

/// How long closing a handler waits for its queued Events to be written.
const FLUSH_ON_CLOSE: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes the queued Events (at most [`FLUSH_ON_CLOSE`]), then closes the handler: `close()`,
/// `aclose()` and leaving `async with`.
async fn flush_and_close(c: &core::Controller) {
    c.handler().flush_events(FLUSH_ON_CLOSE).await;
    c.close();
}

/// [`flush_and_close`], blocking (a handler closed already is not flushed again).
fn close_flushing(py: Python<'_>, c: &Arc<core::Controller>) {
    if c.handler().is_closed() {
        c.close();
    } else {
        py.detach(|| runtime().block_on(flush_and_close(c)));
    }
}

/// The blocking `run()`: Ctrl-C stops the loop, which releases its Lease, then raises; the
/// handler stays usable.
fn run_loop_sync<F>(py: Python<'_>, fut: F, stop: Box<dyn FnOnce() + Send>) -> PyResult<Py<PyAny>>
where
    F: std::future::Future<Output = core::Result<()>> + Send + 'static,
{
    crate::python::blocking::run_sync_stopping(py, fut, Some(stop))
}

/// The awaitable `run()`: cancelling it drops the loop, which releases its Lease from a task.
fn run_loop_async<F>(py: Python<'_>, fut: F, _stop: Box<dyn FnOnce() + Send>) -> PyResult<Py<PyAny>>
where
    F: std::future::Future<Output = core::Result<()>> + Send + 'static,
{
    run_async(py, fut)
}

/// Blocking calls run Python scaler coroutines on the background loop.
fn no_loop(_py: Python<'_>, cell: &LoopCell) -> PyResult<()> {
    *cell.lock().expect("loop cell poisoned") = None;
    Ok(())
}

/// Async calls run Python scaler coroutines on the caller's running loop.
fn running_loop(py: Python<'_>, cell: &LoopCell) -> PyResult<()> {
    let event_loop = crate::python::asyncio_bridge::running_loop(py)?;
    *cell.lock().expect("loop cell poisoned") = Some(event_loop.unbind());
    Ok(())
}

handler_class!(
    ScaleHandler,
    "ScaleHandler",
    run_sync,
    run_loop_sync,
    no_loop,
    "Scales Kubernetes workloads; every method blocks (with the GIL released) until done.\n\nUse it as a context manager or call ``close()``. ``kubescale.asyncio.ScaleHandler`` has the same methods as coroutines.",
    {
        fn __enter__(slf: Py<Self>) -> Py<Self> {
            slf
        }

        #[pyo3(signature = (*_exc))]
        fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
            close_flushing(py, &self.elasti);
            false
        }
    }
);
handler_class!(
    AsyncScaleHandler,
    "AsyncScaleHandler",
    run_async,
    run_loop_async,
    running_loop,
    "Scales Kubernetes workloads; every I/O method returns an awaitable.\n\nExported as ``kubescale.asyncio.ScaleHandler``; same methods as ``kubescale.ScaleHandler``. Use it with ``async with`` or ``await handler.aclose()``.",
    {
        fn __aenter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
            crate::python::asyncio_bridge::ready(py, slf)
        }

        #[pyo3(signature = (*_exc))]
        fn __aexit__<'py>(&self, py: Python<'py>, _exc: &Bound<'py, pyo3::types::PyTuple>) -> PyResult<Py<PyAny>> {
            let c = self.elasti.clone();
            run_async(py, async move {
                flush_and_close(&c).await;
                Ok(false)
            })
        }

        /// Closes the handler without blocking the event loop: writes the Events still queued
        /// (waiting at most 5 s), then later calls raise HandlerClosedError. ``close()`` does
        /// the same but blocks the calling thread, and with it a running loop.
        ///
        /// Returns:
        ///     Awaitable[None]: done when the Events are written and the handler is closed.
        fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Py<PyAny>> {
            let c = self.elasti.clone();
            run_async(py, async move {
                flush_and_close(&c).await;
                Ok(())
            })
        }
    }
);
