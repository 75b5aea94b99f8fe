//! What the loop would have done: an ElastiService replayed over its triggers' history, writing
//! nothing.
//!
//! - `options`: the range and the spec values to try instead of the stored ones;
//! - `service`: reading the service and its target, gathering the triggers' history;
//! - `simulate`: the steps, decided by the pass's own [`decide_service`] and [`intent_of`];
//! - `result`: the typed outcome and its summary;
//! - `present`, `plot`: the outcome in words and rows, and as an SVG image;
//! - `recommend`: a cooldown chosen from the history, replayed once per candidate;
//! - `measured`: the wake-up time the loop measured, read back from Prometheus.
//!
//! [`decide_service`]: crate::core::elasti::decision
//! [`intent_of`]: crate::core::elasti::pass

pub(crate) mod measured;
pub(crate) mod options;
pub(crate) mod plot;
pub(crate) mod present;
pub(crate) mod recommend;
pub(crate) mod result;
pub(crate) mod service;
pub(crate) mod simulate;

pub use options::{Overrides, ReplayOptions};
pub use plot::{PlotScales, replay_svg};
pub use present::overrides_label;
pub use recommend::{Budget, CooldownPoint, Recommendation};
pub use result::{ColdStartCost, Replay, ReplayStep, Summary};
pub use service::Sweep;
