//! The scale-to-zero loop over KubeElasti's ElastiService objects. It reaches the scale path
//! only through the [`ScaleHandler`](crate::core::scale::ScaleHandler) it holds.
//!
//! - [`controller`]: the loop's own state (scalers, last scale-up per service) around a handler;
//! - [`resource`], [`install`]: the ElastiService CRD types and installing the CRD;
//! - [`decision`], [`enabled_period`]: the decision table and the enabled-period schedule;
//! - [`pass`], [`status`]: one pass over the services, and its status writes;
//! - [`finalizer`], `release`: deleting an ElastiService restores the target it held at zero (and
//!   always completes); `release_all` lets go of every held target before an uninstall;
//! - [`run`], [`leader`]: the endless loop, and leader election with a Lease;
//! - `watching`: the watch-fed state `run` decides from (a steady pass sends no request);
//! - [`scalers`]: what each trigger is asked (Prometheus built in, Python through a factory).

pub mod controller;
pub mod decision;
pub mod enabled_period;
pub mod finalizer;
pub mod install;
pub mod leader;
pub mod pass;
mod release;
pub mod resource;
pub mod run;
pub mod scalers;
pub mod status;
mod watching;

pub use controller::Controller;
pub use decision::Direction;
pub use pass::Decision;
pub use run::RunOptions;
