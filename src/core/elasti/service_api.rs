//! The ElastiService API in one place: its `Api` (in a namespace, over the handler's watch
//! scope, in every namespace), one read by name, its objects decoded, a reference to one for Events, and the KEDA
//! ScaledObject one names.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{ApiResource, DynamicObject};

use crate::core::elasti::controller::Controller;
use crate::core::elasti::resource::{
    AutoscalerSpec, AutoscalerType, ElastiService, ElastiServiceSpec, ElastiServiceStatus,
};
use crate::core::error::{Error, Result};

/// The ElastiService API resource.
pub(crate) fn api_resource() -> ApiResource {
    ApiResource::erase::<ElastiService>(&())
}

/// The ElastiService in an object, or why it cannot be read.
pub(crate) fn decode(obj: &DynamicObject) -> std::result::Result<ElastiService, serde_json::Error> {
    use serde::Deserialize as _;
    // From the object's JSON in place (no copy of it): a pass decodes every service.
    let null = serde_json::Value::Null;
    let spec = ElastiServiceSpec::deserialize(obj.data.get("spec").unwrap_or(&null))?;
    let status = match obj.data.get("status") {
        Some(v) if !v.is_null() => Some(ElastiServiceStatus::deserialize(v)?),
        _ => None,
    };
    Ok(ElastiService { metadata: obj.metadata.clone(), spec, status })
}

/// A reference to an ElastiService (decoded or not), for Events.
pub(crate) fn reference_to(meta: &ObjectMeta) -> ObjectReference {
    ObjectReference {
        api_version: Some("elasti.truefoundry.com/v1alpha1".into()),
        kind: Some("ElastiService".into()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        ..Default::default()
    }
}

/// The KEDA ScaledObject the service names, if it names one.
pub(crate) fn keda_of(es: &ElastiService) -> Option<&AutoscalerSpec> {
    es.spec.autoscaler.as_ref().filter(|a| a.type_ == AutoscalerType::Keda)
}

impl Controller {
    /// The ElastiServices of `namespace`.
    pub(crate) fn services_in(&self, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.handler.client().clone(), namespace, &api_resource())
    }

    /// The ElastiServices of `namespace`, or of every namespace with `None`.
    pub(crate) fn services_of(&self, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => self.services_in(ns),
            None => Api::all_with(self.handler.client().clone(), &api_resource()),
        }
    }

    /// The ElastiService `name` of `namespace` (the handler's default with `None`), read and
    /// decoded, with its namespace.
    ///
    /// Raises:
    ///     [`Error::InvalidValue`] for a bad name or an object that cannot be read as an
    ///     ElastiService; the API's error (`NotFound`, ...) for the read.
    pub(crate) async fn service_named(&self, name: &str, namespace: Option<&str>) -> Result<(String, ElastiService)> {
        crate::core::target::validate_name(&format!("elastiservice/{name}"), name)?;
        let ns = self.handler.namespace_for(namespace)?;
        let es = decode(&self.services_in(&ns).get(name).await?).map_err(|e| Error::InvalidValue {
            field: "spec",
            problem: format!("the ElastiService {ns}/{name} cannot be read: {e}"),
        })?;
        Ok((ns, es))
    }

    /// The ElastiServices the loop works on: the handler's watch namespace, or every namespace.
    pub(crate) fn services_watched(&self) -> Api<DynamicObject> {
        self.services_of(self.handler.watch_namespace())
    }
}
