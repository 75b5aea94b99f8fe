//! Resolving a resource type (`deploy`, `deployments.apps`, `Deployment.v1.apps`) to the API
//! resource the server serves, through discovery, with a cache.
//!
//! Unlike the reference design, the plural is never guessed: it comes from the server's resource
//! list, and whether a kind can be scaled is read from its `scale` subresource.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::join_all;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::discovery::ApiResource;

use crate::core::error::{Error, Result};
use crate::core::target::TypeSpec;

/// A resource type as the API server serves it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Resource {
    /// API group (`""` for the core group).
    pub group: String,
    /// API version within the group.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Plural resource name, e.g. `deployments`.
    pub plural: String,
    /// Whether objects of this type live in namespaces.
    pub namespaced: bool,
    /// Whether the type has a `scale` subresource.
    pub scalable: bool,
    /// Short names, e.g. `deploy`.
    pub short_names: Vec<String>,
}

impl Resource {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// kube's description of this resource, for `Api::namespaced_with`.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }

    /// A reference to the object `name` of this type (in `namespace` when the type is namespaced),
    /// for Events.
    pub fn object_ref(&self, name: &str, namespace: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some(self.api_version()),
            kind: Some(self.kind.clone()),
            name: Some(name.to_string()),
            namespace: self.namespaced.then(|| namespace.to_string()),
            ..Default::default()
        }
    }

    /// kubectl's name for the type, e.g. `deployments.apps`.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    fn matches(&self, token: &str, singular: &str) -> bool {
        let t = token.to_ascii_lowercase();
        self.plural == t || singular == t || self.kind.eq_ignore_ascii_case(&t) || self.short_names.contains(&t)
    }
}

/// `(group, version)`.
type GroupVersion = (String, String);

#[derive(Debug, Clone)]
struct Group {
    name: String,
    preferred: String,
    versions: Vec<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    resource: Resource,
    singular: String,
}

#[derive(Default)]
struct State {
    groups: Option<Arc<Vec<Group>>>,
    lists: HashMap<GroupVersion, Arc<Vec<Entry>>>,
    resolved: HashMap<TypeSpec, Resource>,
}

/// A discovery cache: group list, per-group-version resource lists and resolved types.
///
/// Resolved types are answered from memory; a miss fetches only what it needs. `reset` drops
/// everything (a CRD was added or its served version changed).
pub struct Discovery {
    client: Client,
    state: Mutex<State>,
    fetching: tokio::sync::Mutex<()>,
}

impl Discovery {
    /// An empty cache that will ask the server behind `client`.
    pub fn new(client: Client) -> Self {
        Discovery { client, state: Mutex::new(State::default()), fetching: tokio::sync::Mutex::new(()) }
    }

    /// Forgets everything discovered so far.
    pub fn reset(&self) {
        *self.state.lock().expect("discovery state poisoned") = State::default();
        tracing::debug!("discovery cache reset");
    }

    fn cached(&self, spec: &TypeSpec) -> Option<Resource> {
        self.state.lock().expect("discovery state poisoned").resolved.get(spec).cloned()
    }

    /// Resolves a type, asking the server only for what the cache does not hold.
    pub async fn resolve(&self, spec: &TypeSpec) -> Result<Resource> {
        if let Some(r) = self.cached(spec) {
            return Ok(r);
        }
        let _guard = self.fetching.lock().await;
        if let Some(r) = self.cached(spec) {
            return Ok(r);
        }
        let found = self.lookup(spec).await?;
        self.state.lock().expect("discovery state poisoned").resolved.insert(spec.clone(), found.clone());
        tracing::debug!(target_type = %spec, resource = %found.qualified_plural(), version = %found.version, "resolved");
        Ok(found)
    }

    /// Resolves like [`resolve`](Self::resolve); on "no match" resets the cache and tries once more.
    pub async fn resolve_fresh_on_miss(&self, spec: &TypeSpec) -> Result<Resource> {
        match self.resolve(spec).await {
            Err(Error::NoMatch(_)) => {
                self.reset();
                self.resolve(spec).await
            }
            other => other,
        }
    }

    /// Every resource type served in a preferred version (subresources left out), core group
    /// first. Group versions that cannot be read (an aggregated API that is down) are skipped.
    pub async fn all(&self) -> Result<Vec<Resource>> {
        let _guard = self.fetching.lock().await;
        let groups = self.groups().await?;
        let lists = join_all(groups.iter().map(|g| self.fetch_list(&g.name, &g.preferred))).await;
        let mut out = Vec::new();
        for (g, list) in groups.iter().zip(lists) {
            match list {
                Ok(entries) => out.extend(entries.iter().map(|e| e.resource.clone())),
                Err(e) => tracing::debug!(group = %g.name, error = %e, "skipping a group version"),
            }
        }
        Ok(out)
    }

