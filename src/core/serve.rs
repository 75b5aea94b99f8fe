//! The small HTTP server of a running loop: `/metrics` (kubescale's metrics, OpenMetrics
//! text), `/healthz` (the process and its runtime answer) and `/readyz` (the API server answered
//! within the last 30 s, or answers a `/version` request now; leader or follower alike).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::core::elasti::controller::Controller;
use crate::core::error::{Error, Result};
use crate::core::metrics::metrics;

/// The content type of the exposition text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How recent an answer of the API server keeps `/readyz` green without asking again.
const FRESH: Duration = Duration::from_secs(30);

/// Binds `address` (`host:port`; port 0 picks a free one) and serves until the controller is
/// closed; returns the bound address.
pub async fn serve(address: &str, controller: Arc<Controller>) -> Result<SocketAddr> {
    let listener = TcpListener::bind(address).await.map_err(|e| Error::InvalidValue {
        field: "metrics_bind_address",
        problem: format!("cannot listen on {address:?}: {e}"),
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Unavailable { message: "cannot read the bound address".into(), source: Some(e.into()) })?;
    tracing::info!(address = %bound, "serving /metrics, /healthz and /readyz");
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = controller.shut_down() => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else { continue };
            let controller = controller.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| respond(req, controller.clone()));
                if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                    tracing::debug!(error = %e, "metrics connection ended");
                }
            });
        }
    });
    Ok(bound)
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a well-formed response")
}

async fn respond<B>(
    req: Request<B>,
    controller: Arc<Controller>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    Ok(match req.uri().path() {
        "/metrics" => text(StatusCode::OK, OPENMETRICS, metrics().encode()),
        "/healthz" => text(StatusCode::OK, PLAIN, "ok\n".into()),
        "/readyz" => {
            if ready(&controller).await {
                text(StatusCode::OK, PLAIN, "ok\n".into())
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, "the API server does not answer\n".into())
            }
        }
        _ => text(StatusCode::NOT_FOUND, PLAIN, "not found: try /metrics, /healthz or /readyz\n".into()),
    })
}

/// Ready: not closed, and the API server answered lately or answers now.
async fn ready(controller: &Controller) -> bool {
    if controller.handler().is_closed() {
        return false;
    }
    if metrics().api_answered_within(FRESH) {
        return true;
    }
    let version = controller.handler().client().apiserver_version();
    matches!(tokio::time::timeout(Duration::from_secs(5), version).await, Ok(Ok(_)))
}
