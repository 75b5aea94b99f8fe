//! The built-in Prometheus scaler, with KubeElasti's semantics: scale to zero when the query's
//! value is below `threshold`; healthy when Prometheus itself was up over the whole cooldown.
//! Empty results, several series, non-200 answers, ±Inf and NaN are errors: no scaling on doubt.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::Timestamp;

use crate::core::elasti::scalers::history::{Sample, StepRange};
use crate::core::elasti::scalers::{Answer, Scaler, ScalerFactory, ask_scaler};
use crate::core::error::{Error, Result};
use crate::core::per_process::PerProcess;
use crate::core::redact::redact;

/// Env fallback for `serverAddress`.
pub const ENV_SERVER_ADDRESS: &str = "PROMETHEUS_TRIGGER_SERVER_ADDRESS";
/// Env fallback for an `Authorization` header.
pub const ENV_AUTHORIZATION: &str = "PROMETHEUS_TRIGGER_AUTHORIZATION_HEADER";
/// Default `uptimeFilter`.
pub const DEFAULT_UPTIME_FILTER: &str = "container=\"prometheus\"";
/// Per-query timeout.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of one range query (a replay's history).
pub const RANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// A trigger error; credentials inside URLs never reach its message.
fn err(message: impl Into<String>) -> Error {
    Error::Trigger { trigger: "prometheus".into(), message: redact(&message.into()) }
}

/// Parsed trigger metadata.
#[derive(Clone, PartialEq)]
pub struct PrometheusConfig {
    /// Base URL of the Prometheus server.
    pub server_address: String,
    /// The PromQL query.
    pub query: String,
    /// Scale to zero below this value.
    pub threshold: f64,
    /// Label filter of the `up` series used for health.
    pub uptime_filter: String,
    /// Extra request headers (values are secrets: never logged).
    pub headers: BTreeMap<String, String>,
    /// The service's cooldown, the health query's window.
    pub cooldown: Duration,
}

impl std::fmt::Debug for PrometheusConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusConfig")
            .field("server_address", &redact(&self.server_address))
            .field("query", &self.query)
            .field("threshold", &self.threshold)
            .field("uptime_filter", &self.uptime_filter)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn string_field(meta: &serde_json::Map<String, serde_json::Value>, key: &str) -> Result<Option<String>> {
    match meta.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(err(format!("metadata.{key} must be a string, not {other}"))),
    }
}

impl PrometheusConfig {
    /// Reads trigger metadata, with env fallbacks for the address and the Authorization header.
    pub fn from_metadata(metadata: &serde_json::Value, cooldown: Duration) -> Result<Self> {
        let empty = serde_json::Map::new();
        let meta = match metadata {
            serde_json::Value::Object(m) => m,
            serde_json::Value::Null => &empty,
            other => return Err(err(format!("metadata must be an object, not {other}"))),
        };
        let server_address = string_field(meta, "serverAddress")?
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var(ENV_SERVER_ADDRESS).ok().filter(|s| !s.is_empty()))
            .ok_or_else(|| err(format!("metadata.serverAddress is missing (and ${ENV_SERVER_ADDRESS} is not set)")))?;
        if !(server_address.starts_with("http://") || server_address.starts_with("https://")) {
            return Err(err(format!("metadata.serverAddress {server_address:?} is not an http(s) URL")));
        }
        let query = string_field(meta, "query")?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| err("metadata.query is missing"))?;
        let raw = string_field(meta, "threshold")?.ok_or_else(|| err("metadata.threshold is missing"))?;
        let threshold: f64 =
            raw.trim().parse().map_err(|_| err(format!("metadata.threshold {raw:?} is not a number like \"0.5\"")))?;
        if !threshold.is_finite() {
            return Err(err(format!("metadata.threshold {raw:?} must be finite")));
        }
        let uptime_filter = string_field(meta, "uptimeFilter")?
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_UPTIME_FILTER.to_string());
        let mut headers = BTreeMap::new();
        match meta.get("headers") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Object(m)) => {
                for (k, v) in m {
                    let v = v.as_str().ok_or_else(|| err(format!("metadata.headers.{k} must be a string")))?;
                    headers.insert(k.clone(), v.to_string());
                }
            }
            // "Name=value,Other=value", as KEDA writes headers.
            Some(serde_json::Value::String(s)) => {
                for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (k, v) =
                        pair.split_once('=').ok_or_else(|| err("metadata.headers must be \"Name=value,...\""))?;
                    headers.insert(k.trim().to_string(), v.trim().to_string());
                }
            }
            Some(_) => return Err(err("metadata.headers must be an object or \"Name=value,...\"")),
        }
        if !headers.keys().any(|k| k.eq_ignore_ascii_case("authorization"))
            && let Ok(auth) = std::env::var(ENV_AUTHORIZATION)
            && !auth.is_empty()
        {
            headers.insert("Authorization".into(), auth);
        }
        Ok(PrometheusConfig { server_address, query, threshold, uptime_filter, headers, cooldown })
    }

    /// The health query: Prometheus was up over the whole cooldown window.
    pub fn health_query(&self) -> String {
        let window = self.cooldown.as_secs().max(1);
        format!("min_over_time((max(up{{{}}}) or vector(0))[{window}s:])", self.uptime_filter)
    }
}

