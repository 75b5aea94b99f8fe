//! Desired counts learned from LISTs: a new owner of many targets (a restart, a new leader, shards
//! taken over) reads their counts from a few paginated LISTs of their types instead of one GET
//! of the `scale` subresource each.
//!
//! [`ScaleHandler::each_listed`] is the one paginated LIST of a type, which fleet calls use too.
//!
//! An object's `resourceVersion` is its scale's, so a count read from the object at version R is
//! remembered exactly as a read of the scale at R ([`Seen`]): it is used only while the type's
//! watch shows the object at R, and a write still tests the count it compared.

use std::collections::HashSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DynamicObject, ListParams};

use crate::core::discovery::Resource;
use crate::core::error::Result;
use crate::core::scale::cache::Seen;
use crate::core::scale::handler::ScaleHandler;
use crate::core::scale::resolved::target_key;
use crate::core::scale::write::Base;

/// Objects per LIST page: bounded memory whatever the number of targets.
const PAGE: u32 = 500;

/// Where the built-in scalable kinds keep their desired count.
fn builtin_path(resource: &Resource) -> Option<&'static str> {
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("apps", "Deployment" | "StatefulSet" | "ReplicaSet") | ("", "ReplicationController") => Some(".spec.replicas"),
        _ => None,
    }
}

/// The count at `path` (a CRD's `specReplicasPath`, e.g. `.spec.replicas`) of an object's
/// JSON, as its scale subresource shows it: `None` when absent or 0 (the scale omits a zero
/// count, and a write tests the count as the scale shows it), or when the value is not a count.
pub(crate) fn scale_count_at(data: &serde_json::Value, path: &str) -> Option<i32> {
    let mut v = data;
    for part in path.trim_start_matches('.').split('.') {
        v = v.get(part)?;
    }
    v.as_i64().and_then(|n| i32::try_from(n).ok()).filter(|n| *n != 0)
}

impl ScaleHandler {
    /// Where objects of `resource` keep their desired count: `.spec.replicas` for the built-in
    /// kinds, the CRD's `specReplicasPath` for a custom one; `None` when it cannot be known
    /// (the CRD cannot be read), and then counts are read one by one as before.
    pub(crate) async fn spec_replicas_path(&self, resource: &Resource) -> Option<String> {
        if let Some(p) = builtin_path(resource) {
            return Some(p.to_string());
        }
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let crd = match crds.get(&format!("{}.{}", resource.plural, resource.group)).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(resource = %resource.plural, error = %e, "cannot read the CRD; counts are read one by one");
                return None;
            }
        };
        crd.spec
            .versions
            .iter()
            .find(|v| v.name == resource.version)
            .and_then(|v| v.subresources.as_ref()?.scale.as_ref())
            .map(|s| s.spec_replicas_path.clone())
    }

    /// Learns the desired count of each of `targets` (`(namespace, name)` of objects of
    /// `resource`) from paginated LISTs of the type in the handler's scope, and remembers each
    /// as a read of its scale would. Returns how many were learned; a type whose count cannot
    /// be located learns none.
    ///
    /// Raises:
    ///     The LIST's error (the caller falls back to reading each target).
    pub(crate) async fn learn_counts(&self, resource: &Resource, targets: &HashSet<(String, String)>) -> Result<usize> {
        if targets.is_empty() {
            return Ok(0);
        }
        let Some(path) = self.spec_replicas_path(resource).await else { return Ok(0) };
        let mut learned = 0;
        let scope = if resource.namespaced { self.watch_namespace() } else { None };
        self.each_listed(resource, scope, ListParams::default(), |obj| {
            let namespace = obj.metadata.namespace.clone().unwrap_or_default();
            let name = obj.metadata.name.clone().unwrap_or_default();
            let Some(resource_version) = obj.metadata.resource_version.clone() else { return };
            if !targets.contains(&(namespace.clone(), name.clone())) {
                return;
            }
            let base = Base { replicas: scale_count_at(&obj.data, &path), resource_version };
            let key = target_key(resource, &namespace, &name);
            self.seen.put(&key, Seen { base, uid: obj.metadata.uid.clone() });
            learned += 1;
        })
        .await?;
        Ok(learned)
    }
}

impl ScaleHandler {
    /// Every object of `resource` in `namespace` (every namespace with `None`) that `params`
    /// selects, handed to `each` as its page arrives: a page ([`PAGE`] objects) is dropped
    /// before the next is asked for.
    pub(crate) async fn each_listed(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        params: ListParams,
        mut each: impl FnMut(DynamicObject),
    ) -> Result<()> {
        let ar = resource.api_resource();
        let api: Api<DynamicObject> = match namespace {
            Some(ns) if resource.namespaced => Api::namespaced_with(self.client.clone(), ns, &ar),
            _ => Api::all_with(self.client.clone(), &ar),
        };
        let mut params = params.limit(PAGE);
        loop {
            let page = api.list(&params).await?;
            page.items.into_iter().for_each(&mut each);
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_at_a_path_as_the_scale_shows_them() {
        let obj = json!({"spec": {"replicas": 3, "nested": {"count": 7}}, "status": {"replicas": 2}});
        assert_eq!(scale_count_at(&obj, ".spec.replicas"), Some(3));
        assert_eq!(scale_count_at(&obj, ".spec.nested.count"), Some(7));
        assert_eq!(scale_count_at(&obj, "spec.replicas"), Some(3), "a path without the leading dot");
        assert_eq!(scale_count_at(&obj, ".spec.missing"), None, "absent: the scale says 0");
        assert_eq!(scale_count_at(&json!({"spec": {"replicas": 0}}), ".spec.replicas"), None, "the scale omits 0");
        let text = json!({"spec": {"replicas": "3"}});
        assert_eq!(scale_count_at(&text, ".spec.replicas"), None, "not a count");
        let huge = json!({"spec": {"replicas": 1u64 << 40}});
        assert_eq!(scale_count_at(&huge, ".spec.replicas"), None, "too large");
    }

    #[test]
    fn builtin_kinds_keep_the_count_in_spec_replicas() {
        let r = |group: &str, kind: &str| Resource {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            plural: String::new(),
            namespaced: true,
            scalable: true,
            short_names: Vec::new(),
        };
        assert_eq!(builtin_path(&r("apps", "Deployment")), Some(".spec.replicas"));
        assert_eq!(builtin_path(&r("apps", "StatefulSet")), Some(".spec.replicas"));
        assert_eq!(builtin_path(&r("", "ReplicationController")), Some(".spec.replicas"));
        assert_eq!(builtin_path(&r("argoproj.io", "Rollout")), None, "a CRD: its specReplicasPath");
    }
}
