//! Leader election with a `coordination.k8s.io/v1` Lease, so that of several processes running
//! the loop exactly one acts.
//!
//! - A foreign Lease is judged expired by when *this* process saw it last change, on this
//!   process's monotonic clock (`lease_seen.rs`).
//! - The holder renews every third of the duration, independently of the pass it runs
//!   (`run.rs`), and stops acting once [`LeaderElector::renew_deadline`] has passed since its last
//!   successful renewal: strictly before another process could see the Lease unchanged for a
//!   whole duration and take it.
//! - The elector keeps a [`Fence`]: held from each successful renewal (counted from when it was
//!   sent) for the renew deadline, lapsed at once when the Lease is seen lost or given up. The
//!   pass's writes go out only while it holds (`fence.rs`), so a process paused mid-pass sends
//!   nothing for the Lease after waking.
//! - The Lease is released (holder cleared) on the way out, so a successor takes over at once.
//!
//! `kube-lease-manager` was considered: it judges expiry by comparing the stored renew time with
//! the local clock plus a skew allowance, which lets clock skew cause takeovers; it is not used.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::time::Instant;

use crate::core::elasti::ownership::lease_seen::LeaseSeen;
use crate::core::error::Result;
use crate::core::fence::Fence;

/// Competes for one Lease under one identity.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    /// Labels of the Lease when this elector creates it (a shard's group and role).
    labels: std::collections::BTreeMap<String, String>,
    identity: String,
    duration: Duration,
    /// The Lease as last seen while another held it (see `lease_seen.rs`).
    seen: Mutex<Option<LeaseSeen>>,
    fence: Arc<Fence>,
}

impl LeaderElector {
    /// An elector for Lease `namespace/name`, as `identity`, holding it for `duration` per renewal.
    pub fn new(client: Client, namespace: &str, name: &str, identity: String, duration: Duration) -> Self {
        LeaderElector {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            labels: Default::default(),
            identity,
            duration,
            seen: Mutex::new(None),
            fence: Arc::new(Fence::new(format!("{namespace}/{name}"))),
        }
    }

    /// The elector, creating its Lease with `labels` (so that a group of Leases can be listed).
    pub fn with_labels(mut self, labels: std::collections::BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }

    /// The Lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fence of the loop's writes: held while this elector may act (see the module doc).
    pub fn fence(&self) -> &Arc<Fence> {
        &self.fence
    }

    /// This elector's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// How often the holder renews: a third of the duration.
    pub fn retry_period(&self) -> Duration {
        self.duration / 3
    }

    /// How long after its last successful renewal (measured from when that renewal was sent)
    /// the holder may still act: two thirds of the duration, leaving a third as a margin before
    /// any other process could take the Lease.
    pub fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }

    fn seconds(&self) -> i32 {
        i32::try_from(self.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// Whether a foreign holder's Lease, as just read (here or in a LIST of its group), has gone
    /// unchanged for its whole duration by this process's clock. A change restarts the count.
    pub(crate) fn foreign_expired(&self, spec: &LeaseSpec, now: Instant) -> bool {
        let mut memory = self.seen.lock().expect("lease memory poisoned");
        let seen = LeaseSeen::after(memory.as_ref(), spec, now);
        let expired = seen.expired(now);
        *memory = Some(seen);
        expired
    }

    /// Takes or renews the Lease; `Ok(true)` when this process leads afterwards. The fence
    /// follows: held for the renew deadline from when this attempt began on success, lapsed
    /// when another holds the Lease; an error leaves it to run out by itself.
    pub async fn try_acquire_or_renew(&self) -> Result<bool> {
        let sent = Instant::now();
        let leading = self.acquire_or_renew().await?;
        if leading {
            self.fence.renewed(sent, self.renew_deadline());
        } else {
            self.fence.lapse();
        }
        Ok(leading)
    }

    async fn acquire_or_renew(&self) -> Result<bool> {
        let now = Timestamp::now();
        let current = match self.api.get_opt(&self.name).await? {
            Some(l) => l,
            None => {
                let labels = (!self.labels.is_empty()).then(|| self.labels.clone());
                let lease = Lease {
                    metadata: ObjectMeta { name: Some(self.name.clone()), labels, ..Default::default() },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(self.seconds()),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                return match self.api.create(&PostParams::default(), &lease).await.map_err(crate::core::Error::from) {
                    Ok(_) => Ok(true),
                    Err(e) if e.is_conflict() => Ok(false), // another process created it first
                    Err(e) => Err(e),
                };
            }
        };
        let spec = current.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == self.identity;
        if !ours && !holder.is_empty() && !self.foreign_expired(&spec, Instant::now()) {
            return Ok(false);
        }
        let mut lease = current.clone();
        let spec = lease.spec.get_or_insert_with(Default::default);
        if !ours {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            spec.holder_identity = Some(self.identity.clone());
        }
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(self.seconds());
        // The read resourceVersion makes this a compare-and-swap: of two racing takers one wins.
        match self.api.replace(&self.name, &PostParams::default(), &lease).await.map_err(crate::core::Error::from) {
            Ok(_) => {
                if !ours {
                    tracing::info!(lease = %self.name, identity = %self.identity, previous = %holder, "became the leader");
                }
                Ok(true)
            }
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the Lease if this elector holds it (a replica's own membership Lease, on the
    /// way out); the fence lapses first.
    pub async fn delete(&self) -> Result<()> {
        self.fence.lapse();
        if let Some(lease) = self.api.get_opt(&self.name).await?
            && lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(self.identity.as_str())
        {
            let dp = kube::api::DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    resource_version: lease.metadata.resource_version.clone(),
                    uid: None,
                }),
                ..Default::default()
            };
            self.api.delete(&self.name, &dp).await?;
        }
        Ok(())
    }

    /// Gives the Lease up (if held) so that another process can take over at once; the fence
    /// lapses first.
    pub async fn release(&self) -> Result<()> {
        self.fence.lapse();
        if let Some(mut lease) = self.api.get_opt(&self.name).await? {
            let spec = lease.spec.get_or_insert_with(Default::default);
            if spec.holder_identity.as_deref() == Some(self.identity.as_str()) {
                spec.holder_identity = None;
                spec.renew_time = None;
                self.api.replace(&self.name, &PostParams::default(), &lease).await?;
                tracing::info!(lease = %self.name, identity = %self.identity, "released the lease");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elector() -> LeaderElector {
        // A client that is never used: the expiry judgement is local.
        let (service, _handle) =
            tower_test::mock::pair::<http::Request<kube::client::Body>, http::Response<kube::client::Body>>();
        LeaderElector::new(Client::new(service, "ns"), "ns", "l", "me".into(), Duration::from_secs(15))
    }

    #[tokio::test]
    async fn the_holder_stops_acting_before_anyone_may_take_over() {
        let e = elector();
        assert!(e.retry_period() < e.renew_deadline() && e.renew_deadline() < Duration::from_secs(15));
    }
}
