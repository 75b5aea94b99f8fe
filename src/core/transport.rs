//! The HTTP transport to the API server: HTTP/2 where the server offers it (ALPN), so that all
//! calls of a handler share one multiplexed connection, as client-go does; HTTP/1.1 otherwise.
//! kube 5 builds HTTP/1.1-only connectors, so the stack is assembled here from kube's own layers
//! (base URI, authentication, extra headers) around a hyper client.

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::ConfigExt;
use kube::{Client, Config};
use tower::ServiceBuilder;

use crate::core::error::{Error, Result};
use crate::core::fence::Fencing;
use crate::core::metrics::CountRequests;
use crate::core::throttle::{Limits, Throttle};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A client for `config`: HTTP/2 over TLS when the server agrees, with kube's timeouts,
/// authentication and headers, `limits` and 429 retries (`throttle.rs`), writes fenced by the
/// caller's Lease, if it runs in one, after any wait for the limit (`fence.rs`), and every request
/// (each attempt) counted in the metrics. A proxy in the
/// configuration keeps kube's own (HTTP/1.1) stack, which knows proxies.
pub fn client(config: Config, limits: &Limits) -> Result<Client> {
    let fail = |what: &str, e: kube::Error| Error::config_from(what, e);
    if config.proxy_url.is_some() || config.cluster_url.scheme_str() != Some("https") {
        return Ok(kube::client::ClientBuilder::try_from(config)
            .map_err(|e| fail("cannot build a client", e))?
            .with_layer(&CountRequests)
            // kube's stack is not `Clone`; a buffer makes it so, for 429 retries.
            .with_layer(&tower::buffer::BufferLayer::new(1024))
            .with_layer(&Fencing)
            .with_layer(&Throttle(limits.clone()))
            .build());
    }
    let default_ns = config.default_namespace.clone();
    // hyper-rustls offers h2 and http/1.1 by ALPN (enable_http2/enable_http1 below).
    let tls = config.rustls_client_config().map_err(|e| fail("cannot set up TLS", e))?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // Small frames of several streams share one connection: TCP_NODELAY keeps Nagle's algorithm
    // and delayed ACKs from holding a request's last frame.
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    let hyper_client: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Builder::new(TokioExecutor::new()).build(connector);
    let auth = config.auth_layer().map_err(|e| fail("cannot set up authentication", e))?;
    let headers = config.extra_headers_layer().map_err(|e| fail("cannot set up headers", e))?;
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(auth)
        .layer(headers)
        .layer(Throttle(limits.clone()))
        .layer(Fencing)
        .layer(CountRequests)
        .map_err(BoxError::from)
        .service(hyper_client);
    Ok(Client::new(service, default_ns))
}
