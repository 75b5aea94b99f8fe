//! What a pass works with, handed to it by whoever runs it rather than kept in the controller:
//! what it may act on and under which fence (`ownership`), and the watches it decides from
//! while a run keeps them.

use std::sync::Arc;

use crate::core::elasti::ownership::Scope;
use crate::core::elasti::service_watch::ServiceWatch;

/// A pass's context (see the module doc). The default acts on every service, unfenced, from
/// the API server.
#[derive(Clone, Default)]
pub(crate) struct PassContext {
    /// What the pass may act on and under which fence.
    pub scope: Scope,
    /// The loop's watches, while a run keeps them.
    pub watch: Option<Arc<ServiceWatch>>,
}
