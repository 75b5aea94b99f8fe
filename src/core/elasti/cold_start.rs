//! The loop's wake-ups, measured: from a scale-up from zero (its decision, and its write) to
//! the target's first ready replica, with the readiness `wait_for_replicas` uses (a CRD's own
//! status path read through its scale subresource).
//!
//! Each wake-up is followed by one task with one read and one watch of that object (renewed
//! every 20 s), not by polling; it ends as [`ColdStartOutcome::Ready`], as
//! [`ColdStartOutcome::Superseded`] when the target's count was changed by anyone before a
//! replica was ready (back to zero, or to another count) or the target was deleted, or as
//! [`ColdStartOutcome::Timeout`] after the run's `cold_start_timeout`. The outcome goes to the
//! histogram `kubescale_cold_start_seconds` (labels `outcome` and `since`, six series in all)
//! and, for `ready` and `timeout`, to an Event regarding the ElastiService. At most
//! [`MAX_FOLLOWED`] are followed at once (others are counted in
//! `kubescale_cold_starts_unmeasured_total`); closing the loop ends every task still following
//! a target.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use tokio::task::JoinSet;

use crate::core::elasti::controller::Controller;
use crate::core::error::Result;
use crate::core::metrics::metrics;
use crate::core::per_process::PerProcess;
use crate::core::scale::events::EventType;
use crate::core::scale::handler::ScaleHandler;
use crate::core::scale::wait::{Observed, clamp, int_at, object_versions, observed};
use crate::core::target::TargetRef;

/// The default of `RunOptions::cold_start_timeout`, and the limit of a pass made by hand.
pub const DEFAULT_COLD_START_TIMEOUT: Duration = Duration::from_secs(300);

/// How a measured wake-up ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColdStartOutcome {
    /// A replica of the target was ready.
    Ready,
    /// No replica was ready within the limit.
    Timeout,
    /// The target's count was changed by anyone before a replica was ready, or it was deleted.
    Superseded,
}

impl ColdStartOutcome {
    /// The `outcome` label: `ready`, `timeout` or `superseded`.
    pub fn as_str(self) -> &'static str {
        match self {
            ColdStartOutcome::Ready => "ready",
            ColdStartOutcome::Timeout => "timeout",
            ColdStartOutcome::Superseded => "superseded",
        }
    }
}

/// What one version of a waking target says, the loop having written `wrote`: its desired count
/// `spec`, and its ready count (`None` while its controller has not observed the latest spec).
/// `None` while it is still waking.
pub(crate) fn wake_state(wrote: i32, spec: i32, ready: Option<i32>) -> Option<ColdStartOutcome> {
    if spec != wrote {
        return Some(ColdStartOutcome::Superseded);
    }
    match ready {
        Some(n) if n >= 1 => Some(ColdStartOutcome::Ready),
        _ => None,
    }
}

/// A wake-up to measure: the loop scaled `target` from 0 to `wrote` for the service
/// `regarding`, decided at `decided` and written at `written`.
pub(crate) struct WakeUp {
    pub target: TargetRef,
    pub namespace: String,
    pub wrote: i32,
    pub decided: Instant,
    pub written: Instant,
    pub regarding: ObjectReference,
    /// How long after the write the wake-up ends as a timeout.
    pub limit: Duration,
}

/// Wake-ups followed at once at most: each holds a watch, a stream of the handler's HTTP/2
/// connection, which the scale path's own requests share.
pub const MAX_FOLLOWED: usize = 100;

/// The tasks following wake-ups (see the module doc), this process's own.
pub(crate) struct ColdStarts {
    tasks: PerProcess<Mutex<JoinSet<()>>>,
    /// How many may be followed at once.
    cap: usize,
}

impl Default for ColdStarts {
    fn default() -> Self {
        ColdStarts { tasks: PerProcess::new(), cap: MAX_FOLLOWED }
    }
}

impl ColdStarts {
    fn tasks(&self) -> std::sync::MutexGuard<'_, JoinSet<()>> {
        self.tasks.get(Mutex::default).lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `follow` unless `cap` wake-ups are followed already; whether it runs. Must run
    /// inside the runtime.
    fn spawn(&self, follow: impl std::future::Future<Output = ()> + Send + 'static) -> bool {
        let mut tasks = self.tasks();
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= self.cap {
            return false;
        }
        tasks.spawn(follow);
        true
    }

    /// Ends every task still following a target; nothing is recorded for them.
    pub(crate) fn stop(&self) {
        if self.tasks.is_built_here() {
            // A JoinSet aborts its tasks when dropped.
            drop(std::mem::take(&mut *self.tasks()));
        }
    }
}

impl Controller {
    /// Follows `w` until it ends (see the module doc), unless [`MAX_FOLLOWED`] wake-ups are
    /// followed already: then it is counted as not measured. Must run inside the runtime.
    pub(crate) fn measure_wake_up(&self, w: WakeUp) {
        let handler = self.handler.clone();
        let (target, namespace) = (w.target.to_string(), w.namespace.clone());
        let followed = self.cold_starts.spawn(async move {
            let outcome = follow(&handler, &w).await;
            report(&handler, &w, outcome, Instant::now());
        });
        if !followed {
            metrics().cold_start_unmeasured.inc();
            tracing::debug!(%target, %namespace, max = MAX_FOLLOWED, "wake-up not measured: as many are followed already");
        }
    }
}

