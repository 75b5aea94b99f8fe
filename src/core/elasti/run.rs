//! The endless loop: a pass every polling interval until closed, optionally only while this
//! process holds the leader Lease.

use std::time::Duration;

use crate::core::elasti::controller::Controller;
use crate::core::elasti::leader::LeaderElector;
use crate::core::error::{Error, Result};

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Time between passes.
    pub polling_interval: Duration,
    /// Compete for a Lease and act only while holding it.
    pub leader_election: bool,
    /// Lease name.
    pub lease_name: String,
    /// Lease namespace (default: the handler's default namespace).
    pub lease_namespace: Option<String>,
    /// How long a Lease holds without renewal.
    pub lease_duration: Duration,
    /// Identity in the Lease (default: `$POD_NAME`/`$HOSTNAME` plus the process id).
    pub identity: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            polling_interval: Duration::from_secs(30),
            leader_election: false,
            lease_name: "kubescale-scale-to-zero".into(),
            lease_namespace: None,
            lease_duration: Duration::from_secs(15),
            identity: None,
        }
    }
}

/// The polling interval from `$POLLING_INTERVAL` (a Go duration such as `30s`), as the
/// reference reads it: unset, invalid or non-positive gives a warning (except unset) and 30 s.
pub fn polling_interval_from_env() -> Duration {
    let default = Duration::from_secs(30);
    match std::env::var("POLLING_INTERVAL") {
        Err(_) => default,
        Ok(v) => match crate::core::elasti::enabled_period::parse_duration("POLLING_INTERVAL", &v) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "invalid POLLING_INTERVAL; using 30s");
                default
            }
        },
    }
}

impl Controller {
    /// Runs passes every `polling_interval` until closed (or the future dropped); on a closed
    /// handler it returns at once, and a close during a pass stops it. With leader election only
    /// the Lease holder runs passes; the Lease is renewed every third of its duration and
    /// released on the way out.
    pub async fn run(&self, opts: RunOptions) -> Result<()> {
        if opts.polling_interval.is_zero() {
            return Err(Error::InvalidValue { field: "polling_interval", problem: "must be positive".into() });
        }
        let elector = if opts.leader_election {
            let ns = self.handler.namespace_for(opts.lease_namespace.as_deref())?;
            crate::core::target::validate_name(&format!("lease/{}", opts.lease_name), &opts.lease_name)?;
            let identity = opts.identity.clone().unwrap_or_else(|| {
                let host = std::env::var("POD_NAME")
                    .or_else(|_| std::env::var("HOSTNAME"))
                    .unwrap_or_else(|_| "kubescale".into());
                format!("{host}-{}", std::process::id())
            });
            Some(LeaderElector::new(
                self.handler.client().clone(),
                &ns,
                &opts.lease_name,
                identity,
                opts.lease_duration,
            ))
        } else {
            None
        };
        let renew_every = opts.lease_duration / 3;
        let mut next_pass = tokio::time::Instant::now();
        let result = async {
            loop {
                if self.handler.is_closed() {
                    return Ok(());
                }
                let leading = match &elector {
                    None => true,
                    Some(e) => match e.try_acquire_or_renew().await {
                        Ok(l) => l,
                        Err(err) => {
                            tracing::warn!(error = %err, "leader election failed; not acting this round");
                            false
                        }
                    },
                };
                let now = tokio::time::Instant::now();
                if leading && now >= next_pass {
                    let pass = tokio::select! {
                        pass = self.check_and_scale() => pass,
                        () = self.closed() => return Ok(()),
                    };
                    match pass {
                        Ok(ds) => tracing::debug!(services = ds.len(), "pass done"),
                        Err(Error::Closed) => return Ok(()),
                        Err(e) => tracing::warn!(error = %e, "scale-to-zero pass failed"),
                    }
                    next_pass = tokio::time::Instant::now() + opts.polling_interval;
                }
                let wake = match &elector {
                    Some(_) => next_pass.min(tokio::time::Instant::now() + renew_every),
                    None => next_pass,
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => {}
                    () = self.closed() => {}
                }
            }
        }
        .await;
        if let Some(e) = &elector
            && let Err(err) = e.release().await
        {
            tracing::debug!(error = %err, "releasing the lease failed");
        }
        result
    }
}
