//! Scaling a fleet: many targets in one call, as `kubectl scale` takes them: several `TYPE/NAME`
//! references, or a type with a label selector (every object of the type without one), in one
//! namespace or in every namespace the handler may see.
//!
//! - Everything a caller can get wrong is checked before any write: the count, the
//!   precondition, the namespaces, every type (resolved through discovery), the selector (the
//!   API server parses it: a LIST it refuses is an [`Error::InvalidValue`] naming it).
//! - A type is listed once per namespace (or once for all), 500 objects a page. A listed target
//!   that already has the count asked for costs nothing more; the others cost one write each,
//!   testing the listed count as every write does (a count changed since is read again).
//! - Each target ends in its own [`FleetEntry`]: a failure (RBAC, a target deleted since the
//!   LIST, a precondition) never stops the others. The handler's `concurrency` bounds the
//!   writes at once; the per-target locks still serialise calls on one target.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::ListParams;

use crate::core::discovery::Resource;
use crate::core::error::{Error, Result};
use crate::core::scale::cache::Seen;
use crate::core::scale::handler::ScaleHandler;
use crate::core::scale::intent::Intent;
use crate::core::scale::listed_counts::scale_count_at;
use crate::core::scale::operations::{ScaleResult, check_replicas};
use crate::core::scale::resolved::ResolvedTarget;
use crate::core::scale::write::Base;
use crate::core::target::{TargetRef, TypeSpec};

/// What a fleet call acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fleet {
    /// These targets, by reference, in the call's namespace.
    Named(Vec<TargetRef>),
    /// The objects of a type that match a label selector (every one with `None`).
    OfType {
        /// The type, as kubectl takes it (`deployments`, `statefulsets.apps`, a CRD's plural).
        type_spec: TypeSpec,
        /// A label selector (`team=search,tier!=web`), as kubectl's `-l`.
        selector: Option<String>,
    },
}

impl Fleet {
    /// The fleet a caller names: `TYPE/NAME` references, or one type (with an optional
    /// `selector`).
    ///
    /// Raises:
    ///     [`Error::InvalidValue`] with no target, or a selector beside references;
    ///     [`Error::InvalidTarget`] for a reference or type that does not parse.
    pub fn parse(targets: &[String], selector: Option<&str>) -> Result<Fleet> {
        match targets {
            [] => Err(Error::InvalidValue {
                field: "targets",
                problem: "no target: give TYPE/NAME references, or a type such as \"deployments\"".into(),
            }),
            [one] if !one.contains('/') => {
                Ok(Fleet::OfType { type_spec: TypeSpec::parse(one)?, selector: selector.map(str::to_string) })
            }
            refs => {
                if selector.is_some() {
                    return Err(Error::InvalidValue {
                        field: "selector",
                        problem: "a selector chooses objects of a type (\"deployments\"), not TYPE/NAME references"
                            .into(),
                    });
                }
                Ok(Fleet::Named(refs.iter().map(|r| TargetRef::parse(r)).collect::<Result<_>>()?))
            }
        }
    }
}

/// Where a fleet call looks: one namespace (the handler's default with `None`), or every
/// namespace the handler may see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    /// The namespace; `None`: the handler's default.
    pub namespace: Option<String>,
    /// Every namespace the handler may see (its watch namespace, when it has one).
    pub all: bool,
}

impl Namespaces {
    fn check(&self) -> Result<()> {
        if self.all && self.namespace.is_some() {
            return Err(Error::InvalidValue {
                field: "all_namespaces",
                problem: "give a namespace or all_namespaces, not both".into(),
            });
        }
        Ok(())
    }
}

/// One target of a fleet call, and how it ended.
#[derive(Debug)]
pub struct FleetEntry {
    /// The target as kubectl names it (`deployment.apps/web`); for a namespace that could not
    /// be listed, the type's plural.
    pub target: String,
    /// Its namespace (empty for a cluster-scoped kind).
    pub namespace: String,
    /// What was done, or why it failed.
    pub outcome: Result<ScaleResult>,
    /// Why the target was left alone on purpose, when it was (held by an ElastiService, nothing
    /// remembered to wake it to, scaled by someone while asleep).
    pub skipped: Option<String>,
}

impl FleetEntry {
    /// A target that already has what was asked: unchanged at `count`, for `why`.
    pub(crate) fn unchanged(t: &ResolvedTarget, count: i32, why: String) -> FleetEntry {
        let result = ScaleResult { target: t.display(), previous: count, replicas: count, changed: false, reason: why };
        FleetEntry { target: t.display(), namespace: t.namespace.clone(), outcome: Ok(result), skipped: None }
    }

    /// A target left alone on purpose: unchanged at `count`, for `why`.
    pub(crate) fn skipped(t: &ResolvedTarget, count: i32, why: String) -> FleetEntry {
        FleetEntry { skipped: Some(why.clone()), ..FleetEntry::unchanged(t, count, why) }
    }
}

