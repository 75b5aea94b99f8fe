//! kubescale's metrics, in Prometheus' text format (`prometheus-client`): one registry per
//! process, as Prometheus expects of a process it scrapes.
//!
//! | metric | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `kubescale_passes_total` | counter | | scale-to-zero passes run |
//! | `kubescale_pass_duration_seconds` | histogram | | wall time of a pass |
//! | `kubescale_decisions_total` | counter | `direction` | decisions made |
//! | `kubescale_service_decision` | gauge (1) | `namespace`, `name`, `direction`, `reason` | each service's last decision |
//! | `kubescale_errors_total` | counter | `kind` | failed decisions and passes, by error kind |
//! | `kubescale_scale_writes_total` | counter | | replica counts written |
//! | `kubescale_api_requests_total` | counter | `verb`, `code` | requests to the API server, by verb and HTTP status (`error`: no answer) |
//! | `kubescale_api_throttled_total` | counter | | requests refused with 429 (API Priority and Fairness) and sent again after `Retry-After` |
//! | `kubescale_event_writes_total` | counter | `result` | Event writes: `queued`, `written`, `failed`, `dropped`, `fenced` (not written: the loop that queued it lost its Lease) |
//! | `kubescale_scaler_call_duration_seconds` | histogram | `trigger` | time to ask one trigger |
//! | `kubescale_cold_start_seconds` | histogram | `outcome`, `since` | a wake-up the loop made: from its decision or its write (`since`) to the first ready replica, or to its end (`outcome`: `ready`, `timeout`, `superseded`) |
//! | `kubescale_cold_starts_unmeasured_total` | counter | | wake-ups not measured: as many as kubescale follows at once were followed already |
//! | `kubescale_leader` | gauge | | 1 while this process holds the loop's Lease |
//! | `kubescale_shards_owned` | gauge | | shards this replica holds in a sharded run |
//! | `kubescale_shard_decisions_total` | counter | `shard` | decisions this replica made, by shard |

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of `kubescale_decisions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabel {
    /// `scale_up`, `scale_down` or `no_scale`.
    pub direction: String,
}

/// Labels of `kubescale_shard_decisions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShardLabel {
    /// The shard's index.
    pub shard: String,
}

/// Labels of `kubescale_service_decision`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    /// The ElastiService's namespace.
    pub namespace: String,
    /// The ElastiService's name.
    pub name: String,
    /// The direction decided.
    pub direction: String,
    /// Why (cut to 120 characters).
    pub reason: String,
}

/// Labels of `kubescale_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The error's kind, e.g. `api`, `trigger`, `invalid_value`.
    pub kind: String,
}

/// Labels of `kubescale_api_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`.
    pub verb: String,
    /// The HTTP status, or `error` when no answer came.
    pub code: String,
}

/// Labels of `kubescale_event_writes_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `written` or `failed`.
    pub result: String,
}

/// Labels of `kubescale_scaler_call_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TriggerLabel {
    /// The trigger type.
    pub trigger: String,
}

/// Labels of `kubescale_cold_start_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ColdStartLabels {
    /// `ready`, `timeout` or `superseded`.
    pub outcome: String,
    /// `decision` or `write`: what the time is counted from.
    pub since: String,
}

fn wake_up_histogram() -> Histogram {
    // 0.1 s to 410 s.
    Histogram::new(exponential_buckets(0.1, 2.0, 13))
}

fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    /// `kubescale_passes_total`.
    pub passes: Counter,
    /// `kubescale_pass_duration_seconds`.
    pub pass_duration: Histogram,
    /// `kubescale_decisions_total`.
    pub decisions: Family<DirectionLabel, Counter>,
    /// `kubescale_service_decision`.
    pub service_decision: Family<ServiceLabels, Gauge>,
    /// `kubescale_errors_total`.
    pub errors: Family<KindLabel, Counter>,
    /// `kubescale_scale_writes_total`.
    pub scale_writes: Counter,
    /// `kubescale_api_throttled_total`.
    pub throttled: Counter,
    /// `kubescale_api_requests_total`.
    pub api_requests: Family<RequestLabels, Counter>,
    /// `kubescale_event_writes_total`.
    pub event_writes: Family<ResultLabel, Counter>,
    /// `kubescale_scaler_call_duration_seconds`.
    pub scaler_calls: Family<TriggerLabel, Histogram, fn() -> Histogram>,
    /// `kubescale_cold_start_seconds`.
    pub cold_starts: Family<ColdStartLabels, Histogram, fn() -> Histogram>,
    /// `kubescale_cold_starts_unmeasured_total`.
    pub cold_start_unmeasured: Counter,
    /// `kubescale_leader`.
    pub leader: Gauge<i64, AtomicI64>,
    /// `kubescale_shards_owned`.
    pub shards_owned: Gauge<i64, AtomicI64>,
    /// `kubescale_shard_decisions_total`.
    pub shard_decisions: Family<ShardLabel, Counter>,
    /// Each service's last decision labels, to drop the old series when it changes.
    last_decision: Mutex<std::collections::HashMap<(String, String), ServiceLabels>>,
    /// Unix seconds of the last answer from the API server that was not a 5xx.
    last_api_answer: AtomicU64,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            passes: Counter::default(),
            pass_duration: seconds_histogram(),
            decisions: Family::default(),
            service_decision: Family::default(),
            errors: Family::default(),
            scale_writes: Counter::default(),
            throttled: Counter::default(),
            api_requests: Family::default(),
            event_writes: Family::default(),
            scaler_calls: Family::new_with_constructor(seconds_histogram),
            cold_starts: Family::new_with_constructor(wake_up_histogram),
            cold_start_unmeasured: Counter::default(),
            leader: Gauge::default(),
            shards_owned: Gauge::default(),
            shard_decisions: Family::default(),
            last_decision: Mutex::default(),
            last_api_answer: AtomicU64::new(0),
            registry: Registry::default(),
        };
        registry.register("kubescale_passes", "Scale-to-zero passes run", m.passes.clone());
        registry.register(
            "kubescale_pass_duration_seconds",
            "Wall time of a scale-to-zero pass",
            m.pass_duration.clone(),
        );
        registry.register("kubescale_decisions", "Scale-to-zero decisions, by direction", m.decisions.clone());
        registry.register(
            "kubescale_service_decision",
            "Each ElastiService's last decision (1), with its direction and reason",
            m.service_decision.clone(),
        );
        registry.register("kubescale_errors", "Failed decisions and passes, by error kind", m.errors.clone());
        registry.register("kubescale_scale_writes", "Replica counts written", m.scale_writes.clone());
        registry.register(
            "kubescale_api_throttled",
            "Requests refused with 429 (API Priority and Fairness) and sent again after Retry-After",
            m.throttled.clone(),
        );
        registry.register(
            "kubescale_api_requests",
            "Requests to the API server, by verb and HTTP status",
            m.api_requests.clone(),
        );
        registry.register("kubescale_event_writes", "Event writes, by result", m.event_writes.clone());
        registry.register(
            "kubescale_scaler_call_duration_seconds",
            "Time to ask one trigger's scaler (health and readiness), by trigger type",
            m.scaler_calls.clone(),
        );
        registry.register(
            "kubescale_cold_start_seconds",
            "Wake-ups the loop made, from its decision or its write to the first ready replica, by outcome",
            m.cold_starts.clone(),
        );
        registry.register(
            "kubescale_cold_starts_unmeasured",
            "Wake-ups not measured: as many as kubescale follows at once were followed already",
            m.cold_start_unmeasured.clone(),
        );
        registry.register("kubescale_leader", "1 while this process holds the loop's Lease", m.leader.clone());
        registry.register(
            "kubescale_shards_owned",
            "Shards this replica holds in a sharded run",
            m.shards_owned.clone(),
        );
        registry.register(
            "kubescale_shard_decisions",
            "Decisions this replica made, by shard",
            m.shard_decisions.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The exposition text (Prometheus / OpenMetrics text format).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    /// Records a service's decision (replacing its previous `kubescale_service_decision` series).
    pub fn decided(&self, namespace: &str, name: &str, direction: &str, reason: &str) {
        self.decisions.get_or_create(&DirectionLabel { direction: direction.to_string() }).inc();
        let labels = ServiceLabels {
            namespace: namespace.to_string(),
            name: name.to_string(),
            direction: direction.to_string(),
            reason: label_value(reason),
        };
        let mut last = self.last_decision.lock().expect("metrics poisoned");
        if let Some(old) = last.insert((namespace.to_string(), name.to_string()), labels.clone())
            && old != labels
        {
            self.service_decision.remove(&old);
        }
        self.service_decision.get_or_create(&labels).set(1);
    }

    /// Records how a wake-up ended, `decision` and `write` after the decision and the write.
    pub fn cold_start(&self, outcome: &str, decision: Duration, write: Duration) {
        for (since, d) in [("decision", decision), ("write", write)] {
            let labels = ColdStartLabels { outcome: outcome.to_string(), since: since.to_string() };
            self.cold_starts.get_or_create(&labels).observe(d.as_secs_f64());
        }
    }

    /// Counts an error of `kind`.
    pub fn error(&self, kind: &str) {
        self.errors.get_or_create(&KindLabel { kind: kind.to_string() }).inc();
    }

    /// Counts one API request and remembers when the server last answered.
    pub fn api_request(&self, verb: &str, status: Option<u16>) {
        let code = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        self.api_requests.get_or_create(&RequestLabels { verb: verb.to_string(), code }).inc();
        if status.is_some_and(|s| s < 500) {
            self.last_api_answer.store(now_secs(), Ordering::Relaxed);
        }
    }

    /// Whether the API server answered within `within`.
    pub fn api_answered_within(&self, within: Duration) -> bool {
        let last = self.last_api_answer.load(Ordering::Relaxed);
        last > 0 && now_secs().saturating_sub(last) <= within.as_secs()
    }
}