/// Extracts the one value of an instant-query answer (vector or scalar).
pub fn parse_query_response(body: &[u8]) -> Result<f64> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| err(format!("the answer is not JSON: {e}")))?;
    if v.get("status").and_then(|s| s.as_str()) != Some("success") {
        let msg = v.get("error").and_then(|s| s.as_str()).unwrap_or("unknown error");
        return Err(err(format!("query failed: {msg}")));
    }
    let data = v.get("data").ok_or_else(|| err("the answer has no data"))?;
    let sample = match data.get("resultType").and_then(|t| t.as_str()) {
        Some("vector") => {
            let result =
                data.get("result").and_then(|r| r.as_array()).ok_or_else(|| err("the answer has no result"))?;
            match result.len() {
                0 => return Err(err("the query returned no series")),
                1 => result[0].get("value").ok_or_else(|| err("the series has no value"))?,
                n => return Err(err(format!("the query returned {n} series; it must return one"))),
            }
        }
        Some("scalar") => data.get("result").ok_or_else(|| err("the answer has no result"))?,
        other => return Err(err(format!("unsupported result type {other:?}; use an instant vector or scalar"))),
    };
    let text = sample.get(1).and_then(|s| s.as_str()).ok_or_else(|| err("the sample has no value"))?;
    sample_value(text)
}

/// A sample's value as the scaler accepts it: a finite number.
fn sample_value(text: &str) -> Result<f64> {
    let value: f64 = text.parse().map_err(|_| err(format!("the value {text:?} is not a number")))?;
    if value.is_nan() {
        return Err(err("the query returned NaN"));
    }
    if value.is_infinite() {
        return Err(err(format!("the query returned {text}")));
    }
    Ok(value)
}

/// Adds the samples of a `query_range` answer (a matrix) to `points`, one list of values per
/// step of `range`.
pub fn parse_range_response(body: &[u8], range: &StepRange, points: &mut [Vec<String>]) -> Result<()> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| err(format!("the answer is not JSON: {e}")))?;
    if v.get("status").and_then(|s| s.as_str()) != Some("success") {
        let msg = v.get("error").and_then(|s| s.as_str()).unwrap_or("unknown error");
        return Err(err(format!("query failed: {msg}")));
    }
    let data = v.get("data").ok_or_else(|| err("the answer has no data"))?;
    if data.get("resultType").and_then(|t| t.as_str()) != Some("matrix") {
        return Err(err("a range query must return a matrix; use an instant vector or scalar query"));
    }
    let series = data.get("result").and_then(|r| r.as_array()).ok_or_else(|| err("the answer has no result"))?;
    for s in series {
        for pair in s.get("values").and_then(|v| v.as_array()).into_iter().flatten() {
            let (Some(t), Some(text)) = (pair.get(0).and_then(|t| t.as_f64()), pair.get(1).and_then(|t| t.as_str()))
            else {
                return Err(err("a sample of the range answer is not [time, \"value\"]"));
            };
            if let Some(i) = range.index_of(t) {
                points[i].push(text.to_string());
            }
        }
    }
    Ok(())
}

/// The HTTP client of every Prometheus scaler, one per process (its connections are driven by
/// the runtime's tasks, which a forked child does not have).
fn http() -> &'static reqwest::Client {
    static CLIENT: PerProcess<reqwest::Client> = PerProcess::new();
    CLIENT.get(|| {
        // reqwest leaves the TLS crypto provider to us: ring, as kube uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder().timeout(QUERY_TIMEOUT).build().expect("an HTTP client")
    })
}

/// A Prometheus-backed scaler.
pub struct PrometheusScaler {
    config: PrometheusConfig,
}

impl PrometheusScaler {
    /// A scaler for `config`.
    pub fn new(config: PrometheusConfig) -> Self {
        PrometheusScaler { config }
    }

