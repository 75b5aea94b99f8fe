//! Fencing at the write: a request made on behalf of a Lease holder leaves this process only
//! while the holder can prove, by this process's own monotonic clock at that moment, that it
//! still holds the Lease.
//!
//! A process paused by the kernel (SIGSTOP, a VM or container pause, a long stop-the-world
//! pause) wakes with its pass where it was: writes already decided, futures ready to be sent.
//! Checking the Lease beside the pass does not stop them, since whichever future is polled first
//! wins. So the check sits in the transport itself ([`Fencing`], a tower layer right above the
//! HTTP client, below the rate limit's wait): every non-read request sent inside
//! [`scope`]`(fence, ...)` is refused with [`Error::LeaseLost`](crate::core::Error::LeaseLost)
//! unless `fence` is held at that instant. The window left is the request's way from that check
//! to the socket, instead of a whole pass: over HTTP/2, the hand-over to the connection's task
//! and that task's next write, a few microseconds on an idle runtime, longer on a busy one. A
//! pause inside it lets that request out after the process resumes: client-side fencing cannot
//! close it, only a precondition the server checks could.
//!
//! The scope is a tokio task-local, so only the loop's own work is fenced (the pass, and the
//! Events it queued, see `event_queue.rs`); the Lease renewals and anything else the handler
//! does are not.

use std::sync::Mutex;
use std::time::Duration;

use futures::future::{Either, Ready};
use tokio::time::Instant;

tokio::task_local! {
    static FENCE: std::sync::Arc<Fence>;
}

/// Whether a Lease holder may still act, by this process's clock.
#[derive(Debug)]
pub struct Fence {
    lease: String,
    /// Until when the holder may act: its last successful renewal (counted from when that
    /// renewal was sent) plus the renew deadline. `None`: not held.
    until: Mutex<Option<Instant>>,
}

impl Fence {
    /// A fence for the Lease named `lease` (`namespace/name`, for messages), not held.
    pub fn new(lease: impl Into<String>) -> Self {
        Fence { lease: lease.into(), until: Mutex::new(None) }
    }

    /// A renewal sent at `sent` succeeded: the holder may act until `sent + deadline`.
    pub fn renewed(&self, sent: Instant, deadline: Duration) {
        let mut until = self.until.lock().expect("fence poisoned");
        let new = sent + deadline;
        // A renewal that was sent earlier than the last one (answered later) does not shorten it.
        *until = Some(until.map_or(new, |u| u.max(new)));
    }

    /// The Lease is lost or given up: nothing more may be written for it.
    pub fn lapse(&self) {
        *self.until.lock().expect("fence poisoned") = None;
    }

    /// Until when the holder may act (`None`: not held).
    pub fn until(&self) -> Option<Instant> {
        *self.until.lock().expect("fence poisoned")
    }

    /// Whether the holder may act at `now`.
    pub fn holds_at(&self, now: Instant) -> bool {
        self.until.lock().expect("fence poisoned").is_some_and(|u| now < u)
    }

    /// `Ok` while held now, else [`Error::LeaseLost`](crate::core::Error::LeaseLost).
    pub fn check(&self) -> crate::core::Result<()> {
        if self.holds_at(Instant::now()) { Ok(()) } else { Err(self.lost().into()) }
    }

    fn lost(&self) -> LeaseLost {
        LeaseLost { lease: self.lease.clone() }
    }
}

/// Runs `fut` with its writes fenced by `fence`.
pub async fn scope<F: std::future::Future>(fence: std::sync::Arc<Fence>, fut: F) -> F::Output {
    FENCE.scope(fence, fut).await
}

/// The fence of the running task's scope, if any.
pub fn current() -> Option<std::sync::Arc<Fence>> {
    FENCE.try_with(std::sync::Arc::clone).ok()
}

/// `Ok` outside any fence, or while the current one is held.
pub fn check_current() -> crate::core::Result<()> {
    current().map_or(Ok(()), |f| f.check())
}

/// A write refused by the fence: the transport's error, carried by
/// [`Error::LeaseLost`](crate::core::Error::LeaseLost).
#[derive(Debug, Clone, thiserror::Error)]
#[error("not sent: this process no longer holds Lease {lease} by its own clock")]
pub struct LeaseLost {
    /// The Lease, `namespace/name`.
    pub lease: String,
}

/// The tower layer that refuses writes outside a held fence (see the module doc).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fencing;

impl<S> tower::Layer<S> for Fencing {
    type Service = Fenced<S>;

