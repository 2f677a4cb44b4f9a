//! The net/rpc JSON server: methods by `Service.Method`, bound to a port.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{TcpListener, ToSocketAddrs};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use synkit_core::{Context, Endpoint};

use super::gob;
use super::session::{Call, Connection, Failed, Output, Params, answer};
use crate::engine::{self, Failure, Handle, Serve, ServerConfig, Stats};

type Method = Box<dyn Fn(&Context<'_>, &Params) -> Result<Output, Failed> + Send + Sync>;

/// Endpoints served as Go `net/rpc` methods over its JSON codec.
///
/// Params arrive as Go's client sends them, an array of one argument
/// (`[{"a":1}]`); a bare value is taken too. Errors are Go's texts: an
/// unknown service `rpc: can't find service S.M`, an unknown method
/// `rpc: can't find method S.M`, a name without a dot `rpc: service/method
/// request ill-formed: X`; an endpoint's error is its `Display` text.
#[derive(Default)]
pub struct Server {
    methods: HashMap<String, Method>,
}

impl Server {
    /// A server with no methods.
    pub fn new() -> Server {
        Server::default()
    }

    /// Serves `endpoint` as `name` (`Service.Method`).
    #[must_use]
    pub fn method<E, Req>(mut self, name: &str, endpoint: E) -> Server
    where
        E: Endpoint<Req> + Send + Sync + 'static,
        E::Response: Serialize,
        E::Error: fmt::Display,
        Req: DeserializeOwned,
    {
        let call = move |cx: &Context<'_>, params: &Params| -> Result<Output, Failed> {
            match params {
                Params::Json(params) => {
                    // Go's client wraps the argument in a one-element array.
                    let arg: Req = match serde_json::from_str::<[Req; 1]>(params) {
                        Ok([arg]) => arg,
                        Err(_) => serde_json::from_str(params).map_err(Failed::BadParams)?,
                    };
                    let out = endpoint.call(cx, arg).map_err(Failed::method)?;
                    serde_json::to_string(&out)
                        .map(Output::Json)
                        .map_err(|e| Failed::Encode(e.to_string()))
                }
                Params::Gob(value) => {
                    // Go's server closes a gob stream it could not read a
                    // value from, after answering the call.
                    let arg: Req = value.decode().map_err(Failed::Argument)?;
                    let out = endpoint.call(cx, arg).map_err(Failed::method)?;
                    gob::Node::from_value(&out)
                        .map(Output::Gob)
                        .map_err(|e| Failed::Encode(e.to_string()))
                }
            }
        };
        self.methods.insert(name.to_owned(), Box::new(call));
        self
    }

    /// Serves the methods on `addr` with `config`'s threads, limits and
    /// timeout (each call gets `request_timeout`).
    pub fn bind(self, addr: impl ToSocketAddrs, config: &ServerConfig) -> io::Result<Handle> {
        let listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let timeout = config.request_timeout;
        let engine_config = config.engine("synkit-netrpc");
        let running = engine::start(
            &listener,
            engine_config,
            Arc::new(Stats::default()),
            Methods(Arc::new(self)),
            move |_| Connection::new(timeout),
        )?;
        Ok(Handle::new(local_addr, running))
    }
}

struct Methods(Arc<Server>);

impl Serve<Connection> for Methods {
    fn describe<'a>(&self, call: &'a Call) -> impl fmt::Display + 'a {
        &call.method
    }

    fn handle(&self, cx: &Context<'_>, call: &mut Call, _: Option<&engine::parts::Parts<Call>>) {
        let outcome = match self.0.methods.get(&call.method) {
            Some(run) => run(cx, &call.params),
            None => Err(missing(&self.0, &call.method)),
        };
        answer(call, outcome);
    }

    fn fail(&self, call: &mut Call, failure: Failure) {
        let text = match failure {
            Failure::Overloaded => "rpc: server overloaded",
            Failure::ExpiredInQueue => "rpc: deadline passed before the call was served",
            Failure::Panicked => "rpc: the service failed",
        };
        answer(call, Err(Failed::Engine(text)));
    }
}

/// Why a name is not served, in Go's terms.
fn missing(server: &Server, name: &str) -> Failed {
    let Some((service, _)) = name.split_once('.') else {
        return Failed::IllFormed(name.to_owned());
    };
    let service_known = server
        .methods
        .keys()
        .any(|k| k.split_once('.').is_some_and(|(s, _)| s == service));
    Failed::Missing {
        name: name.to_owned(),
        service_known,
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.methods.keys().collect();
        names.sort();
        f.debug_struct("Server").field("methods", &names).finish()
    }
}
