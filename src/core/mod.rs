//! The pure-Rust core: no Python here. Every operation is an `async fn` on [`ScaleHandler`].

pub mod config;
pub mod discovery;
pub mod error;
pub mod events;
pub mod handler;
pub mod keda;
pub mod locks;
pub mod scale;
pub mod target;
pub mod wait;

pub use discovery::Resource;
pub use error::{Error, Result};
pub use events::{EventSpec, EventType};
pub use handler::{HandlerOptions, ScaleHandler};
pub use scale::{ScaleInfo, ScaleOptions, ScaleOutcome};
pub use target::{TargetRef, TypeSpec};
