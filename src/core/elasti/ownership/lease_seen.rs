//! What this process last saw of a Lease it does not hold, and since when (on its own monotonic
//! clock): the basis of every expiry judgement, for the leader Lease, a shard's Lease and a
//! replica's membership Lease alike.
//!
//! A Lease is judged by when *this* process saw it last change (holder, renew time or duration),
//! as client-go does: the holder's clock and ours may disagree, durations on one clock cannot.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::LeaseSpec;
use tokio::time::Instant;

/// A Lease as last seen: its holder, renew time and duration, and when it last changed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LeaseSeen {
    /// The holder's identity (empty: none).
    pub holder: String,
    renew_time: Option<Timestamp>,
    duration: Duration,
    /// When this process first saw the Lease as it is now.
    changed: Instant,
}

impl LeaseSeen {
    /// The memory after seeing `spec` at `now`: `before` when the Lease did not change since,
    /// else a new memory that starts counting at `now`.
    pub fn after(before: Option<&LeaseSeen>, spec: &LeaseSpec, now: Instant) -> LeaseSeen {
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let renew_time = spec.renew_time.as_ref().map(|t| t.0);
        let seconds = spec.lease_duration_seconds.unwrap_or(0).max(0);
        let duration = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
        match before {
            Some(b) if b.holder == holder && b.renew_time == renew_time && b.duration == duration => b.clone(),
            _ => LeaseSeen { holder, renew_time, duration, changed: now },
        }
    }

    /// How long the Lease has gone unchanged at `now`, by this process's clock.
    pub fn unchanged_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.changed)
    }

    /// Whether the Lease has gone unchanged for longer than its own duration at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.unchanged_for(now) > self.duration
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn spec(holder: &str, renew: &str) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(renew.parse().unwrap())),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_counts_on_our_clock_from_the_last_change() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        // (seconds since t0, holder, renew time, expired afterwards)
        let table = [
            // A renew time far in the past by our wall clock (a skewed holder): just seen, held.
            (0, "other", "2000-01-01T00:00:00Z", false),
            (14, "other", "2000-01-01T00:00:00Z", false),
            // A renewal, however late its timestamp, restarts the count.
            (14, "other", "2000-01-01T00:00:10Z", false),
            (28, "other", "2000-01-01T00:00:10Z", false),
            // Unchanged for longer than its 15 s: expired.
            (30, "other", "2000-01-01T00:00:10Z", true),
            // Another holder is a change: held again for a whole duration.
            (31, "third", "2000-01-01T00:00:10Z", false),
            // A renew time in the future (a fast clock) does not hold it forever.
            (100, "third", "2100-01-01T00:00:00Z", false),
            (116, "third", "2100-01-01T00:00:00Z", true),
        ];
        let mut seen: Option<LeaseSeen> = None;
        for (at, holder, renew, expired) in table {
            let now = s(at);
            let next = LeaseSeen::after(seen.as_ref(), &spec(holder, renew), now);
            assert_eq!(next.expired(now), expired, "at {at} s, {holder} renewed {renew}");
            seen = Some(next);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_without_a_duration_expires_once_unchanged() {
        let t0 = Instant::now();
        let spec = LeaseSpec { holder_identity: Some("x".into()), ..Default::default() };
        let seen = LeaseSeen::after(None, &spec, t0);
        assert!(!seen.expired(t0));
        assert!(seen.expired(t0 + Duration::from_millis(1)));
    }
}
