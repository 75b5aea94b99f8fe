//! The endless loop: a pass every polling interval until closed, under one of the ways of owning
//! the services (`ownership`): this process alone, the leader Lease, or shards across replicas.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, OptionFuture};
use tokio::time::Instant;

use crate::core::elasti::controller::Controller;
use crate::core::elasti::decision::Decision;
use crate::core::elasti::ownership::elector::LeaderElector;
use crate::core::elasti::ownership::leader::Leader;
use crate::core::elasti::ownership::one_process::OneProcess;
use crate::core::elasti::ownership::shards::{MAX_SHARDS, Shards};
use crate::core::elasti::ownership::{Ownership, Scope, Standing};
use crate::core::elasti::pass_context::PassContext;
use crate::core::elasti::service_watch::ServiceWatch;
use crate::core::error::{Error, Result};

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Time between passes.
    pub polling_interval: Duration,
    /// Compete for a Lease and act only while holding it.
    pub leader_election: bool,
    /// Lease name.
    pub lease_name: String,
    /// Lease namespace (default: the handler's default namespace).
    pub lease_namespace: Option<String>,
    /// How long a Lease holds without renewal.
    pub lease_duration: Duration,
    /// Identity in the Lease (default: `$POD_NAME`/`$HOSTNAME` plus the process id).
    pub identity: Option<String>,
    /// Decide every pass and write nothing (see [`Controller::check_and_scale`]).
    pub dry_run: bool,
    /// The handler's requests per second while it runs (average; see `throttle.rs`).
    pub qps: f64,
    /// The bursts of requests allowed above `qps`.
    pub burst: u32,
    /// Shards of the services (see `shards.rs`): above 1, every replica acts for the shards it
    /// holds, each through its own Lease (`<lease_name>-<i>`), whatever `leader_election` says.
    pub shards: u32,
    /// How long a wake-up is measured before it ends as a timeout (see `cold_start.rs`).
    pub cold_start_timeout: Duration,
}

/// The default of [`RunOptions::qps`]: KEDA's operator uses 20, client-go 5. The loop's steady
/// state sends no request, so the limit only shapes bursts of changes.
pub const DEFAULT_QPS: f64 = 50.0;
/// The default of [`RunOptions::burst`].
pub const DEFAULT_BURST: u32 = 100;

impl Default for RunOptions {
    /// The defaults, with a polling interval of 30 s.
    fn default() -> Self {
        RunOptions {
            polling_interval: DEFAULT_POLLING_INTERVAL,
            leader_election: false,
            lease_name: "kubescale-scale-to-zero".into(),
            lease_namespace: None,
            lease_duration: Duration::from_secs(15),
            identity: None,
            dry_run: false,
            qps: DEFAULT_QPS,
            burst: DEFAULT_BURST,
            shards: 1,
            cold_start_timeout: crate::core::elasti::cold_start::DEFAULT_COLD_START_TIMEOUT,
        }
    }
}

/// The polling interval when neither the caller nor `$POLLING_INTERVAL` gives one.
const DEFAULT_POLLING_INTERVAL: Duration = Duration::from_secs(30);

impl RunOptions {
    /// The defaults, with the polling interval from `$POLLING_INTERVAL` (a Go duration such as
    /// `30s`) as the reference reads it: unset, invalid or non-positive gives 30 s (and a
    /// warning, unless unset). Every caller's defaults come from here: the Python `run()` and
    /// `kubescale run`.
    pub fn from_env() -> Self {
        let polling_interval = match std::env::var("POLLING_INTERVAL") {
            Err(_) => DEFAULT_POLLING_INTERVAL,
            Ok(v) => crate::core::duration::parse("POLLING_INTERVAL", &v).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "invalid POLLING_INTERVAL; using 30s");
                DEFAULT_POLLING_INTERVAL
            }),
        };
        RunOptions { polling_interval, ..RunOptions::default() }
    }

    /// Checks the options before the loop starts: positive durations and a valid rate limit.
    pub fn check(&self) -> Result<()> {
        let durations = [
            ("polling_interval", self.polling_interval),
            ("lease_duration", self.lease_duration),
            ("cold_start_timeout", self.cold_start_timeout),
        ];
        for (field, d) in durations {
            if d.is_zero() {
                return Err(Error::InvalidValue { field, problem: "must be positive".into() });
            }
        }
        if !(1..=MAX_SHARDS).contains(&self.shards) {
            let max = MAX_SHARDS;
            return Err(Error::InvalidValue {
                field: "shards",
                problem: format!("{} is not from 1 to {max}", self.shards),
            });
        }
        crate::core::throttle::quota(self.qps, self.burst).map(drop)
    }
}

