//! Logging middleware, after Go kit's stringsvc2: one record per call with
//! the method, its input, its output or error, and how long it took.

use std::fmt::{Debug, Display};

use synkit_core::{Context, Endpoint, Middleware};

/// Logs every call through the `log` facade, at `info` for successes and
/// `warn` for errors, with the fields `method`, `input`, `output`, `err` and
/// `took` (measured on the context's clock).
#[derive(Clone, Copy, Debug)]
pub struct Logging {
    method: &'static str,
}

impl Logging {
    /// Logging for the endpoint serving `method`.
    pub const fn new(method: &'static str) -> Logging {
        Logging { method }
    }
}

/// An endpoint wrapped by [`Logging`].
#[derive(Debug)]
pub struct LoggingEndpoint<E> {
    inner: E,
    method: &'static str,
}

impl<E> Middleware<E> for Logging {
    type Endpoint = LoggingEndpoint<E>;

    fn wrap(&self, inner: E) -> LoggingEndpoint<E> {
        LoggingEndpoint {
            inner,
            method: self.method,
        }
    }
}

impl<Req, E> Endpoint<Req> for LoggingEndpoint<E>
where
    Req: Debug,
    E: Endpoint<Req>,
    E::Response: Debug,
    E::Error: Display,
{
    type Response = E::Response;
    type Error = E::Error;

    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        if !log::log_enabled!(log::Level::Warn) {
            return self.inner.call(cx, req);
        }
        // The request moves into the call; keep its text for the record.
        let input = format!("{req:?}");
        let start = cx.now();
        let out = self.inner.call(cx, req);
        let took = cx.now().saturating_duration_since(start);
        match &out {
            Ok(resp) => log::info!(
                method = self.method, input = input.as_str(), output:? = resp, took:? = took;
                "call succeeded"
            ),
            Err(err) => log::warn!(
                method = self.method, input = input.as_str(), err:% = err, took:? = took;
                "call failed"
            ),
        }
        out
    }
}
