//! The wake-up time the loop measured, read back from Prometheus: what a replay charges a cold
//! start when the caller asks for the measured time instead of giving one.

use std::time::Duration;

use jiff::Timestamp;

use crate::core::elasti::resource::ElastiServiceSpec;
use crate::core::elasti::scalers::prometheus::{PrometheusConfig, PrometheusScaler};
use crate::core::error::{Error, Result};

/// The mean time from the loop's scale-up decision to the first ready replica over the last
/// `window` seconds (`kubescale_cold_start_seconds`, outcome `ready`).
pub(crate) fn mean_wake_up_query(window: Duration) -> String {
    let w = window.as_secs().max(1);
    let series = |part: &str| {
        format!(r#"sum(increase(kubescale_cold_start_seconds_{part}{{outcome="ready",since="decision"}}[{w}s]))"#)
    };
    format!("{} / {}", series("sum"), series("count"))
}

/// The mean wake-up the loop measured (`kubescale_cold_start_seconds`, outcome `ready`, from
/// the decision) over `start..end`, read from the Prometheus of the first `prometheus` trigger
/// of `spec` (the one its scrape of kubescale reaches); `service` names it in errors. Every
/// service the loop woke counts: the histogram has no per-service label.
///
/// Raises:
///     [`Error::InvalidValue`] when the service has no `prometheus` trigger;
///     [`Error::Trigger`] when Prometheus has no wake-up measured in the range, or fails.
pub(crate) async fn measured_wake_up(
    spec: &ElastiServiceSpec,
    service: &str,
    start: Timestamp,
    end: Timestamp,
) -> Result<Duration> {
    let trigger = spec.triggers.iter().find(|t| t.type_ == "prometheus").ok_or_else(|| Error::InvalidValue {
        field: "wake_up",
        problem: format!(
            "\"measured\" reads kubescale_cold_start_seconds from a prometheus trigger's server; {service} has none"
        ),
    })?;
    let metadata = trigger.metadata.clone().unwrap_or(serde_json::Value::Null);
    let prometheus = PrometheusScaler::new(PrometheusConfig::from_metadata(&metadata, spec.cooldown())?);
    let window = Duration::try_from(end.duration_since(start)).unwrap_or_default();
    let mean = prometheus.query_at(&mean_wake_up_query(window), end).await.map_err(|e| Error::Trigger {
        trigger: "prometheus".into(),
        message: format!("no wake-up measured from {start} to {end} (kubescale_cold_start_seconds): {e}"),
    })?;
    Ok(Duration::try_from_secs_f64(mean.max(0.0)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_the_ready_wake_ups_over_the_window() {
        assert_eq!(
            mean_wake_up_query(Duration::from_secs(3600)),
            "sum(increase(kubescale_cold_start_seconds_sum{outcome=\"ready\",since=\"decision\"}[3600s])) \
             / sum(increase(kubescale_cold_start_seconds_count{outcome=\"ready\",since=\"decision\"}[3600s]))"
        );
    }
}
