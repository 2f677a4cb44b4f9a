use ::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use synkit_core::Context;

use super::Service;
use super::reply::error_response;

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
}

/// Routes requests by method and path (with `{name}` parameters and
/// `{*rest}` catch-alls, via matchit) to services.
///
/// An unknown path is answered 404; a known path with another method 405
/// with `Allow`. `HEAD` falls back to the `GET` route.
///
/// ```
/// use synkit_core::Context;
/// use synkit_transports::http::server::{PathParams, Router, Service, service_fn};
/// use synkit_transports::http::{Method, Request, Response, StatusCode};
///
/// let router = Router::new().route(Method::GET, "/profiles/{id}", service_fn(|cx, _req| {
///     let id = cx.value::<PathParams>().and_then(|p| p.get("id")).unwrap_or("").to_owned();
///     Response::new(id.into_bytes())
/// }));
///
/// let cx = Context::background();
/// let get = |m: Method, uri: &str| {
///     let mut req = Request::new(Vec::new());
///     *req.method_mut() = m;
///     *req.uri_mut() = uri.parse().unwrap();
///     router.serve(&cx, req)
/// };
/// assert_eq!(get(Method::GET, "/profiles/42").body(), b"42");
/// assert_eq!(get(Method::GET, "/nope").status(), StatusCode::NOT_FOUND);
/// assert_eq!(get(Method::DELETE, "/profiles/42").status(), StatusCode::METHOD_NOT_ALLOWED);
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

    /// Serves `method` on `path` with `service`.
    ///
    /// # Panics
    ///
    /// If `path` is not a valid pattern, conflicts with another, or the
    /// method is already routed for it: routing tables are written by
    /// programmers, and such a mistake should stop the program at start-up.
    #[must_use]
    pub fn route(mut self, method: Method, path: &str, service: impl Service) -> Router {
        let index = if let Some(i) = self.patterns.iter().position(|p| p == path) {
            i
        } else {
            let i = self.routes.len();
            if let Err(e) = self.paths.insert(path, i) {
                panic!("invalid route {path:?}: {e}");
            }
            self.routes.push(Route {
                methods: Vec::new(),
            });
            self.patterns.push(path.to_owned());
            i
        };
        let route = &mut self.routes[index];
        assert!(
            route.methods.iter().all(|(m, _)| *m != method),
            "{method} {path} is routed twice"
        );
        route.methods.push((method, Box::new(service)));
        self
    }
}

impl Service for Router {
    fn serve(&self, cx: &Context<'_>, req: Request<Vec<u8>>) -> Response<Vec<u8>> {
        let Ok(found) = self.paths.at(req.uri().path()) else {
            return error_response(StatusCode::NOT_FOUND, "not found");
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
            });
        let Some((_, service)) = service else {
            let allow = route
                .methods
                .iter()
                .map(|(m, _)| m.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let mut resp = error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
            return resp;
        };
        if found.params.is_empty() {
            return service.serve(cx, req);
        }
        let params = PathParams(
            found
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        service.serve(&cx.with_value(&params), req)
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.patterns)
            .finish_non_exhaustive()
    }
}
