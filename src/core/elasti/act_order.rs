//! The order in which a pass acts: every service whose decision is a scale-up acts before any
//! other service of the pass writes. Users may be waiting behind a target held at zero; a
//! scale-down, or a status write, can wait until the scale-ups are done.
//!
//! Each service of a pass holds the pass back ([`Hold`]) until it has decided, and, when its
//! decision is a scale-up, until it has acted. A service with any other decision lets go and
//! waits ([`Hold::after_scale_ups`]) until no service holds the pass. A service that ends early
//! (an error, a deleted object) lets go when its hold is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// One pass's order: the number of services still holding it.
pub(crate) struct ActOrder {
    holding: AtomicUsize,
    released: Notify,
}

impl ActOrder {
    /// An order for `services` services; each takes one [`Hold`].
    pub(crate) fn new(services: usize) -> Self {
        ActOrder { holding: AtomicUsize::new(services), released: Notify::new() }
    }

    /// The hold of one service.
    pub(crate) fn hold(&self) -> Hold<'_> {
        Hold { order: self, held: true }
    }

    fn release(&self) {
        if self.holding.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.released.notify_waiters();
        }
    }

    async fn no_one_holding(&self) {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if self.holding.load(Ordering::Acquire) == 0 {
                return;
            }
            released.await;
        }
    }
}

/// One service's hold on its pass; released once, at the latest when dropped.
pub(crate) struct Hold<'a> {
    order: &'a ActOrder,
    held: bool,
}

impl Hold<'_> {
    /// Lets go of the pass.
    pub(crate) fn release(&mut self) {
        if std::mem::take(&mut self.held) {
            self.order.release();
        }
    }

    /// For a decision that is not a scale-up: lets go, then waits until every service of the
    /// pass has decided and every scale-up has acted.
    pub(crate) async fn after_scale_ups(&mut self) {
        self.release();
        self.order.no_one_holding().await;
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Services decide after `decide_ms`; `up` ones act (logged) and then let go, the others wait.
    async fn pass(services: &[(u64, bool)]) -> Vec<usize> {
        let order = ActOrder::new(services.len());
        let log = Mutex::new(Vec::new());
        let runs = services.iter().enumerate().map(|(i, &(decide_ms, up))| {
            let (order, log) = (&order, &log);
            async move {
                let mut hold = order.hold();
                tokio::time::sleep(Duration::from_millis(decide_ms)).await;
                if !up {
                    hold.after_scale_ups().await;
                }
                log.lock().unwrap().push(i);
            }
        });
        futures::future::join_all(runs).await;
        log.into_inner().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn scale_ups_act_before_any_other_decision() {
        // Service 0 decides first but stays; 2 decides last and goes up: 2 acts before 0 and 3.
        let acted = pass(&[(1, false), (5, true), (9, true), (2, false)]).await;
        assert_eq!(&acted[..2], &[1, 2]);
        let mut rest = acted[2..].to_vec();
        rest.sort();
        assert_eq!(rest, vec![0, 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pass_without_scale_ups_is_not_held() {
        assert_eq!(pass(&[(3, false), (1, false)]).await.len(), 2);
        assert_eq!(pass(&[]).await, Vec::<usize>::new());
        assert_eq!(pass(&[(1, true)]).await, vec![0]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_service_that_ends_early_lets_go() {
        let order = ActOrder::new(2);
        let early = order.hold();
        let mut waiting = order.hold();
        drop(early); // an error before deciding
        tokio::time::timeout(Duration::from_secs(1), waiting.after_scale_ups())
            .await
            .expect("not held by a service that ended");
    }
}