    /// Runs an instant query at the current time and returns its single value.
    pub async fn query(&self, query: &str) -> Result<f64> {
        self.query_at(query, Timestamp::now()).await
    }

    /// Runs an instant query at `time` and returns its single value.
    pub async fn query_at(&self, query: &str, time: Timestamp) -> Result<f64> {
        let time = time.to_string();
        let body = self.get("query", &[("query", query), ("time", time.as_str())], QUERY_TIMEOUT).await?;
        parse_query_response(&body)
    }

    /// Runs `query` over `range` (`query_range`, one request: Prometheus answers at most
    /// 11,000 steps) and returns each step's single value, or why there is none (no sample,
    /// several series, NaN or ±Inf: what the live query would have refused).
    pub async fn query_range(&self, query: &str, range: StepRange) -> Result<Vec<std::result::Result<f64, String>>> {
        let mut points: Vec<Vec<String>> = vec![Vec::new(); range.count];
        let (start, end) = (range.start.to_string(), range.end().to_string());
        let step = format!("{}s", range.step.as_secs());
        let params = [("query", query), ("start", start.as_str()), ("end", end.as_str()), ("step", step.as_str())];
        let body = self.get("query_range", &params, RANGE_TIMEOUT).await?;
        parse_range_response(&body, &range, &mut points)?;
        Ok(points
            .into_iter()
            .map(|values| match values.as_slice() {
                [] => Err("no sample".to_string()),
                [one] => sample_value(one).map_err(|e| e.to_string()),
                many => Err(format!("{} series; the query must return one", many.len())),
            })
            .collect())
    }

    /// What the trigger would have answered at each step of `range`, as the live trigger
    /// answers: unhealthy unless the health query is 1; below the threshold allows zero, else
    /// wants the target up; no sample or an unusable one is unhealthy (the live trigger's error
    /// holds the count the same way).
    pub async fn history(&self, range: StepRange) -> Result<Vec<Sample>> {
        let health_query = self.config.health_query();
        let (health, values) =
            futures::try_join!(self.query_range(&health_query, range), self.query_range(&self.config.query, range))?;
        Ok(health
            .into_iter()
            .zip(values)
            .map(|(health, value)| match (health, value) {
                (Err(e), _) => Sample::unhealthy(format!("health query: {e}")),
                (Ok(h), _) if h != 1.0 => Sample::unhealthy(format!("Prometheus was not up over the cooldown ({h})")),
                (Ok(_), Err(e)) => Sample::unhealthy(format!("query: {e}")),
                (Ok(_), Ok(v)) => Sample {
                    answer: if v < self.config.threshold { Answer::AllowsZero } else { Answer::WantsUp },
                    value: Some(v),
                    note: None,
                },
            })
            .collect())
    }

    /// GETs `/api/v1/{path}` with the trigger's headers; the body of a 2xx answer.
    async fn get(&self, path: &str, params: &[(&str, &str)], timeout: Duration) -> Result<Vec<u8>> {
        let url = format!("{}/api/v1/{path}", self.config.server_address.trim_end_matches('/'));
        let mut req = http().get(&url).query(params).timeout(timeout);
        for (k, v) in &self.config.headers {
            req = req.header(k, v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| err(format!("cannot query {url}: {}", crate::core::error::error_chain(&e.without_url()))))?;
        let status = resp.status();
        let body =
            resp.bytes().await.map_err(|e| err(format!("cannot read the answer of {url}: {}", e.without_url())))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(err(format!(
                "{url} answered HTTP {}: {}",
                status.as_u16(),
                text.chars().take(200).collect::<String>()
            )));
        }
        Ok(body.to_vec())
    }
}

impl Scaler for PrometheusScaler {
    fn is_healthy(&self) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move { Ok(self.query(&self.config.health_query()).await? == 1.0) })
    }

    fn should_scale_to_zero(&self) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move { Ok(self.query(&self.config.query).await? < self.config.threshold) })
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Makes [`PrometheusScaler`]s.
#[derive(Default)]
pub struct PrometheusFactory;

