//! The one error type of the core. `src/python/errors.rs` maps it to Python exceptions.

use std::time::Duration;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable configuration: kubeconfig missing or unreadable, unknown context, bad in-cluster
    /// env, failed authentication.
    #[error("configuration error: {message}{}", causes(source))]
    Config {
        /// What could not be done.
        message: String,
        /// Why, when another error said so.
        #[source]
        source: Option<Cause>,
    },

    /// A target reference (`TYPE[.VERSION][.GROUP]/NAME`) or one of its parts is malformed.
    #[error("invalid target {target:?}: {problem}")]
    InvalidTarget {
        /// The target as the caller wrote it.
        target: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A caller-supplied value (replicas, namespace, event type...) is out of range.
    #[error("invalid value for {field}: {problem}")]
    InvalidValue {
        /// The argument that was wrong.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },

    /// The API server serves no resource that matches the requested type.
    #[error("the server doesn't have a resource type {0:?}")]
    NoMatch(String),

    /// The resource type exists but has no `scale` subresource.
    #[error(
        "{kind} ({}) has no scale subresource: it cannot be scaled",
        if group.is_empty() { plural.clone() } else { format!("{plural}.{group}") }
    )]
    NotScalable {
        /// The kind, e.g. `ConfigMap`.
        kind: String,
        /// The plural resource name.
        plural: String,
        /// The API group (empty for the core group).
        group: String,
    },

    /// The call names a namespace outside the handler's watch namespace.
    #[error("namespace {requested:?} is outside this handler's watch namespace {allowed:?}")]
    NamespaceNotAllowed {
        /// The namespace the call asked for.
        requested: String,
        /// The handler's watch namespace.
        allowed: String,
    },

    /// The API server answered with an error status.
    #[error("{message} (HTTP {status}, {reason})")]
    Api {
        /// HTTP status code.
        status: u16,
        /// Kubernetes reason, e.g. `NotFound`, `Conflict`.
        reason: String,
        /// The server's message.
        message: String,
    },

    /// The API server could not be reached or did not answer in time (refused, TLS failure, timeout).
    #[error("API server unavailable: {message}{}", causes(source))]
    Unavailable {
        /// What failed.
        message: String,
        /// Why, when another error said so.
        #[source]
        source: Option<Cause>,
    },

    /// A call's precondition did not hold: the target's count was not the one the caller said
    /// it must be (kubectl's `--current-replicas`). Nothing was written.
    #[error("expected the replicas of {target} to be {expected}, was {actual}")]
    Precondition {
        /// The target, as kubectl names it.
        target: String,
        /// The count the caller required.
        expected: i32,
        /// The count the target had.
        actual: i32,
    },

    /// A wait did not reach its goal in time.
    #[error("timed out after {}s waiting for {what}: wanted {wanted}, seen {seen}", waited.as_secs_f64())]
    WaitTimeout {
        /// What was awaited, e.g. `deployment/web ready replicas`.
        what: String,
        /// The count wanted.
        wanted: i32,
        /// The last count seen.
        seen: i32,
        /// How long the wait was allowed to last.
        waited: Duration,
    },

    /// A trigger's scaler failed or gave no usable answer.
    #[error("trigger {trigger:?}: {message}")]
    Trigger {
        /// The trigger type, e.g. `prometheus`.
        trigger: String,
        /// What went wrong.
        message: String,
    },

    /// The handler was closed.
    #[error("the handler is closed")]
    Closed,

    /// The handler was made in another process, which then forked: its connections belong to
    /// that process.
    #[error(
        "this handler was created in process {created_in}, before a fork; create a new ScaleHandler in this process (e.g. in a Celery worker_process_init or gunicorn post_fork hook)"
    )]
    Forked {
        /// The process the handler was created in.
        created_in: u32,
    },

    /// A write of the loop was not sent: this process could not prove, by its own clock, that
    /// it still held its Lease (see `fence.rs`).
    #[error(transparent)]
    LeaseLost(#[from] crate::core::fence::LeaseLost),

    /// A response that could not be understood.
    #[error("unexpected response from the API server: {message}{}", causes(source))]
    Decode {
        /// What could not be understood.
        message: String,
        /// Why, when another error said so.
        #[source]
        source: Option<Cause>,
    },
}

/// The cause of an [`Error`], kept as its `source()`.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// `": cause: its cause..."` for a message whose causes are kept as sources: they stay
/// inspectable (`source()`), and the message still names them.
fn causes(source: &Option<Cause>) -> String {
    source.as_deref().map(|c| format!(": {}", error_chain(c))).unwrap_or_default()
}

