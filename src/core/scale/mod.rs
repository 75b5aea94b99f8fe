//! The scale path: one [`ScaleHandler`] reads and writes the `scale` subresource of any
//! scalable kind, one call per target at a time, and records what it did as Events.
//!
//! - [`handler`]: the handler, its options and what every call shares;
//! - [`resolved`]: a target resolved through discovery, with its lock taken;
//! - [`intent`]: what a call asks for (`Set`, `ToZero`, `FromZero`) and when that is a no-op;
//! - [`operations`]: the public calls (`get_scale`, `scale`, `scale_to_zero`, `scale_from_zero`);
//! - [`converge`]: the read-compare-write steps under the target's lock;
//! - [`write`]: the one write of a count (patch or update, real or dry run);
//! - [`cache`], [`locks`]: the last scale seen per target, the per-target locks;
//! - [`events`], [`event_queue`]: Events, written off the caller's path;
//! - [`wait`], [`keda`]: waiting for replicas, KEDA's pause annotations;
//! - [`watched`]: metadata-only watches that let the loop skip reads in a steady state.

pub mod cache;
mod converge;
pub mod event_queue;
pub mod events;
pub mod handler;
pub mod intent;
pub mod keda;
pub mod locks;
pub mod operations;
pub mod resolved;
pub mod wait;
pub mod watched;
pub mod write;

pub use events::{Event, EventSpec, EventType};
pub use handler::{DEFAULT_CONCURRENCY, HandlerOptions, ScaleHandler};
pub use intent::Intent;
pub use operations::{PREVIOUS_REPLICAS_ANNOTATION, Scale, ScaleOptions, ScaleResult, check_replicas};
pub use resolved::ResolvedTarget;