impl Controller {
    /// Runs passes every `polling_interval` until closed (or the future dropped); on a closed
    /// handler it returns at once, and a close during a pass stops it. While it acts, passes
    /// decide from watches (see `service_watch.rs`): a steady state sends no request, and a service
    /// created or edited is decided at once. The handler's requests are limited to `qps` and
    /// `burst` meanwhile. Who acts is the run's [`Ownership`]: this process alone; with leader
    /// election the Lease holder (it renews the Lease every third of its duration while a pass
    /// runs, and stops the pass when it cannot renew in time); with shards, each replica for the
    /// shards it holds. Everything held is released on the way out: on close, on Ctrl-C and when
    /// the future is dropped.
    pub async fn run(&self, opts: RunOptions) -> Result<()> {
        opts.check()?;
        self.handler.limits().set(opts.qps, opts.burst)?;
        let _limited = Unlimit(self.handler.limits());
        self.start_run();
        let result = if opts.shards > 1 {
            let (ns, identity) = self.lease_place(&opts)?;
            let client = self.handler.client().clone();
            let shards = Shards::new(client, &ns, &opts.lease_name, &identity, opts.lease_duration, opts.shards);
            self.run_owned(shards, &opts).await
        } else if opts.leader_election {
            let (ns, identity) = self.lease_place(&opts)?;
            let client = self.handler.client().clone();
            let elector = LeaderElector::new(client, &ns, &opts.lease_name, identity, opts.lease_duration);
            self.run_owned(Leader::new(elector), &opts).await
        } else {
            self.run_owned(OneProcess, &opts).await
        };
        self.handler.flush_events().await;
        result
    }

    /// The Leases' namespace (checked, like the Lease name) and this process's identity in them.
    fn lease_place(&self, opts: &RunOptions) -> Result<(String, String)> {
        let ns = self.handler.namespace_for(opts.lease_namespace.as_deref())?;
        crate::core::target::validate_name(&format!("lease/{}", opts.lease_name), &opts.lease_name)?;
        let identity = opts.identity.clone().unwrap_or_else(|| {
            let host = crate::core::config::replica_name().unwrap_or_else(|| "kubescale".into());
            format!("{host}-{}", std::process::id())
        });
        Ok((ns, identity))
    }

    /// The loop under `owner`, which is released however it ends.
    async fn run_owned<O: Ownership + 'static>(&self, owner: O, opts: &RunOptions) -> Result<()> {
        let owner = Arc::new(owner);
        let release = ReleaseOnDrop(Some(owner.clone()));
        let live = LiveRun::start(self, owner.scope(), opts.cold_start_timeout);
        let result = self.passes(owner.as_ref(), &live, opts).await;
        drop(live);
        release.release_now().await;
        result
    }

    /// The one pass loop: coordination steps beside the passes (`owner.tick`, from the
    /// first instant, then when it says), a full pass every polling interval while the owner
    /// allows one, and a pass of the services changed since the last one as soon as the watches
    /// see them. The watches run while the owner acts. A pass runs to its end unless the owner
    /// stops acting (the pass is dropped: its writes are fenced anyway) or the run is closed.
    async fn passes<O: Ownership>(&self, owner: &O, live: &LiveRun<'_>, opts: &RunOptions) -> Result<()> {
        let mut failures = PassFailures::default();
        let mut watching = None;
        let mut next_tick = Some(Instant::now());
        let mut next_pass = Instant::now();
        let mut full = false;
        let mut pass: Option<BoxFuture<'_, Result<Vec<Decision>>>> = None;
        loop {
            let ctx = live.context();
            if pass.is_none() && ctx.watch.is_some() && Instant::now() >= next_pass && owner.may_pass() {
                full = true;
                pass = Some(Box::pin(self.pass(ctx.clone(), true, opts.dry_run)));
            }
            let running = pass.is_some();
            let watch = ctx.watch.clone();
            let changed = OptionFuture::from(watch.as_ref().map(|w| w.changed()));
            tokio::select! {
                // A process that wakes from a pause coordinates (renews, or steps down) before
                // its pass goes on; the fences refuse the pass's writes either way.
                biased;
                () = self.closed() => return Ok(()),
                Some(()) = OptionFuture::from(next_tick.map(tokio::time::sleep_until)) => {
                    let sent = Instant::now();
                    match owner.tick(!running).await {
                        Standing::Acting if watching.is_none() => {
                            let w = self.start_watching();
                            live.set_watch(Some(w.watch()));
                            watching = Some(w);
                            next_pass = Instant::now();
                        }
                        Standing::Acting => {}
                        Standing::Idle => {
                            pass = None;
                            live.set_watch(None);
                            watching = None;
                        }
                    }
                    next_tick = owner.next_tick(sent);
                }
                done = OptionFuture::from(pass.as_mut()), if running => {
                    pass = None;
                    if !failures.log(done.expect("a running pass")) {
                        return Ok(());
                    }
                    owner.pass_ended().await;
                    if full {
                        next_pass = Instant::now() + opts.polling_interval;
                    }
                }
                () = tokio::time::sleep_until(next_pass), if !running => {}
                Some(()) = changed, if !running && owner.may_pass() => {
                    full = false;
                    pass = Some(Box::pin(self.pass(ctx, false, opts.dry_run)));
                }
            }
        }
    }

    /// A full pass, or (`full` false) a decision for each service changed since the last.
    async fn pass(&self, ctx: PassContext, full: bool, dry_run: bool) -> Result<Vec<Decision>> {
        if full { self.full_pass(&ctx, dry_run).await } else { self.changed_pass(&ctx, dry_run).await }
    }
}

