//! The Python handlers: `kubescale.ScaleHandler` (blocking) and `kubescale.asyncio.ScaleHandler`
//! (`AsyncScaleHandler`, awaitable).
//!
//! Both are subclasses of one native base class, [`Handler`], which holds every method. Each
//! method converts its arguments, calls one `async fn` of the core and converts the result, in
//! one place; how the call is waited for is the handler's [`Mode`], set by the subclass's
//! constructor: [`Handler::call`] blocks with the GIL released, or returns an awaitable. The
//! subclasses add only their constructor and their context-manager methods.

// A Python signature's parameters are the Rust function's parameters: keyword arguments make
// long lists, and grouping them in structs would only move the list.
#![allow(clippy::too_many_arguments)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::core::{self, EventSpec, EventType, HandlerOptions, RunOptions, ScaleOptions};
use crate::python::args;
use crate::python::asyncio_bridge;
use crate::python::blocking;
use crate::python::fleet::{Batch, BatchEntry};
use crate::python::recommend::CooldownRecommendation;
use crate::python::replay;
use crate::python::replay_result::Replay;
use crate::python::runtime::runtime;
use crate::python::scaler_bridge::{LoopCell, PyScalerFactory};
use crate::python::types::{Decision, Decisions, Event, Resource, Scale, ScaleResult};

// The constructors' signatures spell the defaults out (so that `__text_signature__` shows them).
const _: () = assert!(core::DEFAULT_CONCURRENCY == 32);
const _: () = assert!(core::DEFAULT_SCALER_CONCURRENCY == 16);

/// How a handler's methods wait for the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Block the calling thread, with the GIL released.
    Blocking,
    /// Return an awaitable of the running asyncio loop.
    Async,
}

/// What a wait over a `ScaleBatch` waits for: each entry that did not fail, at its count.
fn batch_targets(batch: &Bound<'_, PyAny>) -> PyResult<Vec<(core::TargetRef, String, i32)>> {
    let not_a_batch = || PyTypeError::new_err("target must be \"TYPE/NAME\" or a ScaleBatch");
    let mut out = Vec::new();
    for item in batch.try_iter().map_err(|_| not_a_batch())? {
        let entry = item?.cast_into::<BatchEntry>().map_err(|_| not_a_batch())?;
        if let Some((target, namespace, wanted)) = entry.get().wanted() {
            out.push((core::TargetRef::parse(&target)?, namespace, wanted));
        }
    }
    Ok(out)
}

/// The arguments of `sleep` and `wake`.
struct FleetArgs<'a, 'py> {
    namespace: Option<String>,
    selector: Option<String>,
    types: Option<&'a Bound<'py, PyAny>>,
    all_namespaces: bool,
    dry_run: bool,
    raise_on_error: bool,
}

/// A replay's range from the caller's `start`, `end` (default now) and `step` (default 1m).
fn replay_range(
    start: &Bound<'_, PyAny>,
    end: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    overrides: core::Overrides,
) -> PyResult<core::ReplayOptions> {
    let now = jiff::Timestamp::now();
    Ok(core::ReplayOptions {
        start: replay::instant("start", start, now)?,
        end: match end {
            Some(e) => replay::instant("end", e, now)?,
            None => now,
        },
        step: match step {
            Some(s) => replay::duration("step", s)?,
            None => std::time::Duration::from_secs(60),
        },
        overrides,
        cost: core::ColdStartCost::default(),
        measured_wake_up: false,
    })
}

/// What a cold start costs: the caller's `polling_interval` (default `$POLLING_INTERVAL`, else
/// 30 s) and `wake_up` (default 0).
fn cold_start_cost(
    polling_interval: Option<&Bound<'_, PyAny>>,
    wake_up: Option<&Bound<'_, PyAny>>,
) -> PyResult<(core::ColdStartCost, bool)> {
    let measured = wake_up.is_some_and(|w| w.extract::<String>().is_ok_and(|s| s == "measured"));
    let cost = core::ColdStartCost {
        polling_interval: match polling_interval {
            Some(p) => replay::duration("polling_interval", p)?,
            None => core::RunOptions::from_env().polling_interval,
        },
        wake_up: match wake_up {
            Some(w) if !measured => replay::duration("wake_up", w)?,
            _ => Duration::ZERO,
        },
    };
    Ok((cost, measured))
}

/// The types `sleep` and `wake` act on: the caller's, or Deployments and StatefulSets.
fn fleet_types(types: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match types {
        Some(t) => args::strings("types", t),
        None => Ok(vec!["deployments.apps".into(), "statefulsets.apps".into()]),
    }
}

/// What both handlers hold: the core's scale path and the scale-to-zero loop around it.
#[pyclass(frozen, subclass, name = "_Handler", module = "kubescale._native")]
pub struct Handler {
    scale: Arc<core::ScaleHandler>,
    /// The scale-to-zero loop, scaling through `scale`.
    controller: Arc<core::Controller>,
    /// The asyncio loop that Python scalers' coroutines run on during a call of the loop.
    loop_cell: LoopCell,
    mode: Mode,
}

/// The constructor's arguments, as both subclasses take them.
struct Connect {
    namespace: Option<String>,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    reporter: String,
    timeout: Option<f64>,
    record_events: bool,
    concurrency: i64,
    scaler_concurrency: i64,
}

