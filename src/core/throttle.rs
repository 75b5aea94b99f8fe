//! Politeness towards the API server, as client-go's REST client has it: a client-side rate
//! limit (QPS and burst, a token bucket) that `run` turns on for its handler, and `429 Too Many
//! Requests` (API Priority and Fairness shedding load) answered by waiting the server's
//! `Retry-After` and sending the request again, up to [`MAX_RETRIES`] times.

use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use kube::client::Body;
use tower::{Service, ServiceExt};

use crate::core::error::{Error, Result};

/// How many times a request refused with 429 is sent again (client-go's default).
pub const MAX_RETRIES: u32 = 10;

/// The longest wait a `Retry-After` is honoured with; a longer one is cut to it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The wait when a 429 carries no usable `Retry-After` (client-go's default).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The rate limit of a handler's requests, changeable while it runs (off by default).
#[derive(Default, Clone)]
pub struct Limits {
    limiter: Arc<RwLock<Option<Arc<DefaultDirectRateLimiter>>>>,
}

impl Limits {
    /// Limits requests to `qps` a second on average, with bursts of up to `burst`.
    pub fn set(&self, qps: f64, burst: u32) -> Result<()> {
        let quota = quota(qps, burst)?;
        *self.limiter.write().expect("limits poisoned") = Some(Arc::new(RateLimiter::direct(quota)));
        Ok(())
    }

    /// Lifts the limit.
    pub fn clear(&self) {
        *self.limiter.write().expect("limits poisoned") = None;
    }

    fn current(&self) -> Option<Arc<DefaultDirectRateLimiter>> {
        self.limiter.read().expect("limits poisoned").clone()
    }
}

/// The token bucket for `qps` and `burst`, or why they are not usable.
pub fn quota(qps: f64, burst: u32) -> Result<Quota> {
    if !(qps.is_finite() && qps > 0.0) {
        return Err(Error::InvalidValue { field: "qps", problem: format!("must be a positive number, not {qps}") });
    }
    let burst = NonZeroU32::new(burst)
        .ok_or_else(|| Error::InvalidValue { field: "burst", problem: "must be at least 1".into() })?;
    let period = Duration::from_secs_f64(1.0 / qps).max(Duration::from_nanos(1));
    Ok(Quota::with_period(period).expect("a positive period").allow_burst(burst))
}

/// The wait a 429 asks for: `Retry-After` in seconds (an HTTP date is not used by the API
/// server), at most a minute.
fn retry_after(headers: &http::HeaderMap) -> Duration {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RETRY_AFTER, |s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
}

/// `wait` plus up to half of it again, so that the requests one burst had refused do not all
/// come back at the same instant and meet the same limit.
fn jittered(wait: Duration) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    wait + wait.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// The tower layer of [`Limits`] and 429 retries.
#[derive(Clone)]
pub struct Throttle(pub Limits);

impl<S> tower::Layer<S> for Throttle {
    type Service = Throttled<S>;

    fn layer(&self, inner: S) -> Throttled<S> {
        Throttled { inner, limits: self.0.clone() }
    }
}

/// See [`Throttle`].
#[derive(Clone)]
pub struct Throttled<S> {
    inner: S,
    limits: Limits,
}

impl<S, R> Service<http::Request<Body>> for Throttled<S>
where
    S: Service<http::Request<Body>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, std::result::Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        // The service made ready is the one called first; retries use clones made ready anew.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let limiter = self.limits.current();
        Box::pin(async move {
            if let Some(l) = &limiter {
                l.until_ready().await;
            }
            let mut retries = 0;
            let mut req = req;
            loop {
                // A request whose body cannot be sent twice (a stream) is sent once.
                let again = (retries < MAX_RETRIES).then(|| copy(&req)).flatten();
                let resp = ready.call(req).await?;
                let Some(next) = again.filter(|_| resp.status() == http::StatusCode::TOO_MANY_REQUESTS) else {
                    return Ok(resp);
                };
                retries += 1;
                let wait = jittered(retry_after(resp.headers()));
                tracing::debug!(uri = %next.uri(), retries, wait_s = wait.as_secs_f64(), "429 Too Many Requests; waiting and sending again");
                crate::core::metrics::metrics().throttled.inc();
                drop(resp);
                tokio::time::sleep(wait).await;
                if let Some(l) = &limiter {
                    l.until_ready().await;
                }
                req = next;
                ready = ready.ready_oneshot().await?;
            }
        })
    }
}

/// A copy of a request whose body is in memory.
fn copy(req: &http::Request<Body>) -> Option<http::Request<Body>> {
    let body = req.body().try_clone()?;
    let mut copy = http::Request::builder().method(req.method().clone()).uri(req.uri().clone()).version(req.version());
    *copy.headers_mut()? = req.headers().clone();
    copy.body(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_and_bounded() {
        let mut h = http::HeaderMap::new();
        assert_eq!(retry_after(&h), DEFAULT_RETRY_AFTER);
        h.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Duration::from_secs(3));
        h.insert(http::header::RETRY_AFTER, "86400".parse().unwrap());
        assert_eq!(retry_after(&h), MAX_RETRY_AFTER);
        h.insert(http::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), DEFAULT_RETRY_AFTER);
    }

    #[test]
    fn bad_limits_are_named() {
        assert!(matches!(quota(0.0, 10), Err(Error::InvalidValue { field: "qps", .. })));
        assert!(matches!(quota(f64::NAN, 10), Err(Error::InvalidValue { field: "qps", .. })));
        assert!(matches!(quota(5.0, 0), Err(Error::InvalidValue { field: "burst", .. })));
        assert!(quota(0.5, 1).is_ok());
    }
}
