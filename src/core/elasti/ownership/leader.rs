//! One Lease: its holder acts on every service. The holder renews every third of the Lease's
//! duration beside the pass, stops acting (the pass dropped, the watches stopped) when another
//! holds the Lease or when it could not renew in time, and follows again: it tries to take the
//! Lease every third of the duration. Every write of a pass is fenced by the Lease (`fence.rs`).

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::time::Instant;

use crate::core::elasti::ownership::elector::LeaderElector;
use crate::core::elasti::ownership::{Ownership, Scope, Standing};

/// How the holder of one Lease stands after a renewal attempt: `renewed` is its answer
/// (`Some(true)`: held, `Some(false)`: another holds it, `None`: no answer), `until` the end of
/// the fence it left (see [`Fence::until`](crate::core::fence::Fence::until)).
pub(crate) fn standing(renewed: Option<bool>, until: Option<Instant>, now: Instant) -> Standing {
    match renewed {
        Some(false) => Standing::Idle,
        _ if until.is_some_and(|u| now < u) => Standing::Acting,
        _ => Standing::Idle,
    }
}

/// The ownership of a run with leader election.
pub(crate) struct Leader {
    elector: LeaderElector,
    /// Whether the last step left this process acting.
    leading: AtomicBool,
}

impl Leader {
    /// Ownership through `elector`'s Lease.
    pub fn new(elector: LeaderElector) -> Self {
        Leader { elector, leading: AtomicBool::new(false) }
    }

    fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::Relaxed);
        crate::core::metrics::metrics().leader.set(i64::from(leading));
    }
}

impl Ownership for Leader {
    fn scope(&self) -> Scope {
        Scope::Fenced(self.elector.fence().clone())
    }

    fn may_pass(&self) -> bool {
        self.elector.fence().holds_at(Instant::now())
    }

    async fn tick(&self, _between_passes: bool) -> Standing {
        let was_leading = self.leading.load(Ordering::Relaxed);
        let renewed = match self.elector.try_acquire_or_renew().await {
            Ok(held) => Some(held),
            Err(err) if was_leading => {
                tracing::warn!(error = %err, "renewing the lease failed");
                None
            }
            Err(err) => {
                tracing::warn!(error = %err, "leader election failed; not acting");
                None
            }
        };
        let now = standing(renewed, self.elector.fence().until(), Instant::now());
        if was_leading && now == Standing::Idle {
            let identity = self.elector.identity();
            if renewed == Some(false) {
                tracing::warn!(%identity, "lost the lease; stopping the pass");
            } else {
                tracing::warn!(%identity, "could not renew the lease in time; stopping the pass");
            }
        }
        self.set_leading(now == Standing::Acting);
        now
    }

    /// A third of the Lease's duration later, and never after the fence's end while it holds:
    /// the holder renews (or steps down) before anyone else may take the Lease.
    fn next_tick(&self, sent: Instant) -> Option<Instant> {
        let next = sent + self.elector.retry_period();
        let until = self.elector.fence().until().filter(|u| *u > Instant::now());
        Some(until.map_or(next, |u| next.min(u)))
    }

    async fn pass_ended(&self) {}

    async fn release(&self) {
        self.set_leading(false);
        if let Err(err) = self.elector.release().await {
            tracing::debug!(error = %err, "releasing the lease failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn standing_table() {
        let now = Instant::now();
        let later = Some(now + Duration::from_secs(5));
        let past = Some(now - Duration::from_millis(1));
        // (the renewal's answer, the fence's end, how the holder stands)
        let table = [
            // Renewed (or taken): acting while the fence runs.
            (Some(true), later, Standing::Acting),
            // Another holds the Lease: stop at once, whatever the fence says.
            (Some(false), later, Standing::Idle),
            // No answer, the last renewal still covers now: go on acting.
            (None, later, Standing::Acting),
            // No answer and the fence has run out (a renewal that lands late, a paused
            // process): stop before anyone else may take the Lease.
            (None, past, Standing::Idle),
            // A renewal that succeeded too late to extend the fence past now.
            (Some(true), past, Standing::Idle),
            // Following, and the election failed: still following.
            (None, None, Standing::Idle),
        ];
        for (renewed, until, expected) in table {
            assert_eq!(standing(renewed, until, now), expected, "{renewed:?}, {until:?}");
        }
    }
}