impl Handler {
    /// Builds the core handler and its loop (reads the configuration; no request is made).
    fn connect(py: Python<'_>, mode: Mode, a: Connect) -> PyResult<Self> {
        // Out of range either way: the core names the problem.
        let concurrency = usize::try_from(a.concurrency).unwrap_or(0);
        let scaler_concurrency = usize::try_from(a.scaler_concurrency).unwrap_or(0);
        let opts = HandlerOptions {
            connect: core::ConnectOptions {
                kubeconfig: a.kubeconfig,
                context: a.context,
                timeout: a.timeout.map(|t| args::seconds("timeout", t)).transpose()?,
            },
            namespace: a.namespace,
            reporter: a.reporter,
            record_events: a.record_events,
            concurrency,
        };
        let controller = py.detach(|| runtime().block_on(core::Controller::connect(opts, scaler_concurrency)))?;
        let controller = Arc::new(controller);
        Ok(Handler { scale: controller.handler().clone(), controller, loop_cell: LoopCell::default(), mode })
    }

    /// `sleep` (or, with `wake`, `wake`) as both handlers run it.
    fn sleep_or_wake(&self, py: Python<'_>, wake: bool, a: FleetArgs<'_, '_>) -> PyResult<Py<PyAny>> {
        let types = fleet_types(a.types)?;
        let namespaces = core::Namespaces { namespace: a.namespace, all: a.all_namespaces };
        let (c, selector, dry_run, raise_on_error) = (self.controller.clone(), a.selector, a.dry_run, a.raise_on_error);
        self.call(py, async move {
            let selector = selector.as_deref();
            let turn = if wake { core::Turn::Wake } else { core::Turn::Sleep };
            let entries = c.sleep_or_wake(turn, &types, selector, &namespaces, dry_run).await?;
            Ok(Batch { entries, raise_on_error })
        })
    }

    /// Runs `fut` the way this handler's methods run: to completion with the GIL released, or
    /// as an awaitable.
    fn call<T, F>(&self, py: Python<'_>, fut: F) -> PyResult<Py<PyAny>>
    where
        F: Future<Output = core::Result<T>> + Send + 'static,
        T: for<'py> IntoPyObject<'py> + Send + 'static,
    {
        self.wait_for(py, fut, None)
    }

    /// [`call`](Self::call) for the loop's operations: Python scalers' coroutines run on the
    /// caller's running asyncio loop (awaitable calls) or on kubescale's background loop
    /// (blocking calls). `stop`, if given, is called on Ctrl-C of a blocking call, which then
    /// waits a moment for the operation to finish its way out (`run()` releasing its Lease).
    fn call_loop<T, F>(&self, py: Python<'_>, fut: F, stop: Option<blocking::Stop>) -> PyResult<Py<PyAny>>
    where
        F: Future<Output = core::Result<T>> + Send + 'static,
        T: for<'py> IntoPyObject<'py> + Send + 'static,
    {
        let event_loop = match self.mode {
            Mode::Blocking => None,
            Mode::Async => Some(asyncio_bridge::running_loop(py)?.unbind()),
        };
        *self.loop_cell.lock().expect("loop cell poisoned") = event_loop;
        self.wait_for(py, fut, stop)
    }

    /// The one place where the mode decides: block (Ctrl-C calling `stop`, if given) or return
    /// an awaitable.
    fn wait_for<T, F>(&self, py: Python<'_>, fut: F, stop: Option<blocking::Stop>) -> PyResult<Py<PyAny>>
    where
        F: Future<Output = core::Result<T>> + Send + 'static,
        T: for<'py> IntoPyObject<'py> + Send + 'static,
    {
        match self.mode {
            Mode::Blocking => blocking::run_sync(py, fut, stop),
            Mode::Async => asyncio_bridge::run_async(py, fut),
        }
    }

    /// Writes the queued Events (waiting at most `core::EVENT_FLUSH_TIMEOUT`), then closes,
    /// blocking. A handler closed already is not flushed again.
    fn close_blocking(&self, py: Python<'_>) {
        let c = self.controller.clone();
        py.detach(|| runtime().block_on(c.close_flushing()));
    }

    /// [`close_blocking`](Self::close_blocking) as an awaitable resolving to `value`.
    fn close_awaitable<'py, T>(&self, py: Python<'py>, value: T) -> PyResult<Py<PyAny>>
    where
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        let c = self.controller.clone();
        asyncio_bridge::run_async(py, async move {
            c.close_flushing().await;
            Ok(value)
        })
    }
}

#[pymethods]
impl Handler {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let h = &slf.get().scale;
        let quoted = |v: Option<&str>| v.map_or_else(|| "None".to_string(), |v| format!("{v:?}"));
        Ok(format!(
            "{}(server={:?}, context={}, namespace={})",
            slf.get_type().name()?,
            h.server(),
            quoted(h.context()),
            quoted(h.watch_namespace()),
        ))
    }

    /// The API server's URL.
    #[getter]
    fn server(&self) -> String {
        self.scale.server().to_string()
    }

    /// The kubeconfig context in use (None in-cluster).
    #[getter]
    fn context(&self) -> Option<String> {
        self.scale.context().map(str::to_string)
    }

