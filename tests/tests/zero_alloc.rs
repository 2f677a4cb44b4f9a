//! Calling an endpoint through middleware, and deriving contexts on the way,
//! allocates nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use synkit_core::endpoint::{Chain, Endpoint, Middleware, endpoint_fn};
use synkit_core::time::{Duration, ManualClock, SystemClock};
use synkit_core::{CancelToken, Context, Error};
use synkit_tests::{allocations_during, assert_no_alloc};

/// A middleware that only passes the call through, counting it: the
/// cheapest layer there is, so any allocation it shows is the framework's.
struct PassThrough<'a>(&'a AtomicU64);

struct PassThroughEndpoint<'a, E> {
    inner: E,
    calls: &'a AtomicU64,
}

impl<'a, E> Middleware<E> for PassThrough<'a> {
    type Endpoint = PassThroughEndpoint<'a, E>;
    fn wrap(&self, inner: E) -> Self::Endpoint {
        PassThroughEndpoint {
            inner,
            calls: self.0,
        }
    }
}

impl<Req, E: Endpoint<Req>> Endpoint<Req> for PassThroughEndpoint<'_, E> {
    type Response = E::Response;
    type Error = E::Error;
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.call(cx, req)
    }
}

/// A middleware that derives a child context, as a timeout or a tracer
/// would, before calling through.
struct Tighten(Duration);

struct TightenEndpoint<E> {
    inner: E,
    timeout: Duration,
}

impl<E> Middleware<E> for Tighten {
    type Endpoint = TightenEndpoint<E>;
    fn wrap(&self, inner: E) -> Self::Endpoint {
        TightenEndpoint {
            inner,
            timeout: self.0,
        }
    }
}

#[derive(Debug, PartialEq)]
struct SpanId(u64);

impl<Req, E> Endpoint<Req> for TightenEndpoint<E>
where
    E: Endpoint<Req>,
    E::Error: From<Error>,
{
    type Response = E::Response;
    type Error = E::Error;
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        let span = SpanId(42);
        let timed = cx.with_timeout(self.timeout);
        let cx = timed.with_value(&span);
        cx.check()?;
        self.inner.call(&cx, req)
    }
}

#[derive(Debug, PartialEq)]
enum AppError {
    Empty,
    Synkit(Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Synkit(e)
    }
}

fn uppercase_len() -> impl Endpoint<&'static str, Response = usize, Error = AppError> {
    endpoint_fn(|cx: &Context<'_>, s: &'static str| {
        assert_eq!(cx.value::<SpanId>(), Some(&SpanId(42)));
        if s.is_empty() {
            Err(AppError::Empty)
        } else {
            Ok(s.bytes().filter(u8::is_ascii_lowercase).count())
        }
    })
}

#[test]
fn a_call_through_two_middlewares_allocates_nothing() {
    let calls = AtomicU64::new(0);
    let ep = Chain::new(PassThrough(&calls))
        .then(Tighten(Duration::from_millis(5)))
        .wrap(uppercase_len());
    let clock = ManualClock::new();
    let token = CancelToken::new();

    let out = assert_no_alloc(|| {
        let root = Context::new(&clock);
        let cx = root.with_cancel(&token);
        let mut total = 0;
        for _ in 0..1000 {
            total += ep.call(&cx, "hello, gopher").unwrap();
        }
        total
    });
    assert_eq!(out, 11_000);
    assert_eq!(calls.load(Ordering::Relaxed), 1000);
}

#[test]
fn error_paths_allocate_nothing_either() {
    let calls = AtomicU64::new(0);
    let ep = uppercase_len()
        .with(Tighten(Duration::from_millis(5)))
        .with(PassThrough(&calls));
    let clock = ManualClock::new();
    let token = CancelToken::new();
    let root = Context::new(&clock);
    let cx = root.with_cancel(&token);

    assert_no_alloc(|| {
        assert_eq!(ep.call(&cx, ""), Err(AppError::Empty));
        token.cancel();
        assert_eq!(ep.call(&cx, "x"), Err(AppError::Synkit(Error::Cancelled)));
    });
}

#[test]
fn deriving_contexts_on_the_system_clock_allocates_nothing() {
    // The system clock fixes its epoch on first use; do that outside the count.
    let _ = Context::background().now();
    let token = CancelToken::new();
    assert_no_alloc(|| {
        let root = Context::background();
        let a = root.with_timeout(Duration::from_secs(1));
        let b = a.with_cancel(&token);
        let c = b.with_value(&SpanId(1));
        let d = c.with_deadline(SystemClock::from_std(std::time::Instant::now()));
        assert!(d.remaining().is_some());
        assert_eq!(d.value::<SpanId>(), Some(&SpanId(1)));
        assert!(d.check().is_err(), "the deadline is now, so it has passed");
        assert!(!d.is_cancelled());
    });
}

/// The counter must be able to fail: a layer that boxes per call is caught.
#[test]
fn a_middleware_that_boxes_per_call_is_caught() {
    struct Boxing;
    struct BoxingEndpoint<E>(E);
    impl<E> Middleware<E> for Boxing {
        type Endpoint = BoxingEndpoint<E>;
        fn wrap(&self, inner: E) -> Self::Endpoint {
            BoxingEndpoint(inner)
        }
    }
    impl<E: Endpoint<&'static str>> Endpoint<&'static str> for BoxingEndpoint<E> {
        type Response = E::Response;
        type Error = E::Error;
        fn call(&self, cx: &Context<'_>, req: &'static str) -> Result<E::Response, E::Error> {
            let boxed: Box<&'static str> = Box::new(req);
            self.0.call(cx, *std::hint::black_box(boxed))
        }
    }

    let ep = uppercase_len()
        .with(Tighten(Duration::from_millis(5)))
        .with(Boxing);
    let clock = ManualClock::new();
    let cx = Context::new(&clock);
    let (made, ()) = allocations_during(|| {
        for _ in 0..10 {
            ep.call(&cx, "abc").unwrap();
        }
    });
    assert_eq!(made, 10);
}
