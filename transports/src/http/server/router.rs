use std::borrow::Cow;

use ::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use synkit_core::Context;

use super::Service;
use super::reply::write_error;

/// Path parameters matched by the [`Router`] (`/profiles/{id}` → `id`),
/// found in the context: `cx.value::<PathParams>()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(String, String)>);

impl PathParams {
    /// The value of parameter `name`, if the route has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter, in route order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

struct Route {
    methods: Vec<(Method, Box<dyn Service>)>,
    /// Serves every method not in `methods` (Go's `http.Handle`).
    any: Option<Box<dyn Service>>,
}

/// Routes requests by method and path (with `{name}` parameters and
/// `{*rest}` catch-alls, via matchit) to services.
///
/// Paths are matched, and parameters read, percent-decoded, as Go's
/// `ServeMux` matches `URL.Path`: `/%63ount` is `/count`, and
/// `/profiles/a%20b` gives `id` = `a b`. A malformed escape is 400.
///
/// A route serves one method ([`route`](Self::route)) or every method
/// ([`any`](Self::any), what Go kit's examples get from `http.Handle`). An
/// unknown path is answered 404; a known path with another method 405 with
/// `Allow`. `HEAD` falls back to the `GET` route.
///
/// ```
/// use synkit_core::Context;
/// use synkit_transports::http::server::{PathParams, Router, Service, service_fn};
/// use synkit_transports::http::{Method, Request, Response, StatusCode};
///
/// let router = Router::new()
///     .route(Method::GET, "/profiles/{id}", service_fn(|cx, _req, resp| {
///         let id = cx.value::<PathParams>().and_then(|p| p.get("id")).unwrap_or("");
///         resp.body_mut().extend_from_slice(id.as_bytes());
///     }))
///     .any("/echo", service_fn(|_cx, req, resp| {
///         resp.body_mut().extend_from_slice(req.method().as_str().as_bytes());
///     }));
///
/// let cx = Context::background();
/// let call = |m: Method, uri: &str| {
///     let mut req = Request::new(Vec::new());
///     *req.method_mut() = m;
///     *req.uri_mut() = uri.parse().unwrap();
///     let mut resp = Response::new(Vec::new());
///     router.serve(&cx, &mut req, &mut resp);
///     resp
/// };
/// assert_eq!(call(Method::GET, "/profiles/42").body(), b"42");
/// assert_eq!(call(Method::GET, "/profiles/a%20b").body(), b"a b");
/// assert_eq!(call(Method::GET, "/nope").status(), StatusCode::NOT_FOUND);
/// assert_eq!(call(Method::DELETE, "/profiles/42").status(), StatusCode::METHOD_NOT_ALLOWED);
/// assert_eq!(call(Method::PUT, "/%65cho").body(), b"PUT");
/// ```
pub struct Router {
    paths: matchit::Router<usize>,
    routes: Vec<Route>,
    patterns: Vec<String>,
}

impl Default for Router {
    fn default() -> Router {
        Router::new()
    }
}

impl Router {
    /// A router with no routes.
    pub fn new() -> Router {
        Router {
            paths: matchit::Router::new(),
            routes: Vec::new(),
            patterns: Vec::new(),
        }
    }

    fn route_at(&mut self, path: &str) -> &mut Route {
        let index = if let Some(i) = self.patterns.iter().position(|p| p == path) {
            i
        } else {
            let i = self.routes.len();
            if let Err(e) = self.paths.insert(path, i) {
                panic!("invalid route {path:?}: {e}");
            }
            self.routes.push(Route {
                methods: Vec::new(),
                any: None,
            });
            self.patterns.push(path.to_owned());
            i
        };
        &mut self.routes[index]
    }

    /// Serves `method` on `path` with `service`.
    ///
    /// # Panics
    ///
    /// If `path` is not a valid pattern, conflicts with another, or the
    /// method is already routed for it: routing tables are written by
    /// programmers, and such a mistake should stop the program at start-up.
    #[must_use]
    pub fn route(mut self, method: Method, path: &str, service: impl Service) -> Router {
        let route = self.route_at(path);
        assert!(
            route.methods.iter().all(|(m, _)| *m != method),
            "{method} {path} is routed twice"
        );
        route.methods.push((method, Box::new(service)));
        self
    }

    /// Serves every method on `path` with `service` (those not routed to
    /// another service with [`route`](Self::route)), as Go's `http.Handle`
    /// does.
    ///
    /// # Panics
    ///
    /// As [`route`](Self::route), or if `path` already has an any-method
    /// service.
    #[must_use]
    pub fn any(mut self, path: &str, service: impl Service) -> Router {
        let route = self.route_at(path);
        assert!(route.any.is_none(), "{path} is routed for any method twice");
        route.any = Some(Box::new(service));
        self
    }
}

/// `path` with its percent escapes decoded (borrowed when it has none);
/// `None` if an escape is malformed. Bytes that do not form UTF-8 once
/// decoded become U+FFFD.
fn percent_decode(path: &str) -> Option<Cow<'_, str>> {
    if !path.contains('%') {
        return Some(Cow::Borrowed(path));
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hi = char::from(hex[0]).to_digit(16)?;
            let lo = char::from(hex[1]).to_digit(16)?;
            // Two hex digits make a byte.
            #[allow(clippy::cast_possible_truncation)]
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    })
}

impl Service for Router {
    fn serve(&self, cx: &Context<'_>, req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>) {
        let Some(path) = percent_decode(req.uri().path()) else {
            return write_error(
                resp,
                StatusCode::BAD_REQUEST,
                "malformed percent-escape in the path",
            );
        };
        let Ok(found) = self.paths.at(&path) else {
            return write_error(resp, StatusCode::NOT_FOUND, "not found");
        };
        let route = &self.routes[*found.value];
        let service = route
            .methods
            .iter()
            .find(|(m, _)| m == req.method())
            .or_else(|| {
                (req.method() == Method::HEAD)
                    .then(|| route.methods.iter().find(|(m, _)| *m == Method::GET))
                    .flatten()
            })
            .map(|(_, s)| s)
            .or(route.any.as_ref());
        let Some(service) = service else {
            let allow = route
                .methods
                .iter()
                .map(|(m, _)| m.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            write_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
            return;
        };
        if found.params.is_empty() {
            return service.serve(cx, req, resp);
        }
        let params = PathParams(
            found
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        service.serve(&cx.with_value(&params), req, resp);
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.patterns)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_decode_and_malformed_ones_are_refused() {
        assert!(matches!(
            percent_decode("/count"),
            Some(Cow::Borrowed("/count"))
        ));
        assert_eq!(percent_decode("/%63ount").as_deref(), Some("/count"));
        assert_eq!(percent_decode("/a%20b%2Fc").as_deref(), Some("/a b/c"));
        assert_eq!(percent_decode("/%C3%A9").as_deref(), Some("/é"));
        assert_eq!(percent_decode("/%ff").as_deref(), Some("/\u{fffd}"));
        assert_eq!(percent_decode("/%6"), None);
        assert_eq!(percent_decode("/%zz"), None);
    }
}