    /// The watch namespace, or None.
    #[getter]
    fn namespace(&self) -> Option<String> {
        self.scale.watch_namespace().map(str::to_string)
    }

    /// The namespace calls use when they name none.
    #[getter]
    fn default_namespace(&self) -> String {
        self.scale.default_namespace().to_string()
    }

    /// How many per-target locks are held or awaited right now (0 when idle).
    #[getter]
    fn lock_count(&self) -> usize {
        self.scale.lock_count()
    }

    /// Closes the handler: writes the Events still queued (waiting at most 5 s), then later
    /// calls raise HandlerClosedError. Blocks, also on the asyncio handler (whose ``aclose()``
    /// does not).
    fn close(&self, py: Python<'_>) {
        self.close_blocking(py);
    }

    /// Forgets the cached discovery information (e.g. after installing a CRD).
    fn reset_discovery(&self) {
        self.scale.reset_discovery();
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
        let h = self.scale.clone();
        self.call(py, async move { h.resolve(&spec).await.map(Resource::from) })
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
        let h = self.scale.clone();
        self.call(py, async move {
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
        let h = self.scale.clone();
        self.call(py, async move { h.get_scale(&t, namespace.as_deref()).await.map(Scale::from) })
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
    ///     current_replicas: Refuse (``PreconditionError``, nothing written) unless the
    ///         target's desired count is this one now, as kubectl's ``--current-replicas``.
    ///     api_version, kind, name: The target, when not given as a string.
    ///
    /// Returns:
    ///     ScaleResult: target, previous, replicas, changed, reason.
    ///
    /// Raises:
    ///     TypeError, InvalidValueError: ``replicas`` is not a non-negative int32.
    ///     PreconditionError: The count was not ``current_replicas``.
    ///     InvalidTargetError, NoMatchError, NotScalableError, NamespaceNotAllowedError,
    ///     NotFoundError, ForbiddenError, InvalidError, ApiUnavailableError.
    #[pyo3(signature = (target=None, replicas=None, *, namespace=None, at_least=false, dry_run=false, current_replicas=None, api_version=None, kind=None, name=None))]
    fn scale(
        &self,
        py: Python<'_>,
        target: Option<&str>,
        replicas: Option<&Bound<'_, PyAny>>,
        namespace: Option<String>,
        at_least: bool,
        dry_run: bool,
        current_replicas: Option<&Bound<'_, PyAny>>,
        api_version: Option<&str>,
        kind: Option<&str>,
        name: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        let t = args::target(target, api_version, kind, name)?;
        let r = args::replicas("replicas", replicas)?;
        let current_replicas = current_replicas.map(|c| args::replicas("current_replicas", Some(c))).transpose()?;
        let h = self.scale.clone();
        let opts = ScaleOptions { at_least, dry_run, current_replicas };
        self.call(py, async move { h.scale(&t, r, namespace.as_deref(), opts).await.map(ScaleResult::from) })
    }

    /// Sets the desired replicas of many targets in one call, as ``kubectl scale`` takes
    /// them: ``TYPE/NAME`` references, or one type with a label ``selector`` (every object
    /// of the type without one), in one namespace or in every namespace the handler may see.
    ///
    /// Each type is listed once per namespace (500 objects a page); a target already at
    /// ``replicas`` costs nothing more, the others one write each, at most ``concurrency`` at
    /// once. Each target has its own entry: one that fails (RBAC, deleted since the list, a
    /// ``current_replicas`` that does not hold) does not stop the others.
    ///
    /// Args:
    ///     targets: A list of ``TYPE/NAME`` references, or a type (``"deployments"``,
    ///         ``"statefulsets.apps"``, a custom resource's plural) as a string.
    ///     replicas: The desired count, an int from 0 to 2**31-1.
    ///     selector: A label selector (``"team=search,tier!=web"``), with a type.
    ///     namespace: Default: the watch namespace, else the context's, else "default".
    ///     all_namespaces: Every namespace the handler may see (with a type).
    ///     current_replicas: Refuse each target whose desired count is not this one (its
    ///         entry fails with ``PreconditionError``), as kubectl's ``--current-replicas``.
    ///     dry_run: Let the server validate the writes without applying them.
    ///     raise_on_error: Raise ``ScaleBatchError`` (carrying the whole batch) when any
    ///         target failed; by default failures are only in the result.
    ///
    /// Returns:
    ///     ScaleBatch: one ``BatchEntry`` per target; a selector that matches nothing gives
    ///     an empty batch.
    ///
    /// Raises:
    ///     Before anything is written: InvalidValueError (a negative count, a selector the
    ///     API server cannot parse, a selector beside references, a namespace with
    ///     ``all_namespaces``), InvalidTargetError, NoMatchError, NotScalableError,
    ///     NamespaceNotAllowedError. ScaleBatchError with ``raise_on_error``.
    #[pyo3(signature = (targets, replicas, *, selector=None, namespace=None, all_namespaces=false, current_replicas=None, dry_run=false, raise_on_error=false))]
    fn scale_all(
        &self,
        py: Python<'_>,
        targets: &Bound<'_, PyAny>,
        replicas: &Bound<'_, PyAny>,
        selector: Option<String>,
        namespace: Option<String>,
        all_namespaces: bool,
        current_replicas: Option<&Bound<'_, PyAny>>,
        dry_run: bool,
        raise_on_error: bool,
    ) -> PyResult<Py<PyAny>> {
        let fleet = core::Fleet::parse(&args::strings("targets", targets)?, selector.as_deref())?;
        let r = args::replicas("replicas", Some(replicas))?;
        let current_replicas = current_replicas.map(|c| args::replicas("current_replicas", Some(c))).transpose()?;
        let namespaces = core::Namespaces { namespace, all: all_namespaces };
        let h = self.scale.clone();
        self.call(py, async move {
            let entries = h.scale_all(&fleet, r, &namespaces, current_replicas, dry_run).await?;
            Ok(Batch { entries, raise_on_error })
        })
    }

    /// Puts workloads to sleep: remembers each target's count in the
    /// ``kubescale.io/previous-replicas`` annotation and scales it to 0.
    ///
    /// A target already at 0 is left as it is (sleeping twice never overwrites a
    /// remembered count). A target an ElastiService holds is left to the loop (skipped). A
    /// target a KEDA ScaledObject scales has the ScaledObject paused first. A target a
    /// HorizontalPodAutoscaler scales stays at 0: the HPA does not scale a target at 0 until
    /// it is woken (its entry names the HPA).
    ///
    /// Args:
    ///     namespace: Default: the watch namespace, else the context's, else "default".
    ///     selector: A label selector choosing the targets (all of the types without one).
    ///     types: The types to put to sleep. Default: Deployments and StatefulSets.
    ///     all_namespaces: Every namespace the handler may see.
    ///     dry_run: Say what would be done; write nothing.
    ///     raise_on_error: Raise ``ScaleBatchError`` when any target failed.
    ///
    /// Returns:
    ///     ScaleBatch: one ``BatchEntry`` per target.
    ///
    /// Raises:
    ///     The errors of ``scale_all`` raised before anything is written.
    #[pyo3(signature = (namespace=None, *, selector=None, types=None, all_namespaces=false, dry_run=false, raise_on_error=false))]
    fn sleep(
        &self,
        py: Python<'_>,
        namespace: Option<String>,
        selector: Option<String>,
        types: Option<&Bound<'_, PyAny>>,
        all_namespaces: bool,
        dry_run: bool,
        raise_on_error: bool,
    ) -> PyResult<Py<PyAny>> {
        let fleet = FleetArgs { namespace, selector, types, all_namespaces, dry_run, raise_on_error };
        self.sleep_or_wake(py, false, fleet)
    }

    /// Wakes workloads put to sleep: each target at 0 goes back to exactly the count
    /// remembered in its ``kubescale.io/previous-replicas`` annotation (its KEDA
    /// ScaledObject resumed first).
    ///
    /// A target at 0 with nothing remembered stays at 0, and a target someone scaled while
    /// it slept stays as they set it; both are reported as skipped. A target an
    /// ElastiService holds is left to the loop (skipped).
    ///
    /// Args:
    ///     namespace: Default: the watch namespace, else the context's, else "default".
    ///     selector: A label selector choosing the targets (all of the types without one).
    ///     types: The types to wake. Default: Deployments and StatefulSets.
    ///     all_namespaces: Every namespace the handler may see.
    ///     dry_run: Say what would be done; write nothing.
    ///     raise_on_error: Raise ``ScaleBatchError`` when any target failed.
    ///
    /// Returns:
    ///     ScaleBatch: one ``BatchEntry`` per target.
    ///
    /// Raises:
    ///     The errors of ``scale_all`` raised before anything is written.
    #[pyo3(signature = (namespace=None, *, selector=None, types=None, all_namespaces=false, dry_run=false, raise_on_error=false))]
    fn wake(
        &self,
        py: Python<'_>,
        namespace: Option<String>,
        selector: Option<String>,
        types: Option<&Bound<'_, PyAny>>,
        all_namespaces: bool,
        dry_run: bool,
        raise_on_error: bool,
    ) -> PyResult<Py<PyAny>> {
        let fleet = FleetArgs { namespace, selector, types, all_namespaces, dry_run, raise_on_error };
        self.sleep_or_wake(py, true, fleet)
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
        let h = self.scale.clone();
        self.call(py, async move { h.scale_to_zero(&t, namespace.as_deref()).await.map(ScaleResult::from) })
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
        let h = self.scale.clone();
        self.call(
            py,
            async move { h.scale_from_zero(&t, min, namespace.as_deref(), restore).await.map(ScaleResult::from) },
        )
    }

    /// Waits, with a watch, until the target's replicas reach a count; or, given a
    /// ``ScaleBatch``, until every target of the batch that did not fail reaches the count the
    /// call gave it.
    ///
    /// Args:
    ///     target: ``TYPE[.VERSION][.GROUP]/NAME``, a ``ScaleBatch`` (from ``scale_all``,
    ///         ``sleep`` or ``wake``), or the keywords below.
    ///     replicas: The count to wait for. Default: the target's desired count (not with a
    ///         batch).
    ///     ready: Count ready replicas, where the kind reports them.
    ///     timeout: Seconds to wait (for the whole batch).
    ///     namespace: Default: the watch namespace, else the context's, else "default".
    ///     on_progress: Called as ``on_progress(seen, wanted)`` whenever the count seen
    ///         changes, first with the count at the start; with a batch, as
    ///         ``on_progress(done, total)`` as each target gets there, first ``(0, total)``
    ///         (from a kubescale thread: keep it short; what it raises is logged and
    ///         ignored).
    ///     api_version, kind, name: The target, when not given as a string.
    ///
    /// Returns:
    ///     Scale: the scale subresource once the count is reached; with a batch, a list of
    ///     them in the batch's order.
    ///
    /// Raises:
    ///     WaitTimeoutError: The count was not reached in time (states wanted and seen).
    ///     The errors of ``get_scale``.
    #[pyo3(signature = (target=None, replicas=None, *, ready=true, timeout=60.0, namespace=None, on_progress=None, api_version=None, kind=None, name=None))]
    fn wait_for_replicas(
        &self,
        py: Python<'_>,
        target: Option<&Bound<'_, PyAny>>,
        replicas: Option<&Bound<'_, PyAny>>,
        ready: bool,
        timeout: f64,
        namespace: Option<String>,
        on_progress: Option<Bound<'_, PyAny>>,
        api_version: Option<&str>,
        kind: Option<&str>,
        name: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        let timeout = args::seconds("timeout", timeout)?;
        let progress = on_progress.as_ref().map(args::progress).transpose()?;
        let h = self.scale.clone();
        if let Some(batch) = target.filter(|t| !t.is_instance_of::<PyString>()) {
            if replicas.is_some() {
                return Err(PyTypeError::new_err("replicas: a batch waits for the counts its call gave"));
            }
            let targets = batch_targets(batch)?;
            return self.call(py, async move {
                let scales = h.wait_for_all(&targets, ready, timeout, progress).await?;
                Ok(scales.into_iter().map(Scale::from).collect::<Vec<_>>())
            });
        }
        let target = target.map(|t| t.extract::<String>()).transpose()?;
        let t = args::target(target.as_deref(), api_version, kind, name)?;
        let wanted = replicas.map(|r| args::replicas("replicas", Some(r))).transpose()?;
        self.call(py, async move {
            h.wait_for_replicas(&t, wanted, ready, timeout, namespace.as_deref(), progress).await.map(Scale::from)
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
        let h = self.scale.clone();
        self.call(py, async move { h.set_keda_paused(&scaled_object, namespace.as_deref(), true).await })
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
        let h = self.scale.clone();
        self.call(py, async move { h.set_keda_paused(&scaled_object, namespace.as_deref(), false).await })
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
        let h = self.scale.clone();
        self.call(py, async move { h.record_event(&t, namespace.as_deref(), &ev).await })
    }

    /// Lists the Events regarding a target, oldest first.
    ///
    /// Args:
    ///     target: ``TYPE[.VERSION][.GROUP]/NAME`` (any kind).
    ///     namespace: Default: the watch namespace, else the context's, else "default".
    ///
    /// Returns:
    ///     list[Event]: type, reason, action, note, count, last_time, reporter.
    ///
    /// Raises:
    ///     InvalidTargetError, NoMatchError, ForbiddenError, ApiUnavailableError.
    #[pyo3(signature = (target, *, namespace=None))]
    fn events(&self, py: Python<'_>, target: &str, namespace: Option<String>) -> PyResult<Py<PyAny>> {
        let t = core::TargetRef::parse(target)?;
        let h = self.scale.clone();
        self.call(py, async move {
            h.events(&t, namespace.as_deref()).await.map(|es| es.into_iter().map(Event::from).collect::<Vec<_>>())
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
        let f = PyScalerFactory::new(r#type, factory.unbind(), timeout, self.loop_cell.clone());
        Ok(self.controller.scalers().register(r#type, Arc::new(f))?)
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
        let c = self.controller.clone();
        let bound = py.detach(|| runtime().block_on(core::serve(address, c)))?;
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
        let c = self.controller.clone();
        self.call(py, async move { c.install_crds().await })
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
        let c = self.controller.clone();
        self.call_loop(py, async move { c.check_and_scale(dry_run).await.map(Decisions::from) }, None)
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
        let c = self.controller.clone();
        let fut = async move { c.release_all(namespace.as_deref(), dry_run).await.map(Decisions::from) };
        self.call_loop(py, fut, None)
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
        let c = self.controller.clone();
        let fut =
            async move { c.check_and_scale_service(&name, namespace.as_deref(), dry_run).await.map(Decision::from) };
        self.call_loop(py, fut, None)
    }

    /// What the scale-to-zero loop would have done for one ElastiService over a range of
    /// time, from its triggers' history; writes nothing.
    ///
    /// Every step is decided by the loop's own decision path (cooldown and its 0 → 900 s
    /// rule, enabledPeriod, minTargetReplicas, trigger order, health, the return to the
    /// remembered count), starting from the target's current count. The built-in
    /// ``prometheus`` trigger reads its query and health query with ``query_range``; a
    /// Python scaler takes part when it has a ``history(start, end, step)`` method (see
    /// ``kubescale.ScalerHistory``). A step without data counts as unhealthy and holds the
    /// count, as a failed live evaluation does. The service counts as created at ``start``
    /// when it was created later.
    ///
    /// Args:
    ///     service: The ElastiService's name.
    ///     start: The first step: a ``datetime``, a ``timedelta`` or text such as
    ///         ``"24h"`` (that long ago), or an RFC 3339 time.
    ///     end: The last step, given the same ways. Default: now.
    ///     step: Time between steps: a ``timedelta``, seconds or text such as ``"1m"``
    ///         (whole seconds). Default: one minute. Steps are aligned to multiples of it.
    ///     namespace: Default: the watch namespace, else the context's, else "default".
    ///     cooldown: Try this cooldown instead of the spec's (``timedelta``, seconds or
    ///         ``"5m"``; 0 means the 900 s default, as in the spec).
    ///     enabled_period: Try ``{"schedule": "0 9 * * 1-5", "duration": "10h"}``, or
    ///         ``"always"`` for none.
    ///     min_target_replicas: Try this minimum.
    ///     threshold: Try this ``threshold`` in trigger ``trigger``'s metadata.
    ///     query: Try this ``query`` in trigger ``trigger``'s metadata.
    ///     trigger: The trigger ``threshold``, ``query`` and ``trigger_metadata`` change
    ///         (its index in ``spec.triggers``). Default: 0.
    ///     trigger_metadata: Other metadata keys to try in that trigger.
    ///     polling_interval: The loop's polling interval, for what a cold start costs (at
    ///         most one interval until a pass sees the traffic). Default:
    ///         ``$POLLING_INTERVAL``, else 30 s.
    ///     wake_up: How long the target takes to serve from zero, for what a cold start
    ///         costs; ``"measured"`` reads the mean the loop measured over the range
    ///         (``kubescale_cold_start_seconds``) from the service's Prometheus. Default: 0.
    ///     on_progress: Called as ``on_progress(steps_done, steps)`` as history arrives.
    ///
    /// Returns:
    ///     Replay: Every step and a summary; a table and a plot in a notebook,
    ///     ``to_pandas()``, ``compare(other)``.
    ///
    /// Raises:
    ///     NotFoundError: No such ElastiService. NoMatchError: the CRD is not installed.
    ///     InvalidValueError: A bad range, step or override (named). ScalerError: A
    ///     trigger without history (named), or its data source failing.
    #[pyo3(signature = (service, *, start, end=None, step=None, namespace=None, cooldown=None, enabled_period=None, min_target_replicas=None, threshold=None, query=None, trigger=0, trigger_metadata=None, polling_interval=None, wake_up=None, on_progress=None))]
    fn replay(
        &self,
        py: Python<'_>,
        service: String,
        start: &Bound<'_, PyAny>,
        end: Option<&Bound<'_, PyAny>>,
        step: Option<&Bound<'_, PyAny>>,
        namespace: Option<String>,
        cooldown: Option<&Bound<'_, PyAny>>,
        enabled_period: Option<&Bound<'_, PyAny>>,
        min_target_replicas: Option<&Bound<'_, PyAny>>,
        threshold: Option<&Bound<'_, PyAny>>,
        query: Option<&Bound<'_, PyAny>>,
        trigger: usize,
        trigger_metadata: Option<&Bound<'_, PyDict>>,
        polling_interval: Option<&Bound<'_, PyAny>>,
        wake_up: Option<&Bound<'_, PyAny>>,
        on_progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let given = PyDict::new(py);
        let mut overrides = core::Overrides::default();
        if let Some(c) = cooldown {
            overrides.cooldown = Some(replay::duration("cooldown", c)?);
            given.set_item("cooldown", c)?;
        }
        if let Some(p) = enabled_period {
            overrides.enabled_period = Some(replay::enabled_period(p)?);
            given.set_item("enabled_period", p)?;
        }
        if let Some(m) = min_target_replicas {
            overrides.min_target_replicas = Some(args::replicas("min_target_replicas", Some(m))?);
            given.set_item("min_target_replicas", m)?;
        }
        let mut keys = serde_json::Map::new();
        for (k, v) in [("threshold", threshold), ("query", query)] {
            if let Some(v) = v {
                keys.insert(k.into(), replay::metadata_value(v)?);
                given.set_item(k, v)?;
            }
        }
        for (k, v) in trigger_metadata.into_iter().flat_map(|d| d.iter()) {
            keys.insert(k.extract::<String>()?, replay::metadata_value(&v)?);
            given.set_item(k, v)?;
        }
        if !keys.is_empty() {
            overrides.trigger_metadata.push((trigger, keys));
        }
        let mut opts = replay_range(start, end, step, overrides)?;
        (opts.cost, opts.measured_wake_up) = cold_start_cost(polling_interval, wake_up)?;
        let progress = on_progress.map(args::progress).transpose()?;
        let c = self.controller.clone();
        let given = given.unbind();
        let fut = async move {
            let replay = c.replay(&service, namespace.as_deref(), opts, progress).await?;
            Ok(Replay::new(replay, given))
        };
        self.call_loop(py, fut, None)
    }

    /// Recommends a cooldown for an ElastiService from its own history: replays the
    /// history once per candidate cooldown (the loop's own decisions, as ``replay`` does; the
    /// triggers' history is read once) and returns the whole curve with the choice. Writes
    /// nothing.
    ///
    /// Within a budget (``max_cold_starts_per_day``, ``max_wait``) it recommends the
    /// candidate that saves the most replica-hours; with no budget, the knee of the curve
    /// (the reason says why).
    ///
    /// Args:
    ///     service: The ElastiService's name.
    ///     start: The first step, as ``replay`` takes it (``"7d"``, a ``datetime``...).
    ///     end: The last step. Default: now.
    ///     step: Time between steps. Default: one minute.
    ///     namespace: Default: the watch namespace, else the context's, else "default".
    ///     max_cold_starts_per_day: The most cold starts a day to accept.
    ///     max_wait: The longest a request may wait at a cold start (``timedelta``, seconds
    ///         or ``"1m"``): a polling interval for a pass to see it, plus ``wake_up``.
    ///     candidates: The cooldowns to try. Default: 1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h.
    ///     polling_interval: The loop's polling interval. Default: ``$POLLING_INTERVAL``,
    ///         else 30 s.
    ///     wake_up: How long the target takes to serve from zero; ``"measured"`` reads
    ///         the mean the loop measured over the range from the service's Prometheus
    ///         (as ``replay``). Default: 0.
    ///     on_progress: Called as ``on_progress(steps_done, steps)`` as history arrives.
    ///
    /// Returns:
    ///     CooldownRecommendation: ``cooldown``, ``reason``, ``knee`` and ``points`` (time
    ///     at zero, replica-hours saved, cold starts a day, worst wait per candidate); a
    ///     table in a notebook.
    ///
    /// Raises:
    ///     The errors of ``replay``; InvalidValueError for a bad candidate or budget.
    #[pyo3(signature = (service, *, start, end=None, step=None, namespace=None, max_cold_starts_per_day=None, max_wait=None, candidates=None, polling_interval=None, wake_up=None, on_progress=None))]
    fn recommend_cooldown(
        &self,
        py: Python<'_>,
        service: String,
        start: &Bound<'_, PyAny>,
        end: Option<&Bound<'_, PyAny>>,
        step: Option<&Bound<'_, PyAny>>,
        namespace: Option<String>,
        max_cold_starts_per_day: Option<f64>,
        max_wait: Option<&Bound<'_, PyAny>>,
        candidates: Option<Vec<Bound<'_, PyAny>>>,
        polling_interval: Option<&Bound<'_, PyAny>>,
        wake_up: Option<&Bound<'_, PyAny>>,
        on_progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let opts = replay_range(start, end, step, core::Overrides::default())?;
        if let Some(m) = max_cold_starts_per_day.filter(|m| !m.is_finite() || *m < 0.0) {
            return Err(core::Error::InvalidValue {
                field: "max_cold_starts_per_day",
                problem: format!("{m} is not a number of cold starts >= 0"),
            }
            .into());
        }
        let mut opts = opts;
        (opts.cost, opts.measured_wake_up) = cold_start_cost(polling_interval, wake_up)?;
        let sweep = core::Sweep {
            candidates: candidates
                .map(|c| c.iter().map(|d| replay::duration("candidates", d)).collect::<PyResult<Vec<_>>>())
                .transpose()?,
            budget: core::Budget {
                max_cold_starts_per_day,
                max_wait: max_wait.map(|w| replay::duration("max_wait", w)).transpose()?,
            },
        };
        let progress = on_progress.map(args::progress).transpose()?;
        let c = self.controller.clone();
        let fut = async move {
            let r = c.recommend_cooldown(&service, namespace.as_deref(), opts, sweep, progress).await?;
            Ok(CooldownRecommendation::from(r))
        };
        self.call_loop(py, fut, None)
    }

    /// Runs scale-to-zero passes until ``close()`` (or Ctrl-C / cancellation).
    ///
    /// Args:
    ///     polling_interval: Seconds between passes. Default: ``$POLLING_INTERVAL``
    ///         (a Go duration such as "30s"), else 30.
    ///     leader_election: Act only while holding a Lease, so that of several
    ///         processes exactly one acts.
    ///     lease_name: Name of the Lease. Default: "kubescale-scale-to-zero".
    ///     lease_namespace: Namespace of the Lease. Default: the handler's namespace.
    ///     lease_duration: Seconds a Lease holds without renewal. Default: 15.
    ///     dry_run: Decide every pass and write nothing (see ``check_and_scale``).
    ///     qps: The handler's requests per second while it runs (on average;
    ///         KEDA's operator uses 20). Default: 50. A steady state sends none.
    ///     burst: Requests allowed at once above ``qps``. Default: 100.
    ///     shards: Split the services into this many shards, each owned through its
    ///         own Lease (``<lease_name>-<i>``), so that every replica works: each holds
    ///         at most its fair share (shards / live replicas) and decides only their
    ///         services. Default: 1 (one Lease when ``leader_election``).
    ///     cold_start_timeout: Seconds a wake-up is measured before it counts as a
    ///         ``timeout`` (``kubescale_cold_start_seconds``). Default: 300.
    ///
    /// Passes decide from watches of the ElastiServices, of their targets' types
    /// (metadata only) and of KEDA ScaledObjects, so a steady state sends no request;
    /// a service created or edited is decided at once. A 429 from the API server is
    /// answered by waiting its ``Retry-After``.
    ///
    /// Raises:
    ///     InvalidValueError: A non-positive interval, duration, timeout or ``qps``,
    ///         a ``burst`` below 1, or ``shards`` not from 1 to 1024.
    #[pyo3(signature = (polling_interval=None, *, leader_election=false, lease_name=None, lease_namespace=None, lease_duration=None, dry_run=false, qps=None, burst=None, shards=None, cold_start_timeout=None))]
    fn run(
        &self,
        py: Python<'_>,
        polling_interval: Option<f64>,
        leader_election: bool,
        lease_name: Option<String>,
        lease_namespace: Option<String>,
        lease_duration: Option<f64>,
        dry_run: bool,
        qps: Option<f64>,
        burst: Option<i64>,
        shards: Option<i64>,
        cold_start_timeout: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        let d = RunOptions::from_env();
        let opts = RunOptions {
            polling_interval: match polling_interval {
                Some(s) => args::seconds("polling_interval", s)?,
                None => d.polling_interval,
            },
            leader_election,
            lease_name: lease_name.unwrap_or(d.lease_name),
            lease_namespace,
            lease_duration: match lease_duration {
                Some(s) => args::seconds("lease_duration", s)?,
                None => d.lease_duration,
            },
            dry_run,
            qps: qps.unwrap_or(d.qps),
            // Out of range either way: the core names the problem.
            burst: burst.map_or(d.burst, |b| u32::try_from(b).unwrap_or(0)),
            shards: shards.map_or(d.shards, |n| u32::try_from(n).unwrap_or(0)),
            cold_start_timeout: match cold_start_timeout {
                Some(s) => args::seconds("cold_start_timeout", s)?,
                None => d.cold_start_timeout,
            },
            ..d
        };
        opts.check()?;
        let c = self.controller.clone();
        let stop = self.controller.clone();
        self.call_loop(py, async move { c.run(opts).await }, Some(Box::new(move || stop.stop_run())))
    }
}

/// The constructor's documentation, part of both classes' docstrings (Python shows the class
/// docstring, not `__new__`'s, in `help()`). A macro because `#[doc]` takes only literals.
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

#[doc = concat!(
    "Scales Kubernetes workloads; every method blocks (with the GIL released) until done.\n\n",
    "Use it as a context manager or call ``close()``. ``kubescale.asyncio.ScaleHandler`` has the ",
    "same methods as coroutines.\n\n",
    constructor_doc!()
)]
#[pyclass(frozen, extends = Handler, name = "ScaleHandler", module = "kubescale")]
pub struct ScaleHandler;

#[pymethods]
impl ScaleHandler {
    #[new]
    #[pyo3(signature = (namespace=None, *, kubeconfig=None, context=None, reporter="kubescale", timeout=None, record_events=true, concurrency=32, scaler_concurrency=16))]
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
    ) -> PyResult<PyClassInitializer<Self>> {
        let reporter = reporter.to_string();
        let a = Connect {
            namespace,
            kubeconfig,
            context,
            reporter,
            timeout,
            record_events,
            concurrency,
            scaler_concurrency,
        };
        Ok(PyClassInitializer::from(Handler::connect(py, Mode::Blocking, a)?).add_subclass(ScaleHandler))
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(slf: &Bound<'_, Self>, _exc: &Bound<'_, PyTuple>) -> bool {
        slf.as_super().get().close_blocking(slf.py());
        false
    }
}

#[doc = concat!(
    "Scales Kubernetes workloads; every I/O method returns an awaitable.\n\n",
    "Exported as ``kubescale.asyncio.ScaleHandler``; same methods as ``kubescale.ScaleHandler``. ",
    "Use it with ``async with`` or ``await handler.aclose()``.\n\n",
    constructor_doc!()
)]
#[pyclass(frozen, extends = Handler, name = "AsyncScaleHandler", module = "kubescale")]
pub struct AsyncScaleHandler;

#[pymethods]
impl AsyncScaleHandler {
    #[new]
    #[pyo3(signature = (namespace=None, *, kubeconfig=None, context=None, reporter="kubescale", timeout=None, record_events=true, concurrency=32, scaler_concurrency=16))]
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
    ) -> PyResult<PyClassInitializer<Self>> {
        let reporter = reporter.to_string();
        let a = Connect {
            namespace,
            kubeconfig,
            context,
            reporter,
            timeout,
            record_events,
            concurrency,
            scaler_concurrency,
        };
        Ok(PyClassInitializer::from(Handler::connect(py, Mode::Async, a)?).add_subclass(AsyncScaleHandler))
    }

    fn __aenter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        asyncio_bridge::ready(py, slf)
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__(slf: &Bound<'_, Self>, _exc: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        slf.as_super().get().close_awaitable(slf.py(), false)
    }

    /// Closes the handler without blocking the event loop: writes the Events still queued
    /// (waiting at most 5 s), then later calls raise HandlerClosedError. ``close()`` does
    /// the same but blocks the calling thread, and with it a running loop.
    ///
    /// Returns:
    ///     Awaitable[None]: done when the Events are written and the handler is closed.
    fn aclose(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        slf.as_super().get().close_awaitable(slf.py(), ())
    }
}

/// Adds the handler classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Handler>()?;
    m.add_class::<ScaleHandler>()?;
    m.add_class::<AsyncScaleHandler>()?;
    Ok(())
}
