//! Go kit's stringsvc3: a string service that proxies `uppercase` to other
//! stringsvc instances found by service discovery — each instance behind
//! its own circuit breaker and rate limiter, round robin over the live set,
//! retried within a time budget (`synkit_core::sd` and `synkit_core::lb`,
//! as Go kit's stringsvc3 uses `sd` and `sd/lb`). `count` stays local.
//!
//! Go kit's numbers: 100 calls a second per instance, 3 attempts, 250 ms in
//! all; gobreaker's default trip (more than 5 failures in a row) and 60 s
//! open.

use std::sync::Arc;
use std::time::Duration;

use synkit_core::breaker::{BreakerLayer, CircuitBreaker, ConsecutiveFailures, Settings, State};
use synkit_core::endpoint::BoxEndpoint;
use synkit_core::lb::{Retry, RoundRobin};
use synkit_core::ratelimit::{ErroringLimiterLayer, Rate, TokenBucket};
use synkit_core::sd::{DiscoveryError, Endpointer, Instancer};
use synkit_core::time::SystemClock;
use synkit_core::{Context, Endpoint, Error};
use synkit_transports::http::Method;
use synkit_transports::http::client::{
    Client, ClientError, decode_json_response, encode_json_request,
};
use synkit_transports::http::trace::ClientTrace;

use super::endpoints::UppercaseRequest;
use super::transport::UppercaseReply;
use super::{StringError, StringService};

/// Calls per second each instance is allowed (Go kit's `qps`).
pub const QPS: u32 = 100;
/// Attempts per request before giving up (Go kit's `maxAttempts`).
pub const MAX_ATTEMPTS: usize = 3;
/// Time per request across all attempts (Go kit's `maxTime`).
pub const MAX_TIME: Duration = Duration::from_millis(250);

type Breaker = CircuitBreaker<ConsecutiveFailures, SystemClock>;

/// `uppercase` on one instance: its client behind a breaker and a limiter.
pub struct Instance {
    address: String,
    breaker: Arc<Breaker>,
    endpoint: BoxEndpoint<UppercaseRequest, UppercaseReply, ClientError>,
}

impl Endpoint<UppercaseRequest> for Instance {
    type Response = UppercaseReply;
    type Error = ClientError;

    fn call(&self, cx: &Context<'_>, req: UppercaseRequest) -> Result<UppercaseReply, ClientError> {
        self.endpoint.call(cx, req)
    }
}

/// The factory: an instance string (`host:port`) to its endpoint, Go
/// kit's `proxyingMiddleware` factory.
pub fn factory(address: &str) -> Result<Instance, DiscoveryError> {
    traced_factory(address, None)
}

/// The factory, with every call traced as a client span when `tracer` is
/// given.
pub fn traced_factory(
    address: &str,
    tracer: Option<Arc<dyn ClientTrace>>,
) -> Result<Instance, DiscoveryError> {
    let url = format!("http://{address}/uppercase")
        .parse()
        .map_err(|e| DiscoveryError::new(format_args!("bad instance address {address:?}: {e}")))?;
    let mut client = Client::new(
        Method::POST,
        url,
        encode_json_request::<UppercaseRequest, ClientError>,
        decode_json_response::<UppercaseReply, ClientError>,
    );
    if let Some(tracer) = tracer {
        client = client.traced(tracer);
    }
    let breaker = Arc::new(CircuitBreaker::new(
        ConsecutiveFailures::new(6),
        Settings::default(),
        SystemClock,
    ));
    let bucket = Arc::new(TokenBucket::new(Rate::per_second(QPS), QPS, SystemClock));
    let endpoint = client
        .with(BreakerLayer::new(Arc::clone(&breaker)))
        .with(ErroringLimiterLayer::new(bucket))
        .boxed();
    Ok(Instance {
        address: address.to_owned(),
        breaker,
        endpoint,
    })
}

/// A [`StringService`] whose `uppercase` runs on other instances.
pub struct ProxyingService<S> {
    local: S,
    retry: Retry<RoundRobin<Endpointer<Instance>>>,
}

impl<S: StringService> ProxyingService<S> {
    /// Proxies `uppercase` over the instances `instancer` finds; `count`
    /// goes to `local`.
    pub fn new(local: S, instancer: Arc<dyn Instancer>) -> ProxyingService<S> {
        ProxyingService::traced(local, instancer, None)
    }

    /// As [`new`](Self::new), each call to an instance traced as a client
    /// span when `tracer` is given.
    pub fn traced(
        local: S,
        instancer: Arc<dyn Instancer>,
        tracer: Option<Arc<dyn ClientTrace>>,
    ) -> ProxyingService<S> {
        let endpointer = Endpointer::new(instancer, move |address: &str| {
            traced_factory(address, tracer.clone())
        });
        ProxyingService {
            local,
            retry: Retry::new(MAX_ATTEMPTS, MAX_TIME, RoundRobin::new(endpointer)),
        }
    }

    /// Proxies `uppercase` over a fixed list (comma-separated `host:port`),
    /// Go kit's `-proxy` flag.
    pub fn fixed(local: S, addresses: &str) -> Result<ProxyingService<S>, String> {
        let instancer = crate::discovery::fixed(addresses)?;
        for address in instancer.state().instances.iter() {
            factory(address).map_err(|e| e.to_string())?;
        }
        Ok(ProxyingService::new(local, Arc::new(instancer)))
    }

    /// Each live instance's address and breaker state, in instance order.
    pub fn breakers(&self) -> Vec<(String, State)> {
        self.retry
            .balancer()
            .set()
            .endpoints()
            .map(|set| {
                set.iter()
                    .map(|i| (i.address.clone(), i.breaker.state()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl<S: StringService> StringService for ProxyingService<S> {
    fn uppercase(&self, s: &str) -> Result<String, StringError> {
        // Go kit's proxy has no request context either: a fresh one, with
        // the retry's own time budget.
        let request = UppercaseRequest { s: s.to_owned() };
        match self.retry.call(&Context::background(), request) {
            Ok(UppercaseReply { err: Some(_), .. }) => Err(StringError::Empty),
            Ok(UppercaseReply { v, err: None }) => Ok(v),
            Err(e) => {
                log::warn!(err:display = e; "uppercase failed on every attempt");
                Err(StringError::Synkit(
                    e.last().kind().unwrap_or(Error::Unavailable),
                ))
            }
        }
    }

    fn count(&self, s: &str) -> usize {
        self.local.count(s)
    }
}
