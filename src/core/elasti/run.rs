//! The endless loop: a pass every polling interval until closed, optionally only while this
//! process holds the leader Lease.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, OptionFuture};
use tokio::time::Instant;

use crate::core::elasti::controller::Controller;
use crate::core::elasti::decision::Decision;
use crate::core::elasti::leader::LeaderElector;
use crate::core::elasti::shards::Shards;
use crate::core::error::{Error, Result};
use crate::core::fence;

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
        for (field, d) in [("polling_interval", self.polling_interval), ("lease_duration", self.lease_duration)] {
            if d.is_zero() {
                return Err(Error::InvalidValue { field, problem: "must be positive".into() });
            }
        }
        if !(1..=crate::core::elasti::shards::MAX_SHARDS).contains(&self.shards) {
            let max = crate::core::elasti::shards::MAX_SHARDS;
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
    /// `burst` meanwhile. With leader election only
    /// the Lease holder runs passes (see `leader.rs`): it renews the Lease every third of its
    /// duration while a pass runs, cancels the pass when it cannot renew in time, and releases
    /// the Lease on the way out: on close, on Ctrl-C and when the future is dropped.
    pub async fn run(&self, opts: RunOptions) -> Result<()> {
        opts.check()?;
        self.handler.limits().set(opts.qps, opts.burst)?;
        let _limited = Unlimit(self.handler.limits());
        self.start_run();
        let result = self.run_passes(&opts).await;
        self.handler.flush_events().await;
        result
    }

    async fn run_passes(&self, opts: &RunOptions) -> Result<()> {
        if opts.shards > 1 {
            return self.run_sharded(opts).await;
        }
        let Some(elector) = self.elector(opts)? else {
            let _watching = self.start_watching();
            let mut failures = PassFailures::default();
            let mut next_pass = Instant::now();
            loop {
                let full = tokio::select! {
                    () = self.closed() => return Ok(()),
                    () = tokio::time::sleep_until(next_pass) => true,
                    () = self.service_changed() => false,
                };
                tokio::select! {
                    () = self.closed() => return Ok(()),
                    pass = self.pass(full, opts.dry_run) => if !failures.log(pass) { return Ok(()) },
                }
                if full {
                    next_pass = Instant::now() + opts.polling_interval;
                }
            }
        };
        let elector = Arc::new(elector);
        let release = ReleaseOnDrop(Some(elector.clone()));
        let result = self.lead_or_follow(&elector, opts.polling_interval, opts.dry_run).await;
        release.release_now().await;
        result
    }

    fn elector(&self, opts: &RunOptions) -> Result<Option<LeaderElector>> {
        if !opts.leader_election {
            return Ok(None);
        }
        let (ns, identity) = self.lease_place(opts)?;
        let client = self.handler.client().clone();
        Ok(Some(LeaderElector::new(client, &ns, &opts.lease_name, identity, opts.lease_duration)))
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

    /// A sharded run (see `shards.rs`): coordination ticks beside the passes, each pass acting
    /// only for the shards held, each service in its shard's fence; shards given up only
    /// between passes; everything released on the way out.
    async fn run_sharded(&self, opts: &RunOptions) -> Result<()> {
        let (ns, identity) = self.lease_place(opts)?;
        let client = self.handler.client().clone();
        let shards = Arc::new(Shards::new(client, &ns, &opts.lease_name, &identity, opts.lease_duration, opts.shards));
        let _active = ActiveShards::set(&self.shards, shards.set());
        let release = ReleaseShardsOnDrop(Some(shards.clone()));
        let result = self.shard_passes(&shards, opts).await;
        release.release_now().await;
        result
    }

    async fn shard_passes(&self, shards: &Shards, opts: &RunOptions) -> Result<()> {
        let _watching = self.start_watching();
        let mut failures = PassFailures::default();
        let mut next_tick = Instant::now();
        let mut next_pass = Instant::now();
        let mut full = false;
        let mut pass: Option<BoxFuture<'_, Result<Vec<Decision>>>> = None;
        loop {
            if pass.is_none() && Instant::now() >= next_pass && !shards.held().is_empty() {
                full = true;
                pass = Some(Box::pin(self.pass(true, opts.dry_run)));
            }
            let running = pass.is_some();
            tokio::select! {
                biased;
                () = self.closed() => return Ok(()),
                () = tokio::time::sleep_until(next_tick) => {
                    let sent = Instant::now();
                    if let Err(e) = shards.tick(!running).await {
                        tracing::warn!(error = %e, "coordinating the shards failed; acting for those still held");
                    }
                    next_tick = sent + shards.tick_period();
                }
                done = OptionFuture::from(pass.as_mut()), if running => {
                    pass = None;
                    if !failures.log(done.expect("a running pass")) {
                        return Ok(());
                    }
                    // A pass boundary: what a newcomer's share asks for is given up now.
                    shards.give_up_extra().await;
                    if full {
                        next_pass = Instant::now() + opts.polling_interval;
                    }
                }
                () = tokio::time::sleep_until(next_pass), if !running => {}
                () = self.service_changed(), if !running => {
                    full = false;
                    pass = Some(Box::pin(self.pass(false, opts.dry_run)));
                }
            }
        }
    }

    /// Follows until this process acquires the Lease, then leads until it loses it (or cannot
    /// renew in time), and follows again; until closed.
    async fn lead_or_follow(&self, elector: &LeaderElector, interval: Duration, dry_run: bool) -> Result<()> {
        let retry = elector.retry_period();
        let mut failures = PassFailures::default();
        loop {
            // Following: try to acquire every retry period.
            let sent = Instant::now();
            let leading = match elector.try_acquire_or_renew().await {
                Ok(l) => l,
                Err(err) => {
                    tracing::warn!(error = %err, "leader election failed; not acting");
                    false
                }
            };
            if !leading {
                tokio::select! {
                    () = self.closed() => return Ok(()),
                    () = tokio::time::sleep_until(sent + retry) => continue,
                }
            }
            // Leading: passes, with renewals beside them, from watches kept while leading. The
            // pass runs in the elector's fence: none of its writes leaves this process unless the
            // Lease is held at that instant by this process's clock (`fence.rs`).
            let fence = elector.fence().clone();
            let _leading = LeaderGauge::set();
            let _watching = self.start_watching();
            let mut full = false;
            let mut next_renew = sent + retry;
            let mut next_pass = Instant::now();
            let mut pass: Option<BoxFuture<'_, Result<Vec<Decision>>>> = None;
            loop {
                if pass.is_none() && Instant::now() >= next_pass {
                    full = true;
                    pass = Some(Box::pin(fence::scope(fence.clone(), self.pass(true, dry_run))));
                }
                let running = pass.is_some();
                tokio::select! {
                    // A process that wakes from a pause renews (or steps down) before its pass
                    // goes on; the fence refuses the pass's writes either way.
                    biased;
                    () = self.closed() => return Ok(()),
                    () = tokio::time::sleep_until(next_renew) => {
                        let sent = Instant::now();
                        match elector.try_acquire_or_renew().await {
                            Ok(true) => {}
                            Ok(false) => {
                                tracing::warn!(identity = %elector.identity(), "lost the lease; stopping the pass");
                                break;
                            }
                            Err(err) => tracing::warn!(error = %err, "renewing the lease failed"),
                        }
                        // Stop acting before anyone else may see the Lease unchanged for a whole
                        // duration (they count from after our last renewal).
                        let Some(until) = fence.until().filter(|u| Instant::now() < *u) else {
                            tracing::warn!(identity = %elector.identity(), "could not renew the lease in time; stopping the pass");
                            break;
                        };
                        next_renew = (sent + retry).min(until);
                    }
                    done = OptionFuture::from(pass.as_mut()), if running => {
                        pass = None;
                        if !failures.log(done.expect("a running pass")) {
                            return Ok(());
                        }
                        if full {
                            next_pass = Instant::now() + interval;
                        }
                    }
                    () = tokio::time::sleep_until(next_pass), if !running => {}
                    () = self.service_changed(), if !running => {
                        full = false;
                        pass = Some(Box::pin(fence::scope(fence.clone(), self.pass(false, dry_run))));
                    }
                }
            }
            // Dropping the pass cancels it.
            drop(pass);
        }
    }
}

impl Controller {
    /// A full pass, or (`full` false) a decision for each service changed since the last.
    async fn pass(&self, full: bool, dry_run: bool) -> Result<Vec<Decision>> {
        if full { self.check_and_scale(dry_run).await } else { self.check_changed_services(dry_run).await }
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

/// `kubescale_leader` is 1 while this lives.
struct LeaderGauge;

impl LeaderGauge {
    fn set() -> Self {
        crate::core::metrics::metrics().leader.set(1);
        LeaderGauge
    }
}

impl Drop for LeaderGauge {
    fn drop(&mut self) {
        crate::core::metrics::metrics().leader.set(0);
    }
}

/// The shards the passes act for, set while a sharded `run` runs (cleared however it ends).
struct ActiveShards<'a>(&'a std::sync::Mutex<Option<Arc<crate::core::elasti::shards::ShardSet>>>);

impl<'a> ActiveShards<'a> {
    fn set(
        cell: &'a std::sync::Mutex<Option<Arc<crate::core::elasti::shards::ShardSet>>>,
        set: Arc<crate::core::elasti::shards::ShardSet>,
    ) -> Self {
        *cell.lock().expect("shards poisoned") = Some(set);
        ActiveShards(cell)
    }
}

impl Drop for ActiveShards<'_> {
    fn drop(&mut self) {
        *self.0.lock().expect("shards poisoned") = None;
    }
}

/// Releases the shards and the membership when a sharded `run` ends in any way (as
/// [`ReleaseOnDrop`] does for the single Lease).
struct ReleaseShardsOnDrop(Option<Arc<Shards>>);

impl ReleaseShardsOnDrop {
    async fn release_now(mut self) {
        if let Some(s) = self.0.take() {
            s.release_all().await;
        }
    }
}

impl Drop for ReleaseShardsOnDrop {
    fn drop(&mut self) {
        if let Some(s) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move { s.release_all().await });
        }
    }
}

/// Releases the Lease when `run` ends in any way: at once on a normal return, from a task of
/// its own when the future is dropped (a cancelled task, Ctrl-C).
struct ReleaseOnDrop(Option<Arc<LeaderElector>>);

impl ReleaseOnDrop {
    async fn release_now(mut self) {
        if let Some(e) = self.0.take()
            && let Err(err) = e.release().await
        {
            tracing::debug!(error = %err, "releasing the lease failed");
        }
    }
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if let Some(e) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                if let Err(err) = e.release().await {
                    tracing::debug!(error = %err, "releasing the lease failed");
                }
            });
        }
    }
}
