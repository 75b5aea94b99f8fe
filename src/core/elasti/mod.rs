//! The scale-to-zero loop over KubeElasti's ElastiService objects. It reaches the scale path
//! only through the [`ScaleHandler`](crate::core::ScaleHandler) it holds.
//!
//! - `controller`: the loop's own state (scalers, last scale-up per service) around a handler;
//! - `resource`, `install`: the ElastiService CRD types and installing the CRD;
//! - `decision`, `enabled_period`: the decision table and its outcome, the enabled-period
//!   schedule;
//! - `pass`, `status`, `act_order`: one pass over the services (its scale-ups act first), and
//!   its status writes;
//! - `cold_start`: each wake-up the loop makes, measured until the target's first ready replica;
//! - `finalizer`, `release`: deleting an ElastiService restores the target it held at zero (and
//!   always completes); `release_all` lets go of every held target before an uninstall;
//! - `run`: the endless loop, one for every `ownership` (one process, the leader
//!   Lease, shards across replicas);
//! - `pass_context`, `service_watch`: what a pass is handed: its scope and the watches `run`
//!   decides from (a steady pass sends no request);
//! - `replay`: what the loop would have done over the triggers' history (writes nothing);
//! - `scalers`: what each trigger is asked (Prometheus built in, Python through a factory), and
//!   its history.

pub(crate) mod act_order;
pub(crate) mod cold_start;
pub(crate) mod controller;
pub(crate) mod decision;
pub(crate) mod enabled_period;
pub(crate) mod finalizer;
pub(crate) mod install;
pub(crate) mod ownership;
pub(crate) mod pass;
pub(crate) mod pass_context;
pub(crate) mod release;
pub(crate) mod replay;
pub(crate) mod resource;
pub(crate) mod run;
pub(crate) mod scalers;
pub(crate) mod service_api;
pub(crate) mod service_watch;
pub(crate) mod sleep;
pub(crate) mod status;

pub use controller::{Controller, DEFAULT_SCALER_CONCURRENCY};
pub use decision::{Answer, Decision, Direction};
pub use enabled_period::EnabledPeriod;
pub use ownership::shards::{MAX_SHARDS, shard_of};
pub use replay::{
    Budget, ColdStartCost, CooldownPoint, Overrides, PlotScales, Recommendation, Replay, ReplayOptions, ReplayStep,
    Summary, Sweep, overrides_label, replay_svg,
};
pub use resource::{ElastiService, EnabledPeriodSpec, crd};
pub use run::RunOptions;
pub use scalers::history::{MAX_STEPS, Sample, StepRange};
pub use scalers::{Scaler, ScalerFactory, prometheus};
pub use sleep::Turn;