/// The run live on a controller, as calls made by hand see it (`Controller::live_context`):
/// its scope, and its watches while it keeps them. Gone when the run ends.
struct LiveRun<'a>(&'a Controller);

impl<'a> LiveRun<'a> {
    fn start(controller: &'a Controller, scope: Scope, cold_start_timeout: Duration) -> Self {
        let ctx = PassContext { scope, watch: None, cold_start_timeout };
        *controller.live_run.lock().expect("live run poisoned") = Some(ctx);
        LiveRun(controller)
    }

    fn context(&self) -> PassContext {
        self.0.live_context()
    }

    fn set_watch(&self, watch: Option<Arc<ServiceWatch>>) {
        if let Some(ctx) = self.0.live_run.lock().expect("live run poisoned").as_mut() {
            ctx.watch = watch;
        }
    }
}

impl Drop for LiveRun<'_> {
    fn drop(&mut self) {
        *self.0.live_run.lock().expect("live run poisoned") = None;
    }
}

/// The failed passes in a row, so that an outage (the API server down for an hour) is one
/// warning when it starts and one line when it ends, not a warning per polling interval.
#[derive(Default)]
struct PassFailures {
    in_a_row: u32,
}

impl PassFailures {
    /// Logs a pass; false when the handler was closed.
    fn log(&mut self, pass: Result<Vec<Decision>>) -> bool {
        match pass {
            Ok(ds) => {
                if self.in_a_row > 0 {
                    tracing::warn!(failed_passes = self.in_a_row, "scale-to-zero passes succeed again");
                    self.in_a_row = 0;
                }
                for d in ds.iter().filter(|d| d.dry_run && !d.actions.is_empty()) {
                    tracing::info!(service = %format!("{}/{}", d.namespace, d.name), direction = d.direction.as_str(), "dry run: would {}", d.actions.join(", "));
                }
                tracing::debug!(services = ds.len(), "pass done");
            }
            Err(Error::Closed) => return false,
            Err(e) => {
                self.in_a_row += 1;
                if self.in_a_row == 1 {
                    tracing::warn!(error = %e, "scale-to-zero pass failed; retrying every pass (logged again once it succeeds)");
                } else {
                    tracing::debug!(error = %e, failed_passes = self.in_a_row, "scale-to-zero pass failed again");
                }
            }
        }
        true
    }
}

/// Lifts the handler's rate limit when `run` ends in any way.
struct Unlimit<'a>(&'a crate::core::throttle::Limits);

impl Drop for Unlimit<'_> {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// Releases what the owner holds when `run` ends in any way: at once on a normal return, from
/// a task of its own when the future is dropped (a cancelled task, Ctrl-C).
struct ReleaseOnDrop<O: Ownership + 'static>(Option<Arc<O>>);

impl<O: Ownership + 'static> ReleaseOnDrop<O> {
    async fn release_now(mut self) {
        if let Some(o) = self.0.take() {
            o.release().await;
        }
    }
}

impl<O: Ownership + 'static> Drop for ReleaseOnDrop<O> {
    fn drop(&mut self) {
        if let Some(o) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move { o.release().await });
        }
    }
}
