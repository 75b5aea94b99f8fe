//! Target references in kubectl's form: `TYPE[.VERSION][.GROUP]/NAME`, or explicit
//! `apiVersion` + `kind` + `name`.

use crate::core::error::{Error, Result};

/// Which resource type a caller means, before discovery has resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TypeSpec {
    /// Plural, singular, short name or kind as written (`deploy`, `deployments`, `Deployment`).
    pub resource: String,
    /// A version when the caller pinned one (`Deployment.v1.apps`, `apps/v1`).
    pub version: Option<String>,
    /// A group when the caller named one; `Some("")` is the core group.
    pub group: Option<String>,
}

/// A scale target: a resource type and an object name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetRef {
    /// The type of the target.
    pub type_spec: TypeSpec,
    /// The object's name.
    pub name: String,
}

fn invalid(target: &str, problem: impl Into<String>) -> Error {
    Error::InvalidTarget { target: target.to_string(), problem: problem.into() }
}

/// True for a Kubernetes API version segment such as `v1`, `v2beta1`, `v1alpha3`.
pub fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else { return false };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let tail = &rest[digits..];
    if tail.is_empty() {
        return true;
    }
    ["alpha", "beta"]
        .iter()
        .any(|p| tail.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

impl TypeSpec {
    /// Parses kubectl's `TYPE[.VERSION][.GROUP]` (`deploy`, `deployments.apps`, `Deployment.v1.apps`).
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() {
            return Err(invalid(s, "the resource type is empty"));
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-')) {
            return Err(invalid(s, format!("the resource type contains {c:?}; expected letters, digits, '.' and '-'")));
        }
        let mut parts = s.splitn(2, '.');
        let resource = parts.next().unwrap_or_default().to_string();
        if resource.is_empty() {
            return Err(invalid(s, "the resource type is empty"));
        }
        let rest = parts.next();
        let (version, group) = match rest {
            None => (None, None),
            Some("") => return Err(invalid(s, "the group after '.' is empty")),
            Some(rest) => {
                let (first, after) = rest.split_once('.').map_or((rest, None), |(a, b)| (a, Some(b)));
                if is_version(first) {
                    (Some(first.to_string()), Some(after.unwrap_or("").to_string()))
                } else {
                    (None, Some(rest.to_string()))
                }
            }
        };
        if let Some(g) = &group
            && !g.is_empty()
            && g.split('.').any(str::is_empty)
        {
            return Err(invalid(s, format!("the group {g:?} has an empty segment")));
        }
        Ok(TypeSpec { resource, version, group })
    }

    /// From an explicit `apiVersion` (`apps/v1`, `v1`) and `kind` (`Deployment`).
    pub fn from_api_version_kind(api_version: &str, kind: &str) -> Result<Self> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        let shown = format!("{api_version}/{kind}");
        if !is_version(&version) {
            return Err(invalid(&shown, format!("{api_version:?} is not an apiVersion like \"apps/v1\" or \"v1\"")));
        }
        if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid(&shown, format!("{kind:?} is not a kind like \"Deployment\"")));
        }
        Ok(TypeSpec { resource: kind.to_string(), version: Some(version), group: Some(group) })
    }
}

impl std::fmt::Display for TypeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.resource)?;
        if let Some(v) = &self.version {
            write!(f, ".{v}")?;
        }
        match &self.group {
            Some(g) if !g.is_empty() => write!(f, ".{g}"),
            _ => Ok(()),
        }
    }
}

