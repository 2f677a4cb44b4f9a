//! Prometheus's scrape endpoint: a registry served as text exposition
//! 0.0.4 by the HTTP server.

use std::sync::Arc;

use http::header::{CONTENT_TYPE, HeaderValue};
use synkit_core::Context;
use synkit_core::metrics::{Registry, prometheus};

use crate::http::server::Service;
use crate::http::{Request, Response};

/// A [`Service`] answering every request with `registry`'s metrics in
/// Prometheus's text format: route it at `GET /metrics`.
///
/// ```
/// use std::sync::Arc;
/// use synkit_core::metrics::Registry;
/// use synkit_transports::export::prometheus::MetricsService;
/// use synkit_transports::http::Method;
/// use synkit_transports::http::server::Router;
///
/// let registry = Arc::new(Registry::new());
/// let router = Router::new().route(Method::GET, "/metrics", MetricsService::new(registry));
/// ```
#[derive(Debug, Clone)]
pub struct MetricsService {
    registry: Arc<Registry>,
}

impl MetricsService {
    /// Serves `registry`.
    pub fn new(registry: Arc<Registry>) -> MetricsService {
        MetricsService { registry }
    }
}

/// Lets the encoder write straight into the response body.
struct Body<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Body<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl Service for MetricsService {
    fn serve(&self, _cx: &Context<'_>, _req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>) {
        let _ = prometheus::encode(&self.registry, &mut Body(resp.body_mut()));
        resp.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(prometheus::CONTENT_TYPE),
        );
    }
}