/// Result alias of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A configuration error with no other cause.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config { message: message.into(), source: None }
    }

    /// A configuration error caused by `source`.
    pub fn config_from(message: impl Into<String>, source: impl Into<Cause>) -> Self {
        Error::Config { message: message.into(), source: Some(source.into()) }
    }

    /// An unreachable or silent API server, with no other cause.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable { message: message.into(), source: None }
    }

    /// A response that could not be understood, because of `source`.
    pub fn decode_from(message: impl Into<String>, source: impl Into<Cause>) -> Self {
        Error::Decode { message: message.into(), source: Some(source.into()) }
    }

    /// The HTTP status of an API error, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A short name of the error's kind, for metrics: `config`, `invalid_target`,
    /// `invalid_value`, `no_match`, `not_scalable`, `namespace_not_allowed`, `api`, `unavailable`,
    /// `precondition`, `wait_timeout`, `trigger`, `closed`, `forked`, `lease_lost`, `decode`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config",
            Error::InvalidTarget { .. } => "invalid_target",
            Error::InvalidValue { .. } => "invalid_value",
            Error::NoMatch(_) => "no_match",
            Error::NotScalable { .. } => "not_scalable",
            Error::NamespaceNotAllowed { .. } => "namespace_not_allowed",
            Error::Api { .. } => "api",
            Error::Unavailable { .. } => "unavailable",
            Error::Precondition { .. } => "precondition",
            Error::WaitTimeout { .. } => "wait_timeout",
            Error::Trigger { .. } => "trigger",
            Error::Closed => "closed",
            Error::Forked { .. } => "forked",
            Error::LeaseLost(_) => "lease_lost",
            Error::Decode { .. } => "decode",
        }
    }

    /// True for a 404 answer.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True for a 409 answer (Conflict).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// True for a 403 answer (Forbidden).
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403)
    }

    /// True for a 422 answer (Invalid; also a JSON Patch whose `test` failed).
    pub fn is_invalid(&self) -> bool {
        self.status() == Some(422)
    }

    /// True when a 404 means the resource *type* is not served (as opposed to a missing object):
    /// the server answers such paths with a Status that names no object, or with a plain
    /// "404 page not found" when the whole group version is gone.
    pub fn is_missing_resource_type(&self) -> bool {
        matches!(self, Error::Api { status: 404, message, .. }
            if message.contains("could not find the requested resource") || message.contains("page not found"))
    }
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        use kube::Error as K;
        match e {
            K::Api(s) => Error::Api {
                status: s.code,
                reason: if s.reason.is_empty() { "Unknown".into() } else { s.reason.clone() },
                message: if s.message.is_empty() { format!("HTTP {}", s.code) } else { s.message.clone() },
            },
            K::SerdeError(e) => Error::decode_from("cannot decode the response", e),
            K::FromUtf8(e) => Error::decode_from("the response is not UTF-8", e),
            K::InferConfig(e) => Error::config_from("cannot infer the configuration", e),
            K::Discovery(e) => Error::decode_from("discovery failed", e),
            K::BuildRequest(e) => Error::config_from("cannot build the request", e),
            K::Auth(e) => Error::config_from("authentication failed", e),
            K::Service(e) if e.is::<crate::core::fence::LeaseLost>() => {
                Error::LeaseLost(*e.downcast().expect("checked"))
            }
            K::Service(e) if e.downcast_ref::<kube::client::AuthError>().is_some() => {
                Error::config_from("authentication failed", e)
            }
            other => Error::Unavailable { message: "the request failed".into(), source: Some(Box::new(other)) },
        }
    }
}

/// Joins an error and its sources into one line (`a: b: c`), skipping repeats.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_as_kubectl_names_them() {
        let core = Error::NotScalable { kind: "ConfigMap".into(), plural: "configmaps".into(), group: String::new() };
        assert_eq!(core.to_string(), "ConfigMap (configmaps) has no scale subresource: it cannot be scaled");
        let grouped = Error::NotScalable { kind: "Job".into(), plural: "jobs".into(), group: "batch".into() };
        assert!(grouped.to_string().starts_with("Job (jobs.batch) has no scale"));
    }

    #[test]
    fn missing_type_vs_missing_object() {
        let t = Error::Api {
            status: 404,
            reason: "NotFound".into(),
            message: "the server could not find the requested resource".into(),
        };
        let o =
            Error::Api { status: 404, reason: "NotFound".into(), message: "deployments.apps \"web\" not found".into() };
        assert!(t.is_missing_resource_type());
        let gv = Error::Api { status: 404, reason: "Unknown".into(), message: "404 page not found".into() };
        assert!(gv.is_missing_resource_type());
        assert!(!o.is_missing_resource_type());
        assert!(o.is_not_found());
    }
}