/// An object a fleet LIST found.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    /// The object as a target.
    pub target: ResolvedTarget,
    /// Its desired count as its scale shows it (`None`: where the type keeps it is unknown).
    pub count: Option<i32>,
    /// The object's resourceVersion (its scale's).
    pub resource_version: String,
    /// The object's uid.
    pub uid: Option<String>,
    /// The object's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// What the LISTs of a fleet found: the objects, and the namespaces that could not be listed
/// (RBAC), each with its error.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub listed: Vec<Listed>,
    pub failed: Vec<(String, Error)>,
}

impl Found {
    /// An entry per namespace that could not be listed.
    pub fn failed_entries(&mut self, resource: &Resource) -> Vec<FleetEntry> {
        std::mem::take(&mut self.failed)
            .into_iter()
            .map(|(namespace, e)| FleetEntry {
                target: resource.plural.clone(),
                namespace,
                outcome: Err(e),
                skipped: None,
            })
            .collect()
    }
}

/// A LIST's refusal of a label selector, as an error naming it.
fn selector_error(selector: Option<&str>, e: Error) -> Error {
    match (selector, &e) {
        (Some(s), Error::Api { status: 400, message, .. }) => {
            Error::InvalidValue { field: "selector", problem: format!("{s:?} is not a label selector: {message}") }
        }
        _ => e,
    }
}

impl ScaleHandler {
    /// The one namespace a fleet call looks in, or `None` for all of them: `all` means the
    /// handler's watch namespace when it has one.
    pub(crate) fn fleet_scope(&self, namespaces: &Namespaces) -> Result<Option<String>> {
        namespaces.check()?;
        match (namespaces.all, self.watch_namespace()) {
            (true, None) => Ok(None),
            (true, Some(w)) => Ok(Some(w.to_string())),
            (false, _) => Ok(Some(self.namespace_for(namespaces.namespace.as_deref())?)),
        }
    }

    /// The objects of `resource` in `namespaces` that match `selector`, a page at a time. A
    /// LIST of every namespace that RBAC refuses is made namespace by namespace (those this
    /// identity may list); a namespace whose LIST is refused is reported in [`Found::failed`].
    pub(crate) async fn list_fleet(
        &self,
        resource: &Resource,
        namespaces: &Namespaces,
        selector: Option<&str>,
    ) -> Result<Found> {
        let scope = if resource.namespaced { self.fleet_scope(namespaces)? } else { None };
        let path = self.spec_replicas_path(resource).await;
        let path = path.as_deref();
        let mut found = Found::default();
        match self.list_all(resource, scope.as_deref(), selector, path).await {
            Ok(listed) => found.listed = listed,
            Err(e) if e.status() == Some(403) && scope.is_none() && resource.namespaced => {
                let all: Api<Namespace> = Api::all(self.client.clone());
                for ns in all.list(&ListParams::default()).await?.items {
                    let ns = ns.metadata.name.unwrap_or_default();
                    match self.list_all(resource, Some(&ns), selector, path).await {
                        Ok(listed) => found.listed.extend(listed),
                        Err(e) if e.status() == Some(403) => found.failed.push((ns, e)),
                        Err(e) => return Err(selector_error(selector, e)),
                    }
                }
            }
            Err(e) if e.status() == Some(403) => found.failed.push((scope.unwrap_or_default(), e)),
            Err(e) => return Err(selector_error(selector, e)),
        }
        Ok(found)
    }

    /// Every object of one LIST: in `namespace`, or in all of them with `None`.
    async fn list_all(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        selector: Option<&str>,
        count_path: Option<&str>,
    ) -> Result<Vec<Listed>> {
        let params = match selector {
            Some(s) => ListParams::default().labels(s),
            None => ListParams::default(),
        };
        let mut out = Vec::new();
        self.each_listed(resource, namespace, params, |obj| {
            let ns = obj.metadata.namespace.clone().unwrap_or_default();
            let name = obj.metadata.name.clone().unwrap_or_default();
            out.push(Listed {
                target: ResolvedTarget::new(resource.clone(), &ns, &name),
                count: count_path.map(|p| scale_count_at(&obj.data, p).unwrap_or(0)),
                resource_version: obj.metadata.resource_version.unwrap_or_default(),
                uid: obj.metadata.uid,
                annotations: obj.metadata.annotations.unwrap_or_default(),
            });
        })
        .await?;
        Ok(out)
    }

