//! The loop sharded across replicas, on Leases: every replica works.
//!
//! - Each ElastiService belongs to one of `n` shards by a stable hash of `namespace/name`
//!   ([`shard_of`], FNV-1a: the same in every process and version).
//! - Shard `i` is owned through its own Lease, `<lease-name>-<i>`, with the single Lease's
//!   guarantees (`leader.rs`): renewed every third of its duration beside the pass, a foreign
//!   holder judged expired on this process's own clock, a [`Fence`] per shard that refuses the
//!   shard's writes once its renewal is overdue, released on the way out.
//! - Replicas see each other through membership Leases, `<lease-name>-member-<identity>`, one per
//!   replica, renewed like the others and deleted on the way out. A replica counts the members it
//!   has seen change within a Lease duration (itself included) and holds at most
//!   `ceil(n / members)` shards.
//! - Each coordination tick (a third of the Lease duration): renew the membership and the held
//!   shards, LIST the group's Leases (one request: it feeds the expiry judgement of every shard
//!   and member), give up shards beyond the share (only between passes), and take free or
//!   expired ones up to the share, starting at an offset of this replica's own.
//!
//! Worst cases, for a Lease duration `d` (tick `d/3`): a replica that dies stops counting as a
//! member, and its shards' Leases expire, after `d` by the others' clocks; they are taken at the
//! next tick, so within `d + d/3`. A replica that joins is counted at once; the others give up
//! what exceeds the new share at their next tick that falls between passes, and it takes them at
//! its following tick: within two ticks plus one pass. At start, the first replica may take
//! every shard and give the extra back as the others appear.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::ListParams;
use tokio::time::Instant;

use crate::core::elasti::ownership::elector::LeaderElector;
use crate::core::elasti::ownership::lease_seen::LeaseSeen;
use crate::core::elasti::ownership::share::{ShardLease, free_shards, live_members, share, to_give_up, to_take};
use crate::core::elasti::ownership::{Ownership, Scope, Standing};
use crate::core::error::Result;
use crate::core::fence::Fence;

/// The label naming a group of shard and membership Leases (the run's Lease name).
pub const GROUP_LABEL: &str = "kubescale.io/lease-group";
/// The label saying what a Lease of the group is: `shard` or `member`.
pub const ROLE_LABEL: &str = "kubescale.io/lease-role";
/// The label carrying a shard Lease's index.
pub const SHARD_LABEL: &str = "kubescale.io/shard";
/// The most shards a run may have.
pub const MAX_SHARDS: u32 = 1024;

/// The shard of the service `namespace/name` among `shards`: FNV-1a of `namespace/name`.
pub fn shard_of(namespace: &str, name: &str, shards: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in namespace.bytes().chain(std::iter::once(b'/')).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(shards.max(1))) as u32
}

/// A DNS-label-safe form of `identity` for a Lease name: lowercase alphanumerics and `-`, at
/// most 40 characters, with a hash of the whole identity so that two never collide.
fn name_part(identity: &str) -> String {
    let mut s: String = identity
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .take(40)
        .collect();
    s = s.trim_matches('-').to_string();
    format!("{s}-{:08x}", shard_of("", identity, u32::MAX))
}

/// Which shards this replica may act for: the fence of each shard's Lease.
#[derive(Debug)]
pub(crate) struct ShardSet {
    fences: Vec<Arc<Fence>>,
}

impl ShardSet {
    /// How many shards there are.
    pub fn count(&self) -> u32 {
        self.fences.len() as u32
    }

    /// The shard of a service, and its fence when this replica holds it now.
    pub fn owner(&self, namespace: &str, name: &str) -> (u32, Option<Arc<Fence>>) {
        let shard = shard_of(namespace, name, self.count());
        let fence = &self.fences[shard as usize];
        (shard, fence.holds_at(Instant::now()).then(|| fence.clone()))
    }
}

