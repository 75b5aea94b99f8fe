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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::ListParams;
use tokio::time::Instant;

use crate::core::elasti::leader::LeaderElector;
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

/// What this replica last saw of another member's Lease, and when it last changed.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    holder: String,
    renew_time: Option<jiff::Timestamp>,
    changed: Instant,
}

/// One replica's part in a sharded run: its membership, the shards' electors, its share.
pub(crate) struct Shards {
    api: Api<Lease>,
    group: String,
    duration: Duration,
    member: LeaderElector,
    electors: Vec<LeaderElector>,
    held: Mutex<HashSet<u32>>,
    /// The share computed at the last tick.
    share: std::sync::atomic::AtomicU32,
    members: Mutex<HashMap<String, Seen>>,
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
            held: Mutex::new(HashSet::new()),
            share: std::sync::atomic::AtomicU32::new(count),
            members: Mutex::new(HashMap::new()),
            offset: shard_of("", identity, count),
            set,
        }
    }

    /// Which shards this replica may act for (the passes read it).
    pub fn set(&self) -> Arc<ShardSet> {
        self.set.clone()
    }

    /// How often the coordination ticks: a third of the Lease duration.
    pub fn tick_period(&self) -> Duration {
        self.duration / 3
    }

    /// The shards held now, sorted.
    pub fn held(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.held.lock().expect("shards poisoned").iter().copied().collect();
        v.sort_unstable();
        v
    }

    /// One coordination step (see the module doc); `between_passes` allows giving shards up.
    pub async fn tick(&self, between_passes: bool) -> Result<()> {
        if let Err(e) = self.member.try_acquire_or_renew().await {
            tracing::warn!(error = %e, "renewing the membership Lease failed");
        }
        let held: Vec<u32> = self.held();
        for i in held {
            match self.electors[i as usize].try_acquire_or_renew().await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(shard = i, "lost the shard's Lease");
                    self.held.lock().expect("shards poisoned").remove(&i);
                }
                Err(e) => tracing::warn!(shard = i, error = %e, "renewing the shard's Lease failed"),
            }
        }
        let params = ListParams::default().labels(&format!("{GROUP_LABEL}={}", self.group));
        let leases = self.api.list(&params).await?.items;
        let now = Instant::now();
        let (members, free) = self.observe(&leases, now);
        let count = self.electors.len() as u32;
        let share = count.div_ceil(members.max(1));
        self.share.store(share, std::sync::atomic::Ordering::Relaxed);
        if between_passes {
            self.give_up_extra().await;
        }
        let held = self.held();
        let mut taking = (held.len() as u32).min(share);
        for k in 0..count {
            if taking >= share {
                break;
            }
            let i = (self.offset + k) % count;
            if !free.contains(&i) || self.held.lock().expect("shards poisoned").contains(&i) {
                continue;
            }
            match self.electors[i as usize].try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(shard = i, share, members, "took a shard");
                    self.held.lock().expect("shards poisoned").insert(i);
                    taking += 1;
                }
                Ok(false) => {}
                Err(e) => tracing::debug!(shard = i, error = %e, "taking a shard failed"),
            }
        }
        crate::core::metrics::metrics().shards_owned.set(self.held().len() as i64);
        Ok(())
    }

    /// Gives up the shards beyond the share of the last tick (between passes: a pass never
    /// loses a shard it was given). The ones taken last in this replica's order go first.
    pub async fn give_up_extra(&self) {
        let share = self.share.load(std::sync::atomic::Ordering::Relaxed) as usize;
        let count = self.electors.len() as u32;
        let mut order = self.held();
        if order.len() <= share {
            return;
        }
        order.sort_by_key(|i| (i + count - self.offset) % count);
        for i in order.into_iter().skip(share) {
            self.held.lock().expect("shards poisoned").remove(&i);
            if let Err(e) = self.electors[i as usize].release().await {
                tracing::debug!(shard = i, error = %e, "releasing a shard's Lease failed");
            }
            tracing::info!(shard = i, share, "gave a shard up to rebalance");
        }
        crate::core::metrics::metrics().shards_owned.set(self.held().len() as i64);
    }

    /// From a LIST of the group: how many members are live (this replica included), and which
    /// shards may be taken (no Lease yet, no holder, or unchanged for a whole duration by this
    /// process's clock). Feeds each shard elector's expiry judgement.
    fn observe(&self, leases: &[Lease], now: Instant) -> (u32, HashSet<u32>) {
        let me = self.member.identity();
        let mut free: HashSet<u32> = (0..self.electors.len() as u32).collect();
        let mut live = 1;
        let mut members = self.members.lock().expect("members poisoned");
        let mut listed = HashSet::new();
        for l in leases {
            let labels = l.metadata.labels.as_ref();
            let role = labels.and_then(|m| m.get(ROLE_LABEL)).map(String::as_str);
            let name = l.metadata.name.clone().unwrap_or_default();
            let spec = l.spec.clone().unwrap_or_default();
            let holder = spec.holder_identity.clone().unwrap_or_default();
            match role {
                Some("member") if name != self.member.name() => {
                    listed.insert(name.clone());
                    let renew_time = spec.renew_time.as_ref().map(|t| t.0);
                    let seen = members.entry(name).or_insert(Seen { holder: holder.clone(), renew_time, changed: now });
                    if seen.holder != holder || seen.renew_time != renew_time {
                        *seen = Seen { holder: holder.clone(), renew_time, changed: now };
                    }
                    if !holder.is_empty() && now.duration_since(seen.changed) <= self.duration {
                        live += 1;
                    }
                }
                Some("shard") => {
                    let Some(i) = labels.and_then(|m| m.get(SHARD_LABEL)).and_then(|s| s.parse::<u32>().ok()) else {
                        continue;
                    };
                    let Some(elector) = self.electors.get(i as usize) else { continue };
                    if holder.is_empty() {
                        continue;
                    }
                    if holder == me || !elector.foreign_expired(&spec, now) {
                        free.remove(&i);
                    }
                }
                _ => {}
            }
        }
        members.retain(|name, _| listed.contains(name));
        (live, free)
    }

    /// Gives every held shard up and deletes the membership Lease (on the way out).
    pub async fn release_all(&self) {
        let held = self.held();
        self.held.lock().expect("shards poisoned").clear();
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
