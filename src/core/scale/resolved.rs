//! A target resolved through discovery, and the two ways calls get one: resolved only (reads),
//! or resolved and locked with a place among the handler's operations (writes).

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Api;
use kube::api::DynamicObject;

use crate::core::discovery::Resource;
use crate::core::error::Result;
use crate::core::scale::handler::ScaleHandler;
use crate::core::target::TargetRef;

/// A target whose type discovery resolved: what every step of the write path needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTarget {
    /// The resource type.
    pub resource: Resource,
    /// The object's namespace; empty for cluster-scoped kinds.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The key of the target's lock and cache entry, `namespace/group/Kind/name`: one object,
    /// one key (a cluster-scoped object has an empty namespace whatever the caller's).
    pub key: String,
}

/// The key of the lock and cache entry of the object `name` of type `resource` asked for in
/// `namespace`: `namespace/group/Kind/name`, with an empty namespace for a cluster-scoped kind.
pub fn target_key(resource: &Resource, namespace: &str, name: &str) -> String {
    let namespace = if resource.namespaced { namespace } else { "" };
    format!("{namespace}/{}/{}/{name}", resource.group, resource.kind)
}

impl ResolvedTarget {
    /// The target `name` of type `resource`, asked for in `namespace`.
    pub fn new(resource: Resource, namespace: &str, name: &str) -> Self {
        let key = target_key(&resource, namespace, name);
        let namespace = if resource.namespaced { namespace.to_string() } else { String::new() };
        ResolvedTarget { resource, namespace, name: name.to_string(), key }
    }

    /// The target as kubectl names it: `deployment/web`, `rollout.argoproj.io/canary`.
    pub fn display(&self) -> String {
        let kind = self.resource.kind.to_ascii_lowercase();
        if self.resource.group.is_empty() {
            format!("{kind}/{}", self.name)
        } else {
            format!("{kind}.{}/{}", self.resource.group, self.name)
        }
    }

    /// A reference to the object (for Events), with its uid when known.
    pub fn object_ref(&self, uid: Option<String>) -> ObjectReference {
        ObjectReference { uid, ..self.resource.object_ref(&self.name, &self.namespace) }
    }
}

impl ScaleHandler {
    /// The dynamic API of the target's type in its namespace.
    pub(crate) fn api_for(&self, t: &ResolvedTarget) -> Api<DynamicObject> {
        self.dynamic_api(&t.resource, &t.namespace)
    }

    /// Resolves `target` (a scalable type) in the call's namespace and runs `op` on it. If the
    /// server says the resource *type* is gone (a CRD whose served version changed), resets
    /// discovery, resolves again and retries once.
    pub(crate) async fn with_resolved<T, F, Fut>(&self, target: &TargetRef, namespace: Option<&str>, op: F) -> Result<T>
    where
        F: Fn(ResolvedTarget) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.check_open()?;
        let ns = self.namespace_for(namespace)?;
        let resolve = || async {
            let resource = self.resolve_scalable(&target.type_spec).await?;
            Ok::<_, crate::core::Error>(ResolvedTarget::new(resource, &ns, &target.name))
        };
        match op(resolve().await?).await {
            Err(e) if e.is_missing_resource_type() => {
                tracing::debug!(target = %target, "resource type not found; refreshing discovery");
                self.discovery.reset();
                op(resolve().await?).await
            }
            other => other,
        }
    }

    /// [`with_resolved`](Self::with_resolved), holding the target's lock and a place among the
    /// handler's `concurrency` operations (a fair queue) while `op` runs.
    pub(crate) async fn with_locked<T, F, Fut>(&self, target: &TargetRef, namespace: Option<&str>, op: F) -> Result<T>
    where
        F: Fn(ResolvedTarget) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.with_resolved(target, namespace, |t| self.locked(t, &op)).await
    }

    /// Runs `op` on `t` holding the target's lock and a place among the handler's
    /// `concurrency` operations.
    async fn locked<T, F, Fut>(&self, t: ResolvedTarget, op: &F) -> Result<T>
    where
        F: Fn(ResolvedTarget) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let _guard = self.locks.lock(&t.key).await;
        // Admission after the target's lock, so that calls queued on one busy target hold no
        // place in the line. Never closed, so never an error.
        let _admitted = self.admission.acquire().await;
        op(t).await
    }

    /// Brings a resolved target to `intent` (see `converge.rs`) under its lock.
    pub(crate) async fn converge_locked(
        &self,
        t: &ResolvedTarget,
        intent: crate::core::scale::intent::Intent,
        dry_run: bool,
    ) -> Result<crate::core::scale::operations::ScaleResult> {
        self.locked(t.clone(), &|t: ResolvedTarget| async move { self.converge(&t, intent, dry_run, None).await }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(group: &str, kind: &str, namespaced: bool) -> Resource {
        Resource {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            plural: format!("{}s", kind.to_ascii_lowercase()),
            namespaced,
            scalable: true,
            short_names: vec![],
        }
    }

    #[test]
    fn one_object_one_key() {
        let a = ResolvedTarget::new(resource("example.com", "Pool", false), "team-a", "p");
        let b = ResolvedTarget::new(resource("example.com", "Pool", false), "team-b", "p");
        assert_eq!(a.key, b.key, "a cluster-scoped object has one key whatever the caller's namespace");
        assert_eq!(a.namespace, "");
        let c = ResolvedTarget::new(resource("apps", "Deployment", true), "team-a", "web");
        let d = ResolvedTarget::new(resource("apps", "Deployment", true), "team-b", "web");
        assert_ne!(c.key, d.key);
        assert_eq!(c.display(), "deployment.apps/web");
        assert_eq!(
            ResolvedTarget::new(resource("", "ReplicationController", true), "x", "r").display(),
            "replicationcontroller/r"
        );
    }
}
