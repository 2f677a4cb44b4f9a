//! Go kit's stringsvc3: a string service that proxies `uppercase` to other
//! stringsvc instances — round-robin over a fixed list, each instance behind
//! its own circuit breaker and rate limiter, retried over the list within a
//! time budget. `count` stays local.
//!
//! Go kit's numbers: 100 calls a second per instance, 3 attempts, 250 ms in
//! all; gobreaker's default trip (more than 5 failures in a row) and 60 s
//! open.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use synkit_core::breaker::{BreakerLayer, CircuitBreaker, ConsecutiveFailures, Settings, State};
use synkit_core::endpoint::BoxEndpoint;
use synkit_core::ratelimit::{ErroringLimiterLayer, Rate, TokenBucket};
use synkit_core::time::SystemClock;
use synkit_core::{Context, Endpoint, Error};
use synkit_transports::http::Method;
use synkit_transports::http::client::{
    Client, ClientError, decode_json_response, encode_json_request,
};

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

struct Instance {
    address: String,
    breaker: Arc<Breaker>,
    endpoint: BoxEndpoint<UppercaseRequest, UppercaseReply, ClientError>,
}

/// A [`StringService`] whose `uppercase` runs on other instances.
pub struct ProxyingService<S> {
    local: S,
    instances: Vec<Instance>,
    next: AtomicUsize,
}

/// `uppercase` on the instance at `address` (`host:port`), through a rate
/// limiter and a circuit breaker.
fn instance(address: &str) -> Result<Instance, String> {
    let url = format!("http://{address}/uppercase")
        .parse()
        .map_err(|e| format!("bad instance address {address:?}: {e}"))?;
    let client = Client::new(
        Method::POST,
        url,
        encode_json_request::<UppercaseRequest, ClientError>,
        decode_json_response::<UppercaseReply, ClientError>,
    );
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

impl<S: StringService> ProxyingService<S> {
    /// Proxies `uppercase` over `addresses` (comma-separated `host:port`);
    /// `count` goes to `local`.
    pub fn new(local: S, addresses: &str) -> Result<ProxyingService<S>, String> {
        let instances = addresses
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(instance)
            .collect::<Result<Vec<_>, _>>()?;
        if instances.is_empty() {
            return Err("no instances to proxy to".into());
        }
        Ok(ProxyingService {
            local,
            instances,
            next: AtomicUsize::new(0),
        })
    }

    /// Each instance's address and breaker state.
    pub fn breakers(&self) -> Vec<(String, State)> {
        self.instances
            .iter()
            .map(|i| (i.address.clone(), i.breaker.state()))
            .collect()
    }

    /// Round robin with retry: the next instance in turn, up to
    /// [`MAX_ATTEMPTS`] of them within [`MAX_TIME`].
    fn call_balanced(&self, cx: &Context<'_>, s: &str) -> Result<UppercaseReply, ClientError> {
        let cx = cx.with_timeout(MAX_TIME);
        let mut last = ClientError::from(Error::Unavailable);
        for _ in 0..MAX_ATTEMPTS {
            if let Err(kind) = cx.check() {
                return Err(kind.into());
            }
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.instances.len();
            match self.instances[i]
                .endpoint
                .call(&cx, UppercaseRequest { s: s.to_owned() })
            {
                Ok(reply) => return Ok(reply),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl<S: StringService> StringService for ProxyingService<S> {
    fn uppercase(&self, s: &str) -> Result<String, StringError> {
        // Go kit's proxy has no request context either: a fresh one, with
        // the proxy's own time budget.
        match self.call_balanced(&Context::background(), s) {
            Ok(UppercaseReply { err: Some(_), .. }) => Err(StringError::Empty),
            Ok(UppercaseReply { v, err: None }) => Ok(v),
            Err(e) => Err(StringError::Synkit(e.kind().unwrap_or(Error::Unavailable))),
        }
    }

    fn count(&self, s: &str) -> usize {
        self.local.count(s)
    }
}
