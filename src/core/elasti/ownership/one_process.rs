//! One process acts on every service, with nothing to coordinate.

use tokio::time::Instant;

use crate::core::elasti::ownership::{Ownership, Scope, Standing};

/// The ownership of a run without leader election or shards.
#[derive(Debug, Default)]
pub(crate) struct OneProcess;

impl Ownership for OneProcess {
    fn scope(&self) -> Scope {
        Scope::Every
    }

    fn may_pass(&self) -> bool {
        true
    }

    async fn tick(&self, _between_passes: bool) -> Standing {
        Standing::Acting
    }

    fn next_tick(&self, _sent: Instant) -> Option<Instant> {
        None
    }

    async fn pass_ended(&self) {}

    async fn release(&self) {}
}