    async fn groups(&self) -> Result<Arc<Vec<Group>>> {
        if let Some(g) = self.state.lock().expect("discovery state poisoned").groups.clone() {
            return Ok(g);
        }
        let (core, apis) = tokio::try_join!(self.client.list_core_api_versions(), self.client.list_api_groups())?;
        let mut groups = vec![Group {
            name: String::new(),
            preferred: core.versions.first().cloned().unwrap_or_else(|| "v1".into()),
            versions: core.versions,
        }];
        for g in apis.groups {
            let versions: Vec<String> = g.versions.iter().map(|v| v.version.clone()).collect();
            let preferred = g.preferred_version.map(|p| p.version).or_else(|| versions.first().cloned());
            if let Some(preferred) = preferred {
                groups.push(Group { name: g.name, preferred, versions });
            }
        }
        let groups = Arc::new(groups);
        self.state.lock().expect("discovery state poisoned").groups = Some(groups.clone());
        Ok(groups)
    }

    async fn fetch_list(&self, group: &str, version: &str) -> Result<Arc<Vec<Entry>>> {
        let key = (group.to_string(), version.to_string());
        if let Some(l) = self.state.lock().expect("discovery state poisoned").lists.get(&key).cloned() {
            return Ok(l);
        }
        let list = if group.is_empty() {
            self.client.list_core_api_resources(version).await?
        } else {
            self.client.list_api_group_resources(&format!("{group}/{version}")).await?
        };
        let subresources: Vec<&str> =
            list.resources.iter().map(|r| r.name.as_str()).filter(|n| n.contains('/')).collect();
        let entries: Vec<Entry> = list
            .resources
            .iter()
            .filter(|r| !r.name.contains('/'))
            .map(|r| Entry {
                singular: if r.singular_name.is_empty() {
                    r.kind.to_ascii_lowercase()
                } else {
                    r.singular_name.clone()
                },
                resource: Resource {
                    group: r.group.clone().unwrap_or_else(|| group.to_string()),
                    version: r.version.clone().unwrap_or_else(|| version.to_string()),
                    kind: r.kind.clone(),
                    plural: r.name.clone(),
                    namespaced: r.namespaced,
                    scalable: subresources.contains(&format!("{}/scale", r.name).as_str()),
                    short_names: r.short_names.clone().unwrap_or_default(),
                },
            })
            .collect();
        let entries = Arc::new(entries);
        self.state.lock().expect("discovery state poisoned").lists.insert(key, entries.clone());
        Ok(entries)
    }

    async fn lookup(&self, spec: &TypeSpec) -> Result<Resource> {
        let no_match = || Error::NoMatch(spec.to_string());
        let groups = self.groups().await?;
        // Group versions to search, in priority order: preferred versions first, then the others
        // (a kind may be served only by a group's non-preferred version).
        let (first, then): (Vec<GroupVersion>, Vec<GroupVersion>) = match (&spec.group, &spec.version) {
            (Some(g), v) => {
                let group = groups.iter().find(|x| x.name == *g).ok_or_else(no_match)?;
                match v {
                    Some(v) if group.versions.contains(v) => (vec![(g.clone(), v.clone())], vec![]),
                    Some(_) => return Err(no_match()),
                    None => (
                        vec![(g.clone(), group.preferred.clone())],
                        group
                            .versions
                            .iter()
                            .filter(|v| **v != group.preferred)
                            .map(|v| (g.clone(), v.clone()))
                            .collect(),
                    ),
                }
            }
            (None, _) => {
                // The core group and apps first (kubectl's priority, and the common case: two
                // requests), then every other group's preferred version, then the rest.
                let (built_in, others): (Vec<&Group>, Vec<&Group>) =
                    groups.iter().partition(|g| g.name.is_empty() || g.name == "apps");
                let preferred =
                    |gs: &[&Group]| gs.iter().map(|g| (g.name.clone(), g.preferred.clone())).collect::<Vec<_>>();
                let rest = groups.iter().flat_map(|g| {
                    g.versions.iter().filter(|v| **v != g.preferred).map(|v| (g.name.clone(), v.clone()))
                });
                (preferred(&built_in), preferred(&others).into_iter().chain(rest).collect())
            }
        };
        let mut first_error = None;
        for candidates in [first, then] {
            if candidates.is_empty() {
                continue;
            }
            let lists = join_all(candidates.iter().map(|(g, v)| self.fetch_list(g, v))).await;
            for ((g, v), list) in candidates.iter().zip(lists) {
                match list {
                    Ok(entries) => {
                        if let Some(e) = entries.iter().find(|e| e.resource.matches(&spec.resource, &e.singular)) {
                            return Ok(e.resource.clone());
                        }
                    }
                    Err(e) => {
                        tracing::debug!(group = %g, version = %v, error = %e, "discovery of a group version failed");
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        // When nothing matched and a pinned group version could not be read, say why.
        match first_error {
            Some(e) if spec.group.is_some() && !e.is_not_found() => Err(e),
            _ => Err(no_match()),
        }
    }
}
