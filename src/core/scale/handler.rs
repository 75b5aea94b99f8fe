//! The ScaleHandler: one client, one discovery cache, one lock map and one event recorder,
//! shared by every call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kube::api::DynamicObject;
use kube::{Api, Client};

use crate::core::config::{ConnectOptions, Connection, connect};
use crate::core::discovery::{Discovery, Resource};
use crate::core::error::{Error, Result};
use crate::core::scale::cache::ScaleCache;
use crate::core::scale::event_queue::EventQueue;
use crate::core::scale::events::EventRecorder;
use crate::core::scale::locks::KeyedLocks;
use crate::core::scale::target_watches::TargetWatches;
use crate::core::target::{TypeSpec, validate_namespace};

/// How to build a [`ScaleHandler`].
#[derive(Debug, Clone)]
pub struct HandlerOptions {
    /// Where the cluster is.
    pub connect: ConnectOptions,
    /// The watch namespace: when set, calls for any other namespace are refused.
    pub namespace: Option<String>,
    /// `reportingController` of recorded Events.
    pub reporter: String,
    /// Whether scale calls and the loop record an Event per change and per failure (one API
    /// write each). Explicit [`ScaleHandler::record_event`] calls record regardless.
    pub record_events: bool,
    /// How many scale operations may talk to the API server at once; the rest wait their
    /// turn in a fair queue (in the order they are first polled, close to call order). Bounds
    /// the load on the API server and keeps the latency of a burst even: without it, a burst
    /// of N calls interleaves all N calls' requests, and the unlucky ones wait for most of the
    /// others.
    pub concurrency: usize,
}

/// Checks a bound on work at once (a semaphore's places): from 1 to what a semaphore holds.
pub(crate) fn check_places(field: &'static str, n: usize) -> Result<()> {
    if n == 0 || n > tokio::sync::Semaphore::MAX_PERMITS {
        return Err(Error::InvalidValue {
            field,
            problem: format!("must be from 1 to {}", tokio::sync::Semaphore::MAX_PERMITS),
        });
    }
    Ok(())
}

/// `events.k8s.io/v1` refuses a `reportingController` or `reportingInstance` longer than this.
const MAX_REPORTER: usize = 128;

/// The Events' `reportingInstance`: the pod or host name, cut to what the API accepts (a
/// longer one would make every Event a 422).
fn reporting_instance(mut name: String) -> String {
    name.truncate(name.floor_char_boundary(MAX_REPORTER));
    name
}

/// How long a watch asks the server to keep it open: three quarters of the read timeout (a
/// watch without events would otherwise time out on the client and count as a failure), at
/// most the 290 s client-go and kube-runtime use.
fn watch_timeout(timeout: Option<std::time::Duration>) -> std::time::Duration {
    let read = timeout.unwrap_or(crate::core::config::DEFAULT_TIMEOUT);
    (read * 3 / 4).clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(290))
}

/// The default for [`HandlerOptions::concurrency`].
pub const DEFAULT_CONCURRENCY: usize = 32;