/// What a replica holds and knows of the group, changed only by its ticks and pass boundaries.
#[derive(Debug, Default)]
struct Holding {
    /// The shards held.
    held: BTreeSet<u32>,
    /// The share computed at the last tick.
    share: u32,
    /// The other members' Leases as last seen (see `share::live_members`).
    members: HashMap<String, LeaseSeen>,
}

/// One replica's part in a sharded run: its membership, the shards' electors, its share.
pub(crate) struct Shards {
    api: Api<Lease>,
    group: String,
    duration: Duration,
    member: LeaderElector,
    electors: Vec<LeaderElector>,
    holding: Mutex<Holding>,
    offset: u32,
    set: Arc<ShardSet>,
}

impl Shards {
    /// The shards of the run whose Lease name is `group`, in `namespace`, as `identity`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        group: &str,
        identity: &str,
        duration: Duration,
        count: u32,
    ) -> Self {
        let labels = |role: &str, shard: Option<u32>| {
            let mut l =
                BTreeMap::from([(GROUP_LABEL.to_string(), group.to_string()), (ROLE_LABEL.into(), role.into())]);
            if let Some(i) = shard {
                l.insert(SHARD_LABEL.into(), i.to_string());
            }
            l
        };
        let elector = |name: &str| LeaderElector::new(client.clone(), namespace, name, identity.to_string(), duration);
        let member = elector(&format!("{group}-member-{}", name_part(identity))).with_labels(labels("member", None));
        let electors: Vec<LeaderElector> =
            (0..count).map(|i| elector(&format!("{group}-{i}")).with_labels(labels("shard", Some(i)))).collect();
        let set = Arc::new(ShardSet { fences: electors.iter().map(|e| e.fence().clone()).collect() });
        Shards {
            api: Api::namespaced(client, namespace),
            group: group.to_string(),
            duration,
            member,
            electors,
            holding: Mutex::new(Holding { share: count, ..Holding::default() }),
            offset: shard_of("", identity, count),
            set,
        }
    }

    fn holding(&self) -> std::sync::MutexGuard<'_, Holding> {
        self.holding.lock().expect("shards poisoned")
    }

    /// The shards held now, sorted.
    pub fn held(&self) -> BTreeSet<u32> {
        self.holding().held.clone()
    }

    fn count(&self) -> u32 {
        self.electors.len() as u32
    }

    /// One coordination step (see the module doc); `between_passes` allows giving shards up.
    async fn coordinate(&self, between_passes: bool) -> Result<()> {
        if let Err(e) = self.member.try_acquire_or_renew().await {
            tracing::warn!(error = %e, "renewing the membership Lease failed");
        }
        for i in self.held() {
            match self.electors[i as usize].try_acquire_or_renew().await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(shard = i, "lost the shard's Lease");
                    self.holding().held.remove(&i);
                }
                Err(e) => tracing::warn!(shard = i, error = %e, "renewing the shard's Lease failed"),
            }
        }
        let params = ListParams::default().labels(&format!("{GROUP_LABEL}={}", self.group));
        let leases = self.api.list(&params).await?.items;
        let (members, free) = self.observe(&leases, Instant::now());
        let share = share(self.count(), members);
        self.holding().share = share;
        if between_passes {
            self.give_up_extra().await;
        }
        let (candidates, wanted) = to_take(self.count(), self.offset, share, &self.held(), &free);
        let mut taken = 0;
        for i in candidates {
            if taken >= wanted {
                break;
            }
            match self.electors[i as usize].try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(shard = i, share, members, "took a shard");
                    self.holding().held.insert(i);
                    taken += 1;
                }
                Ok(false) => {}
                Err(e) => tracing::debug!(shard = i, error = %e, "taking a shard failed"),
            }
        }
        crate::core::metrics::metrics().shards_owned.set(self.held().len() as i64);
        Ok(())
    }

    /// Gives up the shards beyond the share of the last tick (between passes: a pass never
    /// loses a shard it was given). The ones last in this replica's order go first.
    async fn give_up_extra(&self) {
        let (share, extra) = {
            let h = self.holding();
            (h.share, to_give_up(self.count(), self.offset, h.share, &h.held))
        };
        for i in extra {
            self.holding().held.remove(&i);
            if let Err(e) = self.electors[i as usize].release().await {
                tracing::debug!(shard = i, error = %e, "releasing a shard's Lease failed");
            }
            tracing::info!(shard = i, share, "gave a shard up to rebalance");
        }
        crate::core::metrics::metrics().shards_owned.set(self.held().len() as i64);
    }

    /// From a LIST of the group: how many members are live (this replica included), and which
    /// shards may be taken (`share.rs`). Feeds each shard elector's expiry judgement.
    fn observe(&self, leases: &[Lease], now: Instant) -> (u32, BTreeSet<u32>) {
        let mut others = Vec::new();
        let mut shards = Vec::new();
        for l in leases {
            let labels = l.metadata.labels.as_ref();
            let name = l.metadata.name.clone().unwrap_or_default();
            let spec = l.spec.clone().unwrap_or_default();
            match labels.and_then(|m| m.get(ROLE_LABEL)).map(String::as_str) {
                Some("member") if name != self.member.name() => others.push((name, spec)),
                Some("shard") => {
                    let index = labels.and_then(|m| m.get(SHARD_LABEL)).and_then(|s| s.parse::<u32>().ok());
                    let Some(elector) = index.and_then(|i| self.electors.get(i as usize)) else { continue };
                    let holder = spec.holder_identity.clone().unwrap_or_default();
                    let foreign = !holder.is_empty() && holder != self.member.identity();
                    let expired = foreign && elector.foreign_expired(&spec, now);
                    shards.push(ShardLease { index: index.unwrap_or_default(), holder, expired });
                }
                _ => {}
            }
        }
        let live = live_members(&mut self.holding().members, &others, self.duration, now);
        (live, free_shards(self.count(), self.member.identity(), &shards))
    }

    /// Gives every held shard up and deletes the membership Lease (on the way out).
    async fn release_all(&self) {
        let held = std::mem::take(&mut self.holding().held);
        crate::core::metrics::metrics().shards_owned.set(0);
        for i in held {
            if let Err(e) = self.electors[i as usize].release().await {
                tracing::debug!(shard = i, error = %e, "releasing a shard's Lease failed");
            }
        }
        if let Err(e) = self.member.delete().await {
            tracing::debug!(error = %e, "deleting the membership Lease failed");
        }
    }
}