impl ScalerFactory for PrometheusFactory {
    fn ask(
        &self,
        _trigger: &str,
        metadata: serde_json::Value,
        cooldown: Duration,
    ) -> BoxFuture<'static, Result<Answer>> {
        Box::pin(async move {
            let config = PrometheusConfig::from_metadata(&metadata, cooldown)?;
            ask_scaler(&PrometheusScaler::new(config)).await
        })
    }

    fn history(
        &self,
        _trigger: &str,
        metadata: serde_json::Value,
        cooldown: Duration,
        range: StepRange,
    ) -> BoxFuture<'static, Result<Vec<Sample>>> {
        Box::pin(async move {
            let config = PrometheusConfig::from_metadata(&metadata, cooldown)?;
            PrometheusScaler::new(config).history(range).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vector(values: &[&str]) -> Vec<u8> {
        let result: Vec<_> = values.iter().map(|v| json!({"metric": {}, "value": [1.0, v]})).collect();
        serde_json::to_vec(&json!({"status": "success", "data": {"resultType": "vector", "result": result}})).unwrap()
    }

    #[test]
    fn parses_one_value() {
        assert_eq!(parse_query_response(&vector(&["0.25"])).unwrap(), 0.25);
        let scalar = json!({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "1"]}});
        assert_eq!(parse_query_response(&serde_json::to_vec(&scalar).unwrap()).unwrap(), 1.0);
    }

    #[test]
    fn refuses_doubtful_answers() {
        for (body, needle) in [
            (vector(&[]), "no series"),
            (vector(&["1", "2"]), "2 series"),
            (vector(&["NaN"]), "NaN"),
            (vector(&["+Inf"]), "+Inf"),
            (vector(&["-Inf"]), "-Inf"),
            (vector(&["abc"]), "not a number"),
            (b"not json".to_vec(), "not JSON"),
            (br#"{"status":"error","error":"bad query"}"#.to_vec(), "bad query"),
        ] {
            let e = parse_query_response(&body).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} lacks {needle}");
        }
    }

    #[test]
    fn metadata() {
        let c = PrometheusConfig::from_metadata(
            &json!({"serverAddress": "http://p:9090", "query": "sum(x)", "threshold": "0.5", "headers": "X-Org=1"}),
            Duration::from_secs(900),
        )
        .unwrap();
        assert_eq!(c.threshold, 0.5);
        assert_eq!(c.uptime_filter, DEFAULT_UPTIME_FILTER);
        assert_eq!(c.health_query(), "min_over_time((max(up{container=\"prometheus\"}) or vector(0))[900s:])");
        assert_eq!(c.headers.get("X-Org").map(String::as_str), Some("1"));
        for (bad, needle) in [
            (json!({"serverAddress": "http://p", "query": "q", "threshold": "abc"}), "threshold"),
            (json!({"serverAddress": "http://p", "query": "q"}), "threshold is missing"),
            (json!({"serverAddress": "http://p", "threshold": "1"}), "query is missing"),
            (json!({"serverAddress": "ftp://p", "query": "q", "threshold": "1"}), "http"),
            (json!({"serverAddress": "http://p", "query": "q", "threshold": "inf"}), "finite"),
        ] {
            let e = PrometheusConfig::from_metadata(&bad, Duration::from_secs(1)).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} lacks {needle}");
        }
    }

    #[test]
    fn debug_hides_header_values() {
        let c = PrometheusConfig::from_metadata(
            &json!({"serverAddress": "http://p", "query": "q", "threshold": "1", "headers": {"Authorization": "Bearer s3cret"}}),
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = PrometheusConfig::from_metadata(
            &json!({"serverAddress": "https://u:t0k3n@p", "query": "q", "threshold": "1"}),
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("t0k3n"));
    }

    #[test]
    fn an_empty_uptime_filter_takes_the_default() {
        let c = PrometheusConfig::from_metadata(
            &json!({"serverAddress": "http://p", "query": "q", "threshold": "1", "uptimeFilter": ""}),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(c.uptime_filter, DEFAULT_UPTIME_FILTER);
    }

    #[test]
    fn range_answers_are_sorted_into_steps() {
        let start: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let range = StepRange { start, step: Duration::from_secs(60), count: 4 };
        let t = |i: i64| (start.as_second() + 60 * i) as f64;
        let body = json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"a": "1"}, "values": [[t(0), "1"], [t(1), "2"], [t(3), "NaN"]]},
            {"metric": {"a": "2"}, "values": [[t(1), "7"], [t(9), "7"]]},
        ]}});
        let mut points = vec![Vec::new(); 4];
        parse_range_response(body.to_string().as_bytes(), &range, &mut points).unwrap();
        assert_eq!(points, [vec!["1"], vec!["2", "7"], vec![], vec!["NaN"]]);
        let vector = json!({"status": "success", "data": {"resultType": "vector", "result": []}});
        assert!(parse_range_response(vector.to_string().as_bytes(), &range, &mut points).is_err());
    }
}
