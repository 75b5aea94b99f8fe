//! What a pass works with, handed to it by whoever runs it rather than kept in the controller:
//! what it may act on and under which fence (`ownership`), and the watches it decides from
//! while a run keeps them.

use std::sync::Arc;
use std::time::Duration;

use crate::core::elasti::cold_start::DEFAULT_COLD_START_TIMEOUT;
use crate::core::elasti::ownership::Scope;
use crate::core::elasti::service_watch::ServiceWatch;

/// A pass's context (see the module doc). The default acts on every service, unfenced, from
/// the API server.
#[derive(Clone)]
pub(crate) struct PassContext {
    /// What the pass may act on and under which fence.
    pub scope: Scope,
    /// The loop's watches, while a run keeps them.
    pub watch: Option<Arc<ServiceWatch>>,
    /// How long a wake-up is followed before it ends as a timeout (see `cold_start.rs`).
    pub cold_start_timeout: Duration,
}

impl Default for PassContext {
    fn default() -> Self {
        PassContext { scope: Scope::default(), watch: None, cold_start_timeout: DEFAULT_COLD_START_TIMEOUT }
    }
}
