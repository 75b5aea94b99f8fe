//! Who may act on which ElastiService. The loop (`run.rs`) runs its passes the same way whoever
//! owns the services; an [`Ownership`] says what a pass may act on and under which fence, and
//! keeps that true with a coordination step beside the passes.
//!
//! - `one_process`: one process acts on every service; nothing to coordinate;
//! - `leader`: one Lease; its holder acts on every service, each write fenced by the Lease;
//! - `shards`: a Lease per shard and per replica; a replica acts on the services of the shards
//!   it holds, each in its shard's fence;
//! - `elector`, `lease_seen`: taking, renewing and releasing one Lease, and judging another
//!   holder's expiry on this process's clock;
//! - `share`: which shards a replica holds, as pure functions of the Leases seen, the time and
//!   what it holds.

use std::future::Future;
use std::sync::Arc;

use tokio::time::Instant;

use crate::core::fence::Fence;

pub(crate) mod elector;
pub(crate) mod leader;
pub(crate) mod lease_seen;
pub(crate) mod one_process;
pub(crate) mod shards;
pub(crate) mod share;

/// What a pass may act on, and under which fence.
#[derive(Debug, Clone, Default)]
pub(crate) enum Scope {
    /// Every service, unfenced.
    #[default]
    Every,
    /// Every service; each write goes out only while the fence holds.
    Fenced(Arc<Fence>),
    /// The services of the shards held now, each in its shard's fence.
    Shards(Arc<shards::ShardSet>),
}

impl Scope {
    /// Where the service `namespace/name` stands in this scope: `None` when another replica's
    /// shard holds it.
    pub fn place_of(&self, namespace: &str, name: &str) -> Option<Place> {
        match self {
            Scope::Every => Some(Place { fence: None, shard: None }),
            Scope::Fenced(f) => Some(Place { fence: Some(f.clone()), shard: None }),
            Scope::Shards(set) => {
                let (shard, fence) = set.owner(namespace, name);
                Some(Place { fence: Some(fence?), shard: Some(shard) })
            }
        }
    }
}

/// Where a service a pass may act on stands: the fence its writes go under, and its shard.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    /// The fence of its writes (none: unfenced).
    pub fence: Option<Arc<Fence>>,
    /// Its shard, in a sharded run.
    pub shard: Option<u32>,
}

/// How a replica stands after a coordination step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// It acts: passes run, from the loop's watches.
    Acting,
    /// It waits: no pass runs (a running one is dropped) and the watches stop.
    Idle,
}

/// One way of owning the services (see the module doc).
pub(crate) trait Ownership: Send + Sync {
    /// What a pass may act on and under which fence; the same for the whole run.
    fn scope(&self) -> Scope;

    /// Whether a pass may start now.
    fn may_pass(&self) -> bool;

    /// One coordination step beside the passes (`between_passes`: none is running), and how
    /// this replica stands afterwards.
    fn tick(&self, between_passes: bool) -> impl Future<Output = Standing> + Send;

    /// When the step after one sent at `sent` is due; `None`: there is nothing to coordinate.
    fn next_tick(&self, sent: Instant) -> Option<Instant>;

    /// Called as each pass ends, before the next may start.
    fn pass_ended(&self) -> impl Future<Output = ()> + Send;

    /// Gives up everything held, on the way out.
    fn release(&self) -> impl Future<Output = ()> + Send;
}
