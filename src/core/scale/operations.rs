//! The public calls of the scale path: read a target's scale, or bring it to a count.

use k8s_openapi::api::autoscaling::v1::Scale as ApiScale;
use k8s_openapi::api::core::v1::ObjectReference;

use crate::core::error::{Error, Result};
use crate::core::scale::handler::ScaleHandler;
use crate::core::scale::intent::Intent;
use crate::core::scale::resolved::ResolvedTarget;
use crate::core::target::TargetRef;

/// Annotation holding the replica count a target had before `scale_to_zero`.
pub const PREVIOUS_REPLICAS_ANNOTATION: &str = "kubescale.io/previous-replicas";

/// The scale subresource of a target, as read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Scale {
    /// Namespace of the target (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name of the target.
    pub name: String,
    /// Kind of the target, e.g. `Deployment`.
    pub kind: String,
    /// apiVersion of the target, e.g. `apps/v1`.
    pub api_version: String,
    /// Desired replicas (`spec.replicas`; absent means 0).
    pub spec_replicas: i32,
    /// Observed replicas (`status.replicas`).
    pub status_replicas: i32,
    /// Label selector of the pods, when the kind reports one.
    pub selector: Option<String>,
    /// resourceVersion of the read.
    pub resource_version: String,
}

impl Scale {
    pub(crate) fn of(t: &ResolvedTarget, s: &ApiScale) -> Self {
        Scale {
            namespace: t.namespace.clone(),
            name: s.metadata.name.clone().unwrap_or_default(),
            kind: t.resource.kind.clone(),
            api_version: t.resource.api_version(),
            spec_replicas: s.spec.as_ref().and_then(|sp| sp.replicas).unwrap_or(0),
            status_replicas: s.status.as_ref().map_or(0, |st| st.replicas),
            selector: s.status.as_ref().and_then(|st| st.selector.clone()),
            resource_version: s.metadata.resource_version.clone().unwrap_or_default(),
        }
    }
}

/// What a scale call did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScaleResult {
    /// The target, as `kind.group/name`.
    pub target: String,
    /// Desired replicas before the call.
    pub previous: i32,
    /// Desired replicas after the call.
    pub replicas: i32,
    /// Whether the call wrote a new count.
    pub changed: bool,
    /// Why, in words.
    pub reason: String,
}

/// Options of a scale call.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScaleOptions {
    /// Keep a current count larger than the desired one (scale up only).
    pub at_least: bool,
    /// Validate on the server, write nothing.
    pub dry_run: bool,
    /// Refuse unless the current count is this one (kubectl's `--current-replicas`).
    pub current_replicas: Option<i32>,
}

/// Checks a replica count before any request.
pub fn check_replicas(replicas: i64) -> Result<i32> {
    i32::try_from(replicas).ok().filter(|r| *r >= 0).ok_or_else(|| Error::InvalidValue {
        field: "replicas",
        problem: format!("{replicas} is not a replica count: use an integer from 0 to {}", i32::MAX),
    })
}

impl ScaleHandler {
    /// Reads the scale subresource of `target`.
    pub async fn get_scale(&self, target: &TargetRef, namespace: Option<&str>) -> Result<Scale> {
        self.with_resolved(target, namespace, |t| async move {
            let s = self.api_for(&t).get_scale(&t.name).await?;
            Ok(Scale::of(&t, &s))
        })
        .await
    }

    /// Sets the desired replicas of `target`, serialised per target, retried when the count
    /// changed under the call, recorded as an Event.
    pub async fn scale(
        &self,
        target: &TargetRef,
        replicas: i32,
        namespace: Option<&str>,
        opts: ScaleOptions,
    ) -> Result<ScaleResult> {
        check_replicas(replicas.into())?;
        if let Some(n) = opts.current_replicas {
            check_replicas(n.into())
                .map_err(|_| Error::InvalidValue { field: "current_replicas", problem: format!("{n} is negative") })?;
        }
        let intent = Intent::Set { replicas, at_least: opts.at_least, if_current: opts.current_replicas };
        self.with_locked(target, namespace, |t| async move { self.converge(&t, intent, opts.dry_run, None).await })
            .await
    }

    /// Remembers the current desired count in the `kubescale.io/previous-replicas` annotation,
    /// then scales to 0.
    pub async fn scale_to_zero(&self, target: &TargetRef, namespace: Option<&str>) -> Result<ScaleResult> {
        self.scale_with(target, namespace, Intent::ToZero, false, None).await
    }

    /// Scales up from zero: a target at 0 goes to the remembered count when `restore` (but at
    /// least `min_replicas`), else to `min_replicas`; a running target is at most raised to
    /// `min_replicas`.
    pub async fn scale_from_zero(
        &self,
        target: &TargetRef,
        min_replicas: i32,
        namespace: Option<&str>,
        restore: bool,
    ) -> Result<ScaleResult> {
        check_replicas(min_replicas.into())?;
        self.scale_with(target, namespace, Intent::FromZero { min: min_replicas, restore }, false, None).await
    }

    /// What [`scale_with`](Self::scale_with) would do, from reads only: `Some((target, from,
    /// to))` when it would write.
    pub async fn plan_scale(
        &self,
        target: &TargetRef,
        namespace: Option<&str>,
        intent: Intent,
    ) -> Result<Option<(String, i32, i32)>> {
        self.with_resolved(target, namespace, |t| async move {
            Ok(self.plan(&t, intent).await?.map(|(from, to)| (t.display(), from, to)))
        })
        .await
    }

    /// Brings `target` to what `intent` asks, under its lock, recording the Event regarding
    /// `regarding` (the ElastiService, when the loop scales) or else the target.
    pub async fn scale_with(
        &self,
        target: &TargetRef,
        namespace: Option<&str>,
        intent: Intent,
        dry_run: bool,
        regarding: Option<&ObjectReference>,
    ) -> Result<ScaleResult> {
        self.with_locked(target, namespace, |t| async move { self.converge(&t, intent, dry_run, regarding).await })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_bounds() {
        assert_eq!(check_replicas(0).unwrap(), 0);
        assert_eq!(check_replicas(i64::from(i32::MAX)).unwrap(), i32::MAX);
        assert!(check_replicas(-1).is_err());
        assert!(check_replicas(i64::from(i32::MAX) + 1).is_err());
    }
}
