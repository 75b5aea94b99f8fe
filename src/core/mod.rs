//! The pure-Rust core: no Python here. Every operation is an `async fn`.
//!
//! Shared by both halves: [`error`], [`config`], [`target`], [`discovery`], [`per_process`], [`redact`], [`informer`] (watch-fed caches), [`throttle`] (rate limit, 429), [`fence`] (writes only while a Lease is held). The scale path is
//! [`scale`] ([`ScaleHandler`]); the ElastiService scale-to-zero loop is [`elasti`]
//! ([`elasti::Controller`]), which holds a handler and reaches the scale path only through it.

pub mod config;
pub mod discovery;
pub mod elasti;
pub mod error;
pub mod fence;
pub mod informer;
pub mod metrics;
pub mod per_process;
pub mod redact;
pub mod scale;
pub mod serve;
pub mod target;
pub mod throttle;
pub mod transport;

pub use discovery::Resource;
pub use elasti::{Controller, Decision, Direction, RunOptions};
pub use error::{Error, Result};
pub use scale::{
    DEFAULT_CONCURRENCY, Event, EventSpec, EventType, HandlerOptions, Scale, ScaleHandler, ScaleOptions, ScaleResult,
};
pub use target::{TargetRef, TypeSpec};
