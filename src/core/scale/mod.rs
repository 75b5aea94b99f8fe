//! The scale path: one [`ScaleHandler`] reads and writes the `scale` subresource of any
//! scalable kind, one call per target at a time, and records what it did as Events.
//!
//! - `handler`: the handler, its options and what every call shares;
//! - `resolved`: a target resolved through discovery, with its lock taken;
//! - `intent`: what a call asks for (`Set`, `ToZero`, `FromZero`) and when that is a no-op;
//! - `operations`: the public calls (`get_scale`, `scale`, `scale_to_zero`, `scale_from_zero`);
//! - `converge`: the read-compare-write steps under the target's lock;
//! - `write`: the one write of a count (patch or update, real or dry run);
//! - `cache`, `locks`: the last scale seen per target, the per-target locks;
//! - `events`, `event_queue`: Events, written off the caller's path;
//! - `wait`, `keda`: waiting for replicas, KEDA's pause annotations;
//! - `target_watches`: metadata-only watches that let the loop skip reads in a steady state;
//! - `listed_counts`: the counts of many targets learned from LISTs (a new owner's first pass);
//! - `fleet`: many targets in one call, by reference or by type and label selector.

pub(crate) mod cache;
pub(crate) mod converge;
pub(crate) mod event_queue;
pub(crate) mod events;
pub(crate) mod fleet;
pub(crate) mod handler;
pub(crate) mod intent;
pub(crate) mod keda;
pub(crate) mod listed_counts;
pub(crate) mod locks;
pub(crate) mod operations;
pub(crate) mod resolved;
pub(crate) mod target_watches;
pub(crate) mod wait;
pub(crate) mod write;

pub use event_queue::{EVENT_FLUSH_TIMEOUT, events_pending, flush_all_events};
pub use events::{Event, EventSpec, EventType};
pub use fleet::{Fleet, FleetEntry, Namespaces};
pub use handler::{DEFAULT_CONCURRENCY, HandlerOptions, ScaleHandler};
pub use operations::{Scale, ScaleOptions, ScaleResult, check_replicas};
pub use wait::Progress;