/// Checks a DNS-1123 subdomain (object names): lowercase alphanumerics, '-' and '.', at most 253.
pub fn validate_name(target: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid(target, "the name is empty"));
    }
    if name.len() > 253 {
        return Err(invalid(target, format!("the name is {} characters long; at most 253 are allowed", name.len())));
    }
    let ok_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ok_ends =
        name.starts_with(|c: char| c.is_ascii_alphanumeric()) && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !ok_chars || !ok_ends || name.contains("..") {
        return Err(invalid(
            target,
            format!(
                "{name:?} is not a valid object name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// Checks a namespace name (a DNS-1123 label: lowercase alphanumerics and '-', at most 63).
pub fn validate_namespace(ns: &str) -> Result<()> {
    let ok = !ns.is_empty()
        && ns.len() <= 63
        && ns.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && ns.starts_with(|c: char| c.is_ascii_alphanumeric())
        && ns.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            field: "namespace",
            problem: format!("{ns:?} is not a valid namespace name (lowercase letters, digits and '-', at most 63)"),
        })
    }
}

impl TargetRef {
    /// Parses `TYPE[.VERSION][.GROUP]/NAME`.
    pub fn parse(s: &str) -> Result<Self> {
        let Some((ty, name)) = s.split_once('/') else {
            return Err(invalid(s, "expected TYPE/NAME, e.g. \"deployment/web\""));
        };
        if ty.is_empty() {
            return Err(invalid(s, "the resource type before '/' is empty"));
        }
        if name.contains('/') {
            return Err(invalid(s, "expected exactly one '/', as in TYPE/NAME"));
        }
        let type_spec = TypeSpec::parse(ty).map_err(|e| match e {
            Error::InvalidTarget { problem, .. } => invalid(s, problem),
            other => other,
        })?;
        validate_name(s, name)?;
        Ok(TargetRef { type_spec, name: name.to_string() })
    }

    /// From explicit `apiVersion`, `kind` and `name`.
    pub fn from_parts(api_version: &str, kind: &str, name: &str) -> Result<Self> {
        let type_spec = TypeSpec::from_api_version_kind(api_version, kind)?;
        validate_name(&format!("{api_version}/{kind}/{name}"), name)?;
        Ok(TargetRef { type_spec, name: name.to_string() })
    }
}

impl std::fmt::Display for TargetRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.type_spec, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(r: &str, v: Option<&str>, g: Option<&str>) -> TypeSpec {
        TypeSpec { resource: r.into(), version: v.map(Into::into), group: g.map(Into::into) }
    }

    #[test]
    fn parses_kubectl_spellings() {
        assert_eq!(TargetRef::parse("deploy/web").unwrap().type_spec, spec("deploy", None, None));
        assert_eq!(
            TargetRef::parse("deployments.apps/web").unwrap().type_spec,
            spec("deployments", None, Some("apps"))
        );
        assert_eq!(
            TargetRef::parse("Deployment.v1.apps/web").unwrap().type_spec,
            spec("Deployment", Some("v1"), Some("apps"))
        );
        assert_eq!(
            TargetRef::parse("rollouts.argoproj.io/canary").unwrap().type_spec,
            spec("rollouts", None, Some("argoproj.io"))
        );
        assert_eq!(TargetRef::parse("pods.v1/x").unwrap().type_spec, spec("pods", Some("v1"), Some("")));
        assert_eq!(TargetRef::parse("deploy/web").unwrap().name, "web");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "/",
            "deployment/",
            "/web",
            "a/b/c",
            "deploy/we b",
            "deploy/Web",
            "deploy/ünï",
            "deploy/..",
            "deploy/../x",
            "de ploy/x",
            "deployments./x",
            "deployment",
        ] {
            let err = TargetRef::parse(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidTarget { .. }), "{bad:?} -> {err:?}");
        }
        let long = format!("deploy/{}", "a".repeat(300));
        assert!(TargetRef::parse(&long).unwrap_err().to_string().contains("253"));
    }

    #[test]
    fn explicit_parts() {
        let t = TargetRef::from_parts("apps/v1", "Deployment", "web").unwrap();
        assert_eq!(t.type_spec, spec("Deployment", Some("v1"), Some("apps")));
        assert_eq!(
            TargetRef::from_parts("v1", "ReplicationController", "x").unwrap().type_spec.group.as_deref(),
            Some("")
        );
        assert!(TargetRef::from_parts("apps", "Deployment", "web").is_err());
        assert!(TargetRef::from_parts("apps/v1", "", "web").is_err());
    }

    #[test]
    fn versions() {
        for v in ["v1", "v2beta1", "v1alpha3", "v10"] {
            assert!(is_version(v), "{v}");
        }
        for v in ["v", "apps", "v1beta", "vbeta1", "v1gamma1"] {
            assert!(!is_version(v), "{v}");
        }
    }

    #[test]
    fn namespaces() {
        assert!(validate_namespace("team-a").is_ok());
        for bad in ["", "A", "a_b", "-a", &"a".repeat(64)] {
            assert!(validate_namespace(bad).is_err(), "{bad}");
        }
    }
}