    fn layer(&self, inner: S) -> Fenced<S> {
        Fenced { inner }
    }
}

/// See [`Fencing`].
#[derive(Clone, Debug)]
pub struct Fenced<S> {
    inner: S,
}

/// Whether a request changes anything (reads and watches are never fenced).
fn writes(method: &http::Method) -> bool {
    !matches!(*method, http::Method::GET | http::Method::HEAD | http::Method::OPTIONS)
}

impl<S, B> tower::Service<http::Request<B>> for Fenced<S>
where
    S: tower::Service<http::Request<B>>,
    S::Error: From<LeaseLost>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<S::Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // Checked here, as the request is handed to the HTTP client: after any rate-limit wait.
        if writes(req.method())
            && let Some(fence) = current()
            && !fence.holds_at(Instant::now())
        {
            tracing::debug!(uri = %req.uri(), lease = %fence.lease, "write refused: the Lease is no longer held");
            return Either::Right(futures::future::ready(Err(fence.lost().into())));
        }
        Either::Left(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tower::{Layer as _, Service, ServiceExt};

    #[tokio::test(start_paused = true)]
    async fn a_fence_holds_until_the_deadline_after_the_renewal_was_sent() {
        let f = Fence::new("ns/l");
        let t0 = Instant::now();
        assert!(!f.holds_at(t0), "not held before the first renewal");
        f.renewed(t0, Duration::from_secs(2));
        assert!(f.holds_at(t0 + Duration::from_millis(1999)));
        assert!(!f.holds_at(t0 + Duration::from_secs(2)), "held strictly before the deadline");
        // An older renewal answered late does not shorten it; a newer one extends it.
        f.renewed(t0 - Duration::from_secs(1), Duration::from_secs(2));
        assert!(f.holds_at(t0 + Duration::from_millis(1999)));
        f.renewed(t0 + Duration::from_secs(1), Duration::from_secs(2));
        assert!(f.holds_at(t0 + Duration::from_millis(2999)));
        f.lapse();
        assert!(!f.holds_at(t0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_process_that_slept_past_the_deadline_may_not_act() {
        let f = Arc::new(Fence::new("ns/l"));
        f.renewed(Instant::now(), Duration::from_secs(2));
        assert!(f.check().is_ok());
        // A pause of the process: its clock went on.
        tokio::time::advance(Duration::from_secs(5)).await;
        let err = f.check().unwrap_err();
        assert!(matches!(err, crate::core::Error::LeaseLost(ref l) if l.lease == "ns/l"), "{err}");
    }

    /// A service answering every request with 200, counting them.
    fn counting()
    -> (impl tower::Service<http::Request<()>, Response = u16, Error = crate::core::Error>, Arc<Mutex<u32>>) {
        let sent = Arc::new(Mutex::new(0));
        let seen = sent.clone();
        let svc = tower::service_fn(move |_req: http::Request<()>| {
            *seen.lock().unwrap() += 1;
            async { Ok::<u16, LeaseLost>(200) }
        })
        .map_err(crate::core::Error::from);
        (svc, sent)
    }

    fn req(method: http::Method) -> http::Request<()> {
        http::Request::builder().method(method).uri("/apis/x").body(()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn writes_in_a_lapsed_scope_are_not_sent_reads_and_unscoped_requests_are() {
        let (svc, sent) = counting();
        let mut svc = Fencing.layer(svc);
        let f = Arc::new(Fence::new("ns/l"));
        f.renewed(Instant::now(), Duration::from_secs(2));
        // Held: a write goes.
        scope(f.clone(), async { svc.ready().await.unwrap().call(req(http::Method::PATCH)).await.unwrap() }).await;
        assert_eq!(*sent.lock().unwrap(), 1);
        tokio::time::advance(Duration::from_secs(3)).await;
        let refused = scope(f.clone(), async { svc.ready().await.unwrap().call(req(http::Method::PUT)).await }).await;
        assert!(matches!(refused, Err(crate::core::Error::LeaseLost(_))));
        assert_eq!(*sent.lock().unwrap(), 1, "a write of a lapsed holder was sent");
        // Reads in the scope, and writes outside any scope, are not fenced.
        scope(f.clone(), async { svc.ready().await.unwrap().call(req(http::Method::GET)).await.unwrap() }).await;
        svc.ready().await.unwrap().call(req(http::Method::POST)).await.unwrap();
        assert_eq!(*sent.lock().unwrap(), 3);
    }
}
