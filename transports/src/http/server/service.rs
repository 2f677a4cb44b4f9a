use ::http::{Request, Response};
use synkit_core::Context;

/// What the server runs for each request: the whole HTTP exchange, reading
/// the request and writing the response, as Go's `http.Handler` does.
///
/// The server hands every request on a connection the same two values,
/// cleared between requests: the request (head and body), and a response
/// that starts as an empty `200 OK`. Writing into the response rather than
/// returning a new one lets the server keep its header map and body buffer
/// from one request to the next, so a request costs no allocation the
/// service does not make itself.
///
/// A [`Router`](super::Router) and a [`Handler`](super::Handler) (Go kit's
/// `Server`: decode, endpoint, encode) are services; so is any closure made
/// with [`service_fn`]. The context carries the request's deadline and a
/// cancellation token that fires if the client goes away.
pub trait Service: Send + Sync + 'static {
    /// Answers `req` by filling in `resp`.
    fn serve(&self, cx: &Context<'_>, req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>);
}

/// A [`Service`] made from a closure by [`service_fn`].
#[derive(Clone, Copy, Debug)]
pub struct ServiceFn<F>(F);

/// Turns `Fn(&Context, &mut Request<Vec<u8>>, &mut Response<Vec<u8>>)` into
/// a [`Service`].
///
/// ```
/// use synkit_core::Context;
/// use synkit_transports::http::server::{Service, service_fn};
/// use synkit_transports::http::{Request, Response};
///
/// let hello = service_fn(|_cx, req, resp| {
///     let who = req.uri().path().trim_start_matches('/');
///     resp.body_mut().extend_from_slice(format!("hello, {who}\n").as_bytes());
/// });
/// let mut req = Request::new(Vec::new());
/// *req.uri_mut() = "/gopher".parse().unwrap();
/// let mut resp = Response::new(Vec::new());
/// hello.serve(&Context::background(), &mut req, &mut resp);
/// assert_eq!(resp.body(), b"hello, gopher\n");
/// ```
pub fn service_fn<F>(f: F) -> ServiceFn<F>
where
    F: Fn(&Context<'_>, &mut Request<Vec<u8>>, &mut Response<Vec<u8>>) + Send + Sync + 'static,
{
    ServiceFn(f)
}

impl<F> Service for ServiceFn<F>
where
    F: Fn(&Context<'_>, &mut Request<Vec<u8>>, &mut Response<Vec<u8>>) + Send + Sync + 'static,
{
    fn serve(&self, cx: &Context<'_>, req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>) {
        (self.0)(cx, req, resp);
    }
}

impl<S: Service + ?Sized> Service for std::sync::Arc<S> {
    fn serve(&self, cx: &Context<'_>, req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>) {
        (**self).serve(cx, req, resp);
    }
}

impl<S: Service + ?Sized> Service for Box<S> {
    fn serve(&self, cx: &Context<'_>, req: &mut Request<Vec<u8>>, resp: &mut Response<Vec<u8>>) {
        (**self).serve(cx, req, resp);
    }
}
