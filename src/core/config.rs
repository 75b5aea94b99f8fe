//! Finding cluster configuration the way kubectl does, and building the one shared client.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::core::error::{Error, Result};

/// Where to find the cluster and how long to wait for it.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// A kubeconfig file; default: `$KUBECONFIG` (several paths merged), then `~/.kube/config`,
    /// then the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig; default: its current context.
    pub context: Option<String>,
    /// Per-request timeout (connect, and each read or write). Default: [`DEFAULT_TIMEOUT`]
    /// for a read or a write, kube's 30 s to connect; so a half-open connection fails a call
    /// within a minute instead of holding its target's lock for good.
    pub timeout: Option<Duration>,
}

/// The `User-Agent` of kubescale's requests.
pub const USER_AGENT: &str = concat!("kubescale/", env!("CARGO_PKG_VERSION"));

/// This replica's name, as Kubernetes' downward API or the container runtime give it:
/// `$POD_NAME`, else `$HOSTNAME`. Names the Events' reporting instance and the Lease holder.
pub(crate) fn replica_name() -> Option<String> {
    std::env::var("POD_NAME").or_else(|_| std::env::var("HOSTNAME")).ok()
}

/// How long a read or a write may wait without progress when no timeout is given. Every
/// watch kubescale makes asks the server to end it sooner, so it never trips on a quiet
/// watch.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A connected client and what it was made from.
pub struct Connection {
    /// The client; cheap to clone, all clones share one connection pool.
    pub client: Client,
    /// The API server's URL.
    pub server: String,
    /// The kubeconfig context in use (`None` in-cluster).
    pub context: Option<String>,
    /// The context's namespace, or the service account's, or `default`.
    pub default_namespace: String,
    /// The client's rate limit (off until `run` sets one).
    pub limits: crate::core::throttle::Limits,
}

/// The home directory as kubectl (client-go's `homedir.HomeDir`) finds it: `$HOME`, and on
/// Windows also `%USERPROFILE%`, then `%HOMEDRIVE%%HOMEPATH%`.
fn home_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = var("HOME");
    if cfg!(windows) {
        let drive_path = var("HOMEDRIVE").zip(var("HOMEPATH")).map(|(d, p)| d.join(p));
        return home.or_else(|| var("USERPROFILE")).or(drive_path);
    }
    home
}

fn home_kubeconfig() -> Option<PathBuf> {
    home_dir().map(|h| h.join(".kube").join("config")).filter(|p| p.exists())
}

async fn from_kubeconfig(kc: Kubeconfig, context: Option<String>, source: &str) -> Result<(Config, Option<String>)> {
    if let Some(ctx) = &context
        && !kc.contexts.iter().any(|c| c.name == *ctx)
    {
        let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(Error::config(format!("context {ctx:?} is not in {source} (contexts: {})", known.join(", "))));
    }
    let used = context.clone().or_else(|| kc.current_context.clone());
    let opts = KubeConfigOptions { context, ..Default::default() };
    let config = Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| Error::config_from(format!("cannot use {source}"), e))?;
    Ok((config, used))
}

/// Sets the client's timeouts: `timeout` for connecting and for each read or write, or by
/// default [`DEFAULT_TIMEOUT`] for a read or a write (and kube's 30 s to connect). kube leaves
/// reads without a timeout, so a half-open connection would hang a call for good.
fn apply_timeouts(config: &mut Config, timeout: Option<Duration>) {
    match timeout {
        Some(t) => {
            config.connect_timeout = Some(t);
            config.read_timeout = Some(t);
            config.write_timeout = Some(t);
        }
        None => {
            config.read_timeout = Some(DEFAULT_TIMEOUT);
            config.write_timeout = Some(DEFAULT_TIMEOUT);
        }
    }
}

/// Loads configuration in kubectl's order and builds a client. Must run inside the runtime.
pub async fn connect(opts: &ConnectOptions) -> Result<Connection> {
    let (mut config, context) = if let Some(path) = &opts.kubeconfig {
        let kc = Kubeconfig::read_from(path)
            .map_err(|e| Error::config_from(format!("cannot read kubeconfig {}", path.display()), e))?;
        from_kubeconfig(kc, opts.context.clone(), &path.display().to_string()).await?
    } else if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) {
        let kc = Kubeconfig::from_env()
            .map_err(|e| Error::config_from("cannot read $KUBECONFIG", e))?
            .ok_or_else(|| Error::config("$KUBECONFIG names no readable file"))?;
        from_kubeconfig(kc, opts.context.clone(), "$KUBECONFIG").await?
    } else if let Some(path) = home_kubeconfig() {
        let kc = Kubeconfig::read_from(&path)
            .map_err(|e| Error::config_from(format!("cannot read kubeconfig {}", path.display()), e))?;
        from_kubeconfig(kc, opts.context.clone(), &path.display().to_string()).await?
    } else {
        if let Some(ctx) = &opts.context {
            return Err(Error::config(format!("context {ctx:?} was asked for, but no kubeconfig was found")));
        }
        let config = Config::incluster().map_err(|e| {
            Error::config_from("no kubeconfig (argument, $KUBECONFIG or ~/.kube/config) and not in a cluster", e)
        })?;
        (config, None)
    };
    apply_timeouts(&mut config, opts.timeout);
    // Named in the API server's audit log and metrics, as kubectl and client-go name themselves.
    config.headers.push((http::header::USER_AGENT, http::HeaderValue::from_static(USER_AGENT)));
    let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
    let default_namespace = config.default_namespace.clone();
    let limits = crate::core::throttle::Limits::default();
    let client = crate::core::transport::client(config, &limits)?;
    Ok(Connection { client, server, context, default_namespace, limits })
}

#[cfg(test)]
mod timeout_tests {
    use super::*;

    #[test]
    fn no_request_waits_forever_by_default() {
        let mut config = Config::new("https://127.0.0.1:6443".parse().unwrap());
        assert_eq!(config.read_timeout, None, "kube's own default: no read timeout");
        apply_timeouts(&mut config, None);
        assert_eq!(config.read_timeout, Some(DEFAULT_TIMEOUT));
        assert_eq!(config.write_timeout, Some(DEFAULT_TIMEOUT));
        assert!(config.connect_timeout.is_some());
        apply_timeouts(&mut config, Some(Duration::from_secs(3)));
        assert_eq!(
            (config.connect_timeout, config.read_timeout, config.write_timeout),
            (Some(Duration::from_secs(3)), Some(Duration::from_secs(3)), Some(Duration::from_secs(3)))
        );
    }
}