impl Ownership for Shards {
    fn scope(&self) -> Scope {
        Scope::Shards(self.set.clone())
    }

    fn may_pass(&self) -> bool {
        !self.holding().held.is_empty()
    }

    /// Coordinates; a replica that cannot reach the group goes on acting for the shards it still
    /// holds (each shard's fence stops it in time).
    async fn tick(&self, between_passes: bool) -> Standing {
        if let Err(e) = self.coordinate(between_passes).await {
            tracing::warn!(error = %e, "coordinating the shards failed; acting for those still held");
        }
        Standing::Acting
    }

    /// A third of the Lease duration later.
    fn next_tick(&self, sent: Instant) -> Option<Instant> {
        Some(sent + self.duration / 3)
    }

    /// A pass boundary: what a newcomer's share asks for is given up now.
    async fn pass_ended(&self) {
        self.give_up_extra().await;
    }

    async fn release(&self) {
        self.release_all().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        // Pinned: a change would move services between shards across versions.
        assert_eq!(shard_of("default", "web", 12), 7);
        assert_eq!(shard_of("team", "svc-7", 12), 5);
        assert_eq!(shard_of("a", "b", 1), 0);
        let mut counts = [0u32; 12];
        for i in 0..1200 {
            counts[shard_of("team", &format!("svc-{i}"), 12) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (70..=130).contains(c)), "{counts:?}");
    }

    #[test]
    fn member_names_are_valid_and_distinct() {
        let a = name_part("Web_Pod.7/12345");
        assert!(a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{a}");
        assert_ne!(name_part("x-1"), name_part("x_1"));
        assert!(name_part(&"y".repeat(300)).len() <= 49);
    }
}
