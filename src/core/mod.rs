//! The pure-Rust core: no Python here. Every operation is an `async fn`.
//!
//! Two halves share the modules at this level: the scale path, [`ScaleHandler`] (`scale/`), and
//! the ElastiService scale-to-zero loop, [`Controller`] (`elasti/`), which holds a handler and
//! reaches the scale path only through it. Shared: errors, configuration, target references,
//! discovery, watch-fed caches (`informer`), the rate limit (`throttle`), the Lease fence
//! (`fence`: writes only while a Lease is held), writes whose answer is not decoded (`unread`),
//! metrics, the HTTP endpoints (`serve`) and the notebook views' chart (`svg`).
//!
//! The public surface is what this file re-exports; the modules themselves are private.

pub(crate) mod config;
pub(crate) mod discovery;
pub(crate) mod duration;
pub(crate) mod elasti;
pub(crate) mod error;
pub(crate) mod fence;
pub(crate) mod informer;
pub(crate) mod metrics;
pub(crate) mod per_process;
pub(crate) mod redact;
pub(crate) mod scale;
pub(crate) mod serve;
pub(crate) mod svg;
pub(crate) mod target;
pub(crate) mod throttle;
pub(crate) mod transport;
pub(crate) mod unread;

pub use config::ConnectOptions;
pub use discovery::Resource;
pub use duration::parse as parse_duration;
pub use elasti::{
    Answer, Budget, ColdStartCost, Controller, CooldownPoint, DEFAULT_SCALER_CONCURRENCY, Decision, Direction,
    ElastiService, EnabledPeriod, EnabledPeriodSpec, MAX_SHARDS, MAX_STEPS, Overrides, PlotScales, Recommendation,
    Replay, ReplayOptions, ReplayStep, RunOptions, Sample, Scaler, ScalerFactory, StepRange, Summary, Sweep, Turn, crd,
    overrides_label, prometheus, replay_svg, shard_of,
};
pub use error::{Error, Result, error_chain};
pub use fence::{Fence, LeaseLost, scope as with_fence};
pub use metrics::{Metrics, metrics};
pub use per_process::PerProcess;
pub use scale::{
    DEFAULT_CONCURRENCY, EVENT_FLUSH_TIMEOUT, Event, EventSpec, EventType, Fleet, FleetEntry, HandlerOptions,
    Namespaces, Progress, Scale, ScaleHandler, ScaleOptions, ScaleResult, check_replicas, events_pending,
    flush_all_events,
};
pub use serve::serve;
pub use svg::{Series, curve_svg};
pub use target::{TargetRef, TypeSpec};