impl Default for HandlerOptions {
    fn default() -> Self {
        HandlerOptions {
            connect: ConnectOptions::default(),
            namespace: None,
            reporter: "kubescale".into(),
            record_events: true,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// Scales anything with a `scale` subresource. It holds only what scaling needs; the calls
/// are in `operations.rs`, `events.rs`, `wait.rs` and `keda.rs`.
pub struct ScaleHandler {
    pub(super) client: Client,
    pub(super) discovery: Discovery,
    pub(super) locks: KeyedLocks,
    pub(super) recorder: Arc<EventRecorder>,
    /// The Events of scale calls and of the loop, written off the caller's path.
    pub(super) event_queue: Arc<EventQueue>,
    pub(super) seen: ScaleCache,
    /// Metadata-only watches that let reads be skipped (started by the loop).
    pub(super) target_watches: TargetWatches,
    /// The rate limit of the client's requests (set while `run` runs).
    pub(super) limits: crate::core::throttle::Limits,
    /// How long a watch request asks the server to keep it open: below the read timeout.
    pub(super) watch_timeout: std::time::Duration,
    watch_namespace: Option<String>,
    default_namespace: String,
    server: String,
    context: Option<String>,
    closed: AtomicBool,
    pub(super) record_events: bool,
    /// Places for scale operations in progress (see [`HandlerOptions::concurrency`]).
    pub(super) admission: tokio::sync::Semaphore,
    /// False once the API refused a patch of a scale subresource (RBAC without `patch`).
    pub(super) scale_patch_allowed: AtomicBool,
    /// The process the handler was made in (its connections belong to it).
    pid: u32,
}

impl ScaleHandler {
    /// Connects (kubeconfig or in-cluster) and builds a handler. Must run inside the runtime.
    pub async fn connect(opts: HandlerOptions) -> Result<Self> {
        Self::check_options(&opts)?;
        let conn = connect(&opts.connect).await?;
        Self::with_connection(conn, opts)
    }

    /// Builds a handler over an existing connection (any `kube::Client`, e.g. one over a
    /// custom or mock transport); `opts.connect` is not used.
    pub fn with_connection(conn: Connection, opts: HandlerOptions) -> Result<Self> {
        Self::check_options(&opts)?;
        let instance = reporting_instance(crate::core::config::replica_name().unwrap_or_else(|| opts.reporter.clone()));
        let recorder = Arc::new(EventRecorder::new(conn.client.clone(), opts.reporter, instance));
        Ok(ScaleHandler {
            discovery: Discovery::new(conn.client.clone()),
            recorder: recorder.clone(),
            event_queue: EventQueue::new(recorder),
            locks: KeyedLocks::default(),
            default_namespace: opts.namespace.clone().unwrap_or(conn.default_namespace),
            watch_namespace: opts.namespace,
            client: conn.client,
            server: conn.server,
            context: conn.context,
            closed: AtomicBool::new(false),
            record_events: opts.record_events,
            admission: tokio::sync::Semaphore::new(opts.concurrency),
            scale_patch_allowed: AtomicBool::new(true),
            pid: std::process::id(),
            seen: ScaleCache::default(),
            target_watches: TargetWatches::default(),
            limits: conn.limits,
            watch_timeout: watch_timeout(opts.connect.timeout),
        })
    }

    fn check_options(opts: &HandlerOptions) -> Result<()> {
        if let Some(ns) = &opts.namespace {
            validate_namespace(ns)?;
        }
        check_places("concurrency", opts.concurrency)?;
        if opts.reporter.is_empty() || opts.reporter.len() > MAX_REPORTER {
            return Err(Error::InvalidValue {
                field: "reporter",
                problem: format!("{:?} must be 1 to {MAX_REPORTER} characters", opts.reporter),
            });
        }
        Ok(())
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The kubeconfig context in use.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// The watch namespace, if any.
    pub fn watch_namespace(&self) -> Option<&str> {
        self.watch_namespace.as_deref()
    }

    /// The namespace a call uses when it names none.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// The shared client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The rate limit of the handler's requests (the loop sets it while it runs).
    pub(crate) fn limits(&self) -> &crate::core::throttle::Limits {
        &self.limits
    }

    /// How long a watch request asks the server to keep it open.
    pub(crate) fn watch_timeout(&self) -> std::time::Duration {
        self.watch_timeout
    }

    /// How many per-target locks are held or awaited right now.
    pub fn lock_count(&self) -> usize {
        self.locks.len()
    }

    /// Marks the handler closed: later calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// True after [`close`](Self::close).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Whether this is the process the handler was made in (not a child forked after).
    pub fn is_own_process(&self) -> bool {
        self.pid == std::process::id()
    }

    /// Fails once closed, and in a process forked after the handler was made.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        if self.pid != std::process::id() {
            return Err(Error::Forked { created_in: self.pid });
        }
        Ok(())
    }

    /// The namespace for a call: its own (checked against the watch namespace) or the default.
    pub fn namespace_for(&self, requested: Option<&str>) -> Result<String> {
        match requested {
            Some(ns) => {
                validate_namespace(ns)?;
                match &self.watch_namespace {
                    Some(w) if w != ns => {
                        Err(Error::NamespaceNotAllowed { requested: ns.to_string(), allowed: w.clone() })
                    }
                    _ => Ok(ns.to_string()),
                }
            }
            None => Ok(self.default_namespace.clone()),
        }
    }

    /// Resolves a resource type through discovery (cached; a miss resets the cache and retries once).
    pub async fn resolve(&self, spec: &TypeSpec) -> Result<Resource> {
        self.check_open()?;
        self.discovery.resolve_fresh_on_miss(spec).await
    }

    /// Every resource type the server serves (preferred versions), optionally only the scalable.
    pub async fn resources(&self, scalable_only: bool) -> Result<Vec<Resource>> {
        self.check_open()?;
        let mut all = self.discovery.all().await?;
        if scalable_only {
            all.retain(|r| r.scalable);
        }
        Ok(all)
    }

    /// Resolves a type and refuses it unless it has a `scale` subresource.
    pub(crate) async fn resolve_scalable(&self, spec: &TypeSpec) -> Result<Resource> {
        let r = self.resolve(spec).await?;
        if !r.scalable {
            return Err(Error::NotScalable { kind: r.kind, plural: r.plural, group: r.group });
        }
        Ok(r)
    }

    /// Drops the discovery cache.
    pub fn reset_discovery(&self) {
        self.discovery.reset();
    }

    /// A dynamic API for `resource` in `namespace` (cluster-wide for cluster-scoped kinds).
    pub(crate) fn dynamic_api(&self, resource: &Resource, namespace: &str) -> Api<DynamicObject> {
        let ar = resource.api_resource();
        if resource.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &ar)
        } else {
            Api::all_with(self.client.clone(), &ar)
        }
    }
}

impl std::fmt::Debug for ScaleHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScaleHandler")
            .field("server", &self.server)
            .field("context", &self.context)
            .field("namespace", &self.watch_namespace)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_pod_name_is_cut_to_what_events_accept() {
        assert_eq!(reporting_instance("web-0".into()), "web-0");
        let long = "p".repeat(300);
        assert_eq!(reporting_instance(long).len(), MAX_REPORTER);
        let multibyte = "é".repeat(100); // 200 bytes
        assert!(reporting_instance(multibyte).len() <= MAX_REPORTER);
    }
}
