//! The pure-Rust core: no Python here. Every operation is an `async fn` on [`ScaleHandler`].

pub mod config;
pub mod crds;
pub mod decision;
pub mod discovery;
pub mod elastiservice;
pub mod enabled_period;
pub mod error;
pub mod events;
pub mod handler;
pub mod keda;
pub mod leader;
pub mod locks;
pub mod reconcile;
pub mod scale;
pub mod scale_cache;
pub mod scalers;
pub mod target;
pub mod wait;

pub use decision::Direction;
pub use discovery::Resource;
pub use error::{Error, Result};
pub use events::{EventSpec, EventType};
pub use handler::{DEFAULT_CONCURRENCY, EventInfo, HandlerOptions, ScaleHandler};
pub use reconcile::{Decision, RunOptions};
pub use scale::{ScaleInfo, ScaleOptions, ScaleOutcome};
pub use target::{TargetRef, TypeSpec};