/// A free text as a label value: at most 120 characters, without the quotes, backslashes and
/// line breaks that the text format would need escaped (an error message may hold any of them).
fn label_value(text: &str) -> String {
    text.chars()
        .take(120)
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The Kubernetes verb of a request, from its method and query.
pub fn verb(method: &http::Method, uri: &http::Uri) -> &'static str {
    let query = uri.query().unwrap_or_default();
    match *method {
        http::Method::GET if query.split('&').any(|p| p == "watch=true" || p == "watch=1") => "watch",
        http::Method::GET => "get",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    }
}

/// A tower layer that counts every request of a kube `Client` in `kubescale_api_requests_total`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountRequests;

impl<S> tower::Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted { inner }
    }
}

/// See [`CountRequests`].
#[derive(Clone, Debug)]
pub struct Counted<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for Counted<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let verb = verb(req.method(), req.uri());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let out = fut.await;
            metrics().api_request(verb, out.as_ref().ok().map(|r| r.status().as_u16()));
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_and_exposition() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(verb(&http::Method::GET, &uri("/api/v1/pods?watch=true&rv=1")), "watch");
        assert_eq!(verb(&http::Method::PATCH, &uri("/apis/apps/v1/x")), "patch");
        let m = Metrics::new();
        m.decided("ns", "bad", "scale_up", "schedule: \"0 25 * * *\" is not\na cron \\ schedule");
        assert!(m.encode().contains("reason=\"schedule: '0 25 * * *' is not a cron / schedule\""), "{}", m.encode());
        m.decided("ns", "web", "scale_down", "every trigger allows zero");
        m.decided("ns", "web", "scale_up", "a trigger wants the target up");
        m.api_request("get", Some(200));
        m.cold_start("ready", Duration::from_millis(4200), Duration::from_millis(4000));
        let text = m.encode();
        assert!(text.contains("kubescale_cold_start_seconds_sum{outcome=\"ready\",since=\"write\"} 4.0"), "{text}");
        assert!(text.contains("kubescale_decisions_total{direction=\"scale_down\"} 1"), "{text}");
        assert!(
            text.contains("kubescale_service_decision{namespace=\"ns\",name=\"web\",direction=\"scale_up\""),
            "{text}"
        );
        assert!(!text.contains("direction=\"scale_down\",reason"), "the old series of a service is dropped: {text}");
        assert!(text.contains("kubescale_api_requests_total{verb=\"get\",code=\"200\"} 1"), "{text}");
        assert!(m.api_answered_within(Duration::from_secs(5)));
    }
}