/// How the wake-up `w` ends: followed until an outcome, an error retried each second, at
/// most until its limit.
async fn follow(handler: &ScaleHandler, w: &WakeUp) -> ColdStartOutcome {
    let attempts = async {
        let mut failed = false;
        loop {
            match watch_wake_up(handler, w).await {
                Ok(outcome) => return outcome,
                Err(e) => {
                    if !failed {
                        let message = crate::core::redact::redact(&e.to_string());
                        tracing::warn!(target = %w.target, namespace = %w.namespace, error = %message, "following a wake-up failed; trying again each second");
                    }
                    failed = true;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    };
    let left = w.limit.saturating_sub(w.written.elapsed());
    tokio::time::timeout(left, attempts).await.unwrap_or(ColdStartOutcome::Timeout)
}

/// Follows `w`'s target with a watch until [`wake_state`] says how it ended.
async fn watch_wake_up(handler: &ScaleHandler, w: &WakeUp) -> Result<ColdStartOutcome> {
    handler
        .with_resolved(&w.target, Some(&w.namespace), |t| async move {
            let api = handler.api_for(&t);
            let mut versions = std::pin::pin!(object_versions(api.clone(), t.name.clone()));
            while let Some(obj) = versions.try_next().await? {
                let spec = || clamp(int_at(&obj, &["spec", "replicas"]).unwrap_or(1));
                let (spec, ready) = match observed(&t.resource, &obj, true) {
                    Observed::NotYet => (spec(), None),
                    Observed::Counts(ready, _) => (spec(), Some(ready)),
                    Observed::FromScale => {
                        let s = api.get_scale(&t.name).await?;
                        (s.spec.and_then(|s| s.replicas).unwrap_or(0), s.status.map(|st| st.replicas))
                    }
                };
                if let Some(outcome) = wake_state(w.wrote, spec, ready) {
                    return Ok(outcome);
                }
            }
            // Deleted.
            Ok(ColdStartOutcome::Superseded)
        })
        .await
}

/// Records how `w` ended at `at`: the histogram, a log line, and an Event for `ready` and
/// `timeout`.
fn report(handler: &ScaleHandler, w: &WakeUp, outcome: ColdStartOutcome, at: Instant) {
    let (decision, write) = (at - w.decided, at - w.written);
    metrics().cold_start(outcome.as_str(), decision, write);
    let (target, ns) = (&w.target, &w.namespace);
    let (d, wr) = (decision.as_secs_f64(), write.as_secs_f64());
    tracing::info!(%target, namespace = %ns, outcome = outcome.as_str(), since_decision = d, since_write = wr, "wake-up ended");
    let (type_, reason, note) = match outcome {
        ColdStartOutcome::Ready => {
            (EventType::Normal, "ColdStart", format!("{target} ready after {d:.1} s ({wr:.1} s after the write)"))
        }
        ColdStartOutcome::Timeout => {
            let limit = w.limit.as_secs_f64();
            let note = format!("{target} had no ready replica {limit} s after the scale-up from zero");
            (EventType::Warning, "ColdStartTimeout", note)
        }
        ColdStartOutcome::Superseded => return,
    };
    handler.record_quietly(type_, reason, note, &w.regarding);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_a_wake_up_ends() {
        use ColdStartOutcome::{Ready, Superseded};
        let cases = [
            // (wrote, spec, ready), outcome
            ((1, 1, None), None),
            ((1, 1, Some(0)), None),
            ((1, 1, Some(1)), Some(Ready)),
            ((3, 3, Some(1)), Some(Ready)),
            // Back to zero before a replica was ready, by the loop or a person.
            ((1, 0, Some(0)), Some(Superseded)),
            ((1, 0, None), Some(Superseded)),
            // Someone else chose another count: theirs, not this wake-up's.
            ((1, 4, Some(2)), Some(Superseded)),
            // Ready replicas of an older spec still count only under ours.
            ((2, 5, Some(1)), Some(Superseded)),
        ];
        for ((wrote, spec, ready), want) in cases {
            assert_eq!(wake_state(wrote, spec, ready), want, "wrote {wrote}, spec {spec}, ready {ready:?}");
        }
    }

    #[tokio::test]
    async fn at_most_cap_wake_ups_are_followed_and_a_place_frees_when_one_ends() {
        let starts = ColdStarts { cap: 2, ..ColdStarts::default() };
        let (end, ended) = tokio::sync::oneshot::channel::<()>();
        assert!(starts.spawn(async move { drop(ended.await) }));
        assert!(starts.spawn(std::future::pending()));
        assert!(!starts.spawn(async {}), "a third while two are followed");
        end.send(()).unwrap();
        tokio::task::yield_now().await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !starts.spawn(std::future::pending()) {
            assert!(Instant::now() < deadline, "the ended one's place was not freed");
            tokio::task::yield_now().await;
        }
        starts.stop();
        assert!(starts.spawn(async {}), "stop ends them all");
    }

    #[test]
    fn outcome_labels() {
        let all = [ColdStartOutcome::Ready, ColdStartOutcome::Timeout, ColdStartOutcome::Superseded];
        assert_eq!(all.map(ColdStartOutcome::as_str), ["ready", "timeout", "superseded"]);
    }
}
