//! The ElastiService status the loop writes: `mode`, `lastScaledUpTime`,
//! `lastReconciledTime`, each only when it changed or went stale.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Patch;

use crate::core::elasti::controller::Controller;
use crate::core::elasti::decision::Direction;
use crate::core::elasti::decision::elapsed;
use crate::core::elasti::resource::{ElastiService, ElastiServiceStatus};
use crate::core::error::Result;
use crate::core::unread;

/// Mode of a target at zero.
pub const MODE_PROXY: &str = "proxy";
/// Mode of a serving target.
pub const MODE_SERVE: &str = "serve";

/// How stale the stored `lastScaledUpTime` may get before it is rewritten: a quarter cooldown.
pub fn persist_after(cooldown: Duration) -> Duration {
    cooldown / 4
}

/// How stale `lastReconciledTime` may get when nothing else in the status changes.
fn heartbeat_after(cooldown: Duration) -> Duration {
    (cooldown / 4).max(Duration::from_secs(300))
}

/// The status a pass compares with: the object's, unless the loop wrote a newer one that the
/// object (from the watch, which may trail a burst of writes) does not show yet. Every status
/// write of the loop sets `lastReconciledTime`, so an object whose `lastReconciledTime` is not
/// older than the one written shows that write (or a later one).
fn effective(cached: Option<&ElastiServiceStatus>, written: Option<&ElastiServiceStatus>) -> ElastiServiceStatus {
    let cached = cached.cloned().unwrap_or_default();
    let Some(w) = written else { return cached };
    if cached.last_reconciled_time.as_ref().map(|t| t.0) >= w.last_reconciled_time.as_ref().map(|t| t.0) {
        return cached;
    }
    let later = |a: &Option<Time>, b: &Option<Time>| match (a, b) {
        (Some(x), Some(y)) => Some(if x.0 >= y.0 { x.clone() } else { y.clone() }),
        (x, y) => x.clone().or_else(|| y.clone()),
    };
    ElastiServiceStatus {
        last_reconciled_time: w.last_reconciled_time.clone(),
        last_scaled_up_time: later(&cached.last_scaled_up_time, &w.last_scaled_up_time),
        mode: w.mode.clone().or(cached.mode),
    }
}

impl Controller {
    /// The status to compare with for the service `key` (see [`effective`]).
    pub(crate) fn status_of(&self, key: &str, es: &ElastiService) -> ElastiServiceStatus {
        let mut written = self.written.lock().expect("written poisoned");
        let status = effective(es.status.as_ref(), written.get(key));
        if es.status.as_ref().is_some_and(|s| *s == status) {
            // The object shows the write (or a later one): nothing to remember any more.
            written.remove(key);
        }
        status
    }

    /// Patches the status only where it changed (or went stale); `key` names the service in
    /// the loop's memory of what it wrote.
    pub(crate) async fn write_status(
        &self,
        key: &str,
        es: &ElastiService,
        direction: Direction,
        mode: Option<&str>,
        now: Timestamp,
        cooldown: Duration,
    ) -> Result<()> {
        let status = &self.status_of(key, es);
        let stale = |t: Option<&Time>, after: Duration| t.is_none_or(|t| elapsed(t.0, now) >= after);
        let mut patch = serde_json::Map::new();
        if let Some(m) = mode
            && status.mode.as_deref() != Some(m)
        {
            patch.insert("mode".into(), m.into());
        }
        if direction == Direction::ScaleUp && stale(status.last_scaled_up_time.as_ref(), persist_after(cooldown)) {
            patch.insert("lastScaledUpTime".into(), serde_json::to_value(Time(now)).unwrap_or_default());
        }
        if !patch.is_empty() || stale(status.last_reconciled_time.as_ref(), heartbeat_after(cooldown)) {
            patch.insert("lastReconciledTime".into(), serde_json::to_value(Time(now)).unwrap_or_default());
        }
        if patch.is_empty() {
            return Ok(());
        }
        let ns = es.metadata.namespace.as_deref().unwrap_or_default();
        let body = Patch::Merge(serde_json::json!({ "status": patch }));
        let name = es.metadata.name.as_deref().unwrap_or_default();
        unread::patch_status(self.handler.client(), self.services_in(ns).resource_url(), name, &body).await?;
        let mut written = status.clone();
        written.last_reconciled_time = Some(Time(now));
        if let Some(m) = patch.get("mode").and_then(|m| m.as_str()) {
            written.mode = Some(m.to_string());
        }
        if patch.contains_key("lastScaledUpTime") {
            written.last_scaled_up_time = Some(Time(now));
        }
        self.written.lock().expect("written poisoned").insert(key.to_string(), written);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<Time> {
        Some(Time(s.parse().unwrap()))
    }

    #[test]
    fn a_write_the_watch_does_not_show_yet_counts() {
        let cached = ElastiServiceStatus {
            last_reconciled_time: at("2026-11-30T10:00:00Z"),
            last_scaled_up_time: None,
            mode: None,
        };
        let written = ElastiServiceStatus {
            last_reconciled_time: at("2026-11-30T10:05:00Z"),
            last_scaled_up_time: at("2026-11-30T10:05:00Z"),
            mode: Some("serve".into()),
        };
        assert_eq!(effective(Some(&cached), Some(&written)), written);
        // The watch caught up, or someone wrote after us: the object counts.
        let later = ElastiServiceStatus {
            last_reconciled_time: at("2026-11-30T10:06:00Z"),
            mode: Some("proxy".into()),
            ..Default::default()
        };
        assert_eq!(effective(Some(&later), Some(&written)), later);
        assert_eq!(effective(Some(&cached), None), cached);
    }
}
