//! Writes whose answer is checked, not decoded.
//!
//! The API server answers a create or a patch with the whole object, managed fields and all.
//! Where nothing reads that object (an Event, a finalizer, a status field, a KEDA annotation), a
//! write here checks the answer's status, so an API error maps to [`Error`] as any other (a 404
//! is still [`Error::is_not_found`], a 409 a conflict), and leaves its body undecoded.

use kube::Client;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::Request;
use serde::Serialize;

use crate::core::error::{Error, Result};

/// Creates an object in the collection at `collection` (a resource URL path, as
/// `Api::resource_url` gives it).
pub(crate) async fn create(client: &Client, collection: &str, object: &impl Serialize) -> Result<()> {
    let body = serde_json::to_vec(object).map_err(kube::Error::SerdeError)?;
    let request = Request::new(collection).create(&PostParams::default(), body).map_err(kube::Error::BuildRequest)?;
    send(client, request).await
}

/// Patches object `name` of the collection at `collection`.
pub(crate) async fn patch<P: Serialize>(
    client: &Client,
    collection: &str,
    name: &str,
    params: &PatchParams,
    patch: &Patch<P>,
) -> Result<()> {
    let request = Request::new(collection).patch(name, params, patch).map_err(kube::Error::BuildRequest)?;
    send(client, request).await
}

/// Patches the `status` subresource of object `name` of the collection at `collection`.
pub(crate) async fn patch_status<P: Serialize>(
    client: &Client,
    collection: &str,
    name: &str,
    patch: &Patch<P>,
) -> Result<()> {
    let request = Request::new(collection)
        .patch_subresource("status", name, &PatchParams::default(), patch)
        .map_err(kube::Error::BuildRequest)?;
    send(client, request).await
}

async fn send(client: &Client, request: http::Request<Vec<u8>>) -> Result<()> {
    client.request_text(request).await.map(drop).map_err(Error::from)
}
