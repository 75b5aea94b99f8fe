//! Installing the CRDs kubescale's loop needs (ElastiService), idempotently.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};

use crate::core::elasti::controller::Controller;
use crate::core::error::{Error, Result};
use crate::core::unread;

/// Field manager of kubescale's server-side applies.
pub const FIELD_MANAGER: &str = "kubescale";

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

impl Controller {
    /// Applies the ElastiService CRD (server-side apply, so a second call changes nothing) and
    /// waits until it is established. Returns the names of the CRDs applied.
    pub async fn install_crds(&self) -> Result<Vec<String>> {
        self.check_open()?;
        let api: Api<CustomResourceDefinition> = Api::all(self.handler.client().clone());
        let crd = crate::core::elasti::resource::crd();
        let name = crd.metadata.name.clone().unwrap_or_default();
        let pp = PatchParams::apply(FIELD_MANAGER).force();
        unread::patch(self.handler.client(), api.resource_url(), &name, &pp, &Patch::Apply(&crd)).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if established(&api.get(&name).await?) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::unavailable(format!("CRD {name} was not established within 30s")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.handler.reset_discovery();
        tracing::info!(crd = %name, "CRD applied");
        Ok(vec![name])
    }
}
