//! Leader election with a `coordination.k8s.io/v1` Lease, so that of several processes running
//! the loop exactly one acts. The holder renews the Lease; when it stops renewing for a lease
//! duration, another process takes it over.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::core::error::{Error, Result};

/// Competes for one Lease under one identity.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

impl LeaderElector {
    /// An elector for Lease `namespace/name`, as `identity`, holding it for `duration` per renewal.
    pub fn new(client: Client, namespace: &str, name: &str, identity: String, duration: Duration) -> Self {
        LeaderElector { api: Api::namespaced(client, namespace), name: name.to_string(), identity, duration }
    }

    /// This elector's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    fn seconds(&self) -> i32 {
        i32::try_from(self.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// Takes or renews the Lease; `Ok(true)` when this process leads afterwards.
    pub async fn try_acquire_or_renew(&self) -> Result<bool> {
        let now = Timestamp::now();
        let current = match self.api.get_opt(&self.name).await? {
            Some(l) => l,
            None => {
                let lease = Lease {
                    metadata: ObjectMeta { name: Some(self.name.clone()), ..Default::default() },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(self.seconds()),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                return match self.api.create(&PostParams::default(), &lease).await.map_err(Error::from) {
                    Ok(_) => Ok(true),
                    Err(e) if e.is_conflict() => Ok(false), // another process created it first
                    Err(e) => Err(e),
                };
            }
        };
        let spec = current.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let held_for = Duration::from_secs(u64::try_from(spec.lease_duration_seconds.unwrap_or(0).max(0)).unwrap_or(0));
        let expired = spec.renew_time.as_ref().is_none_or(|t| {
            let since: Duration = now.duration_since(t.0).try_into().unwrap_or(Duration::ZERO);
            since > held_for
        });
        let ours = holder == self.identity;
        if !ours && !holder.is_empty() && !expired {
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
        match self.api.replace(&self.name, &PostParams::default(), &lease).await.map_err(Error::from) {
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

    /// Gives the Lease up (if held) so that another process can take over at once.
    pub async fn release(&self) -> Result<()> {
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