    /// Sets the desired count of every target of `fleet` (see the module doc); with
    /// `current_replicas`, a target whose count is another is refused with
    /// [`Error::Precondition`] and the others go on. One entry per target; an empty fleet (a
    /// selector that matches nothing) is an empty result.
    ///
    /// Raises:
    ///     What the caller got wrong, before anything is written: a negative count, a
    ///     namespace and `all` together, `all` with references, an unknown or unscalable type,
    ///     a selector the API server does not parse.
    pub async fn scale_all(
        &self,
        fleet: &Fleet,
        replicas: i32,
        namespaces: &Namespaces,
        current_replicas: Option<i32>,
        dry_run: bool,
    ) -> Result<Vec<FleetEntry>> {
        self.check_open()?;
        check_replicas(replicas.into())?;
        if let Some(n) = current_replicas.filter(|n| *n < 0) {
            return Err(Error::InvalidValue { field: "current_replicas", problem: format!("{n} is negative") });
        }
        namespaces.check()?;
        let intent = Intent::Set { replicas, at_least: false, if_current: current_replicas };
        match fleet {
            Fleet::Named(refs) => {
                if namespaces.all {
                    return Err(Error::InvalidValue {
                        field: "all_namespaces",
                        problem: "all namespaces need a type (\"deployments\"), not TYPE/NAME references".into(),
                    });
                }
                let ns = self.namespace_for(namespaces.namespace.as_deref())?;
                let mut targets = Vec::with_capacity(refs.len());
                for r in refs {
                    targets.push(ResolvedTarget::new(self.resolve_scalable(&r.type_spec).await?, &ns, &r.name));
                }
                let entries = targets.iter().map(|t| async move {
                    let outcome = self.converge_locked(t, intent, dry_run).await;
                    FleetEntry { target: t.display(), namespace: t.namespace.clone(), outcome, skipped: None }
                });
                Ok(futures::future::join_all(entries).await)
            }
            Fleet::OfType { type_spec, selector } => {
                let resource = self.resolve_scalable(type_spec).await?;
                let mut found = self.list_fleet(&resource, namespaces, selector.as_deref()).await?;
                let mut entries = found.failed_entries(&resource);
                let scaled = found.listed.iter().map(|l| self.scale_listed(l, intent, dry_run));
                entries.extend(futures::future::join_all(scaled).await);
                Ok(entries)
            }
        }
    }

    /// One listed target brought to `intent`: answered from its listed count when it already
    /// has what is asked (or fails the precondition), else written on top of that count.
    pub(crate) async fn scale_listed(&self, l: &Listed, intent: Intent, dry_run: bool) -> FleetEntry {
        let t = &l.target;
        let entry =
            |outcome| FleetEntry { target: t.display(), namespace: t.namespace.clone(), outcome, skipped: None };
        if let Some(count) = l.count.filter(|_| !dry_run) {
            if let Some(expected) = intent.required().filter(|n| *n != count) {
                return entry(Err(Error::Precondition { target: t.display(), expected, actual: count }));
            }
            let desired = intent.desired(count, None);
            if !intent.restores_at(count)
                && let Some(reason) = intent.satisfied(count, desired)
            {
                return FleetEntry::unchanged(t, count, reason);
            }
            let base = Base { replicas: (count != 0).then_some(count), resource_version: l.resource_version.clone() };
            self.seen.put(&t.key, Seen { base, uid: l.uid.clone() });
        }
        entry(self.converge_locked(t, intent, dry_run).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_fleet_is_references_or_one_type() {
        let t = Fleet::parse(&refs(&["deployments"]), Some("team=search")).unwrap();
        assert_eq!(
            t,
            Fleet::OfType { type_spec: TypeSpec::parse("deployments").unwrap(), selector: Some("team=search".into()) }
        );
        let all = Fleet::parse(&refs(&["statefulsets.apps"]), None).unwrap();
        assert!(matches!(all, Fleet::OfType { selector: None, .. }));
        let named = Fleet::parse(&refs(&["deploy/a", "sts/b"]), None).unwrap();
        assert!(matches!(named, Fleet::Named(ref r) if r.len() == 2 && r[1].name == "b"));
        // (targets, selector, the field or kind of the error)
        let bad: [(&[&str], Option<&str>, &str); 4] = [
            (&[], None, "targets"),
            (&["deploy/a"], Some("x=y"), "selector"),
            (&["deploy/a", "nope"], None, "invalid target"),
            (&["deploy$"], None, "invalid target"),
        ];
        for (targets, selector, what) in bad {
            let e = Fleet::parse(&refs(targets), selector).unwrap_err();
            let said = match &e {
                Error::InvalidValue { field, .. } => field.to_string(),
                Error::InvalidTarget { .. } => "invalid target".into(),
                other => format!("{other:?}"),
            };
            assert_eq!(said, what, "{targets:?} {selector:?}: {e}");
        }
    }

    #[test]
    fn a_namespace_and_all_namespaces_exclude_each_other() {
        assert!(Namespaces { namespace: Some("a".into()), all: true }.check().is_err());
        assert!(Namespaces { namespace: None, all: true }.check().is_ok());
        assert!(Namespaces::default().check().is_ok());
    }

    #[test]
    fn a_refused_selector_is_named() {
        let refused =
            Error::Api { status: 400, reason: "BadRequest".into(), message: "unable to parse requirement".into() };
        let e = selector_error(Some("a=b=c"), refused);
        assert!(
            matches!(&e, Error::InvalidValue { field: "selector", problem } if problem.contains("\"a=b=c\"")),
            "{e}"
        );
        let other = Error::Api { status: 500, reason: "InternalError".into(), message: "x".into() };
        assert!(matches!(selector_error(Some("a"), other), Error::Api { status: 500, .. }));
    }
}
