use ::http::{Request, Response};
use synkit_core::Context;

/// What the server runs for each request: the whole HTTP exchange, from a
/// request with its body to a response with its body.
///
/// A [`Router`](super::Router) and a [`Handler`](super::Handler) (Go kit's
/// `Server`: decode, endpoint, encode) are services; so is any closure made
/// with [`service_fn`]. The context carries the request's deadline and a
/// cancellation token that fires if the client goes away.
pub trait Service: Send + Sync + 'static {
    /// Answers one request.
    fn serve(&self, cx: &Context<'_>, req: Request<Vec<u8>>) -> Response<Vec<u8>>;
}

/// A [`Service`] made from a closure by [`service_fn`].
#[derive(Clone, Copy, Debug)]
pub struct ServiceFn<F>(F);

/// Turns `Fn(&Context, Request<Vec<u8>>) -> Response<Vec<u8>>` into a
/// [`Service`].
pub fn service_fn<F>(f: F) -> ServiceFn<F>
where
    F: Fn(&Context<'_>, Request<Vec<u8>>) -> Response<Vec<u8>> + Send + Sync + 'static,
{
    ServiceFn(f)
}

impl<F> Service for ServiceFn<F>
where
    F: Fn(&Context<'_>, Request<Vec<u8>>) -> Response<Vec<u8>> + Send + Sync + 'static,
{
    fn serve(&self, cx: &Context<'_>, req: Request<Vec<u8>>) -> Response<Vec<u8>> {
        (self.0)(cx, req)
    }
}

impl<S: Service + ?Sized> Service for std::sync::Arc<S> {
    fn serve(&self, cx: &Context<'_>, req: Request<Vec<u8>>) -> Response<Vec<u8>> {
        (**self).serve(cx, req)
    }
}

impl<S: Service + ?Sized> Service for Box<S> {
    fn serve(&self, cx: &Context<'_>, req: Request<Vec<u8>>) -> Response<Vec<u8>> {
        (**self).serve(cx, req)
    }
}
