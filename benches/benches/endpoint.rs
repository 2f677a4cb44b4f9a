//! What the endpoint model itself costs: a bare call, a call through
//! composed middleware, a call through a box, and deriving contexts.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use synkit_core::endpoint::{Chain, Endpoint, Middleware, endpoint_fn};
use synkit_core::time::{Duration, SystemClock};
use synkit_core::{CancelToken, Context, Error};

/// A layer that only calls through: what static composition itself costs
/// (the compiler should see through it entirely).
#[derive(Clone, Copy)]
struct PassThrough;

struct PassThroughEndpoint<E>(E);

impl<E> Middleware<E> for PassThrough {
    type Endpoint = PassThroughEndpoint<E>;
    fn wrap(&self, inner: E) -> Self::Endpoint {
        PassThroughEndpoint(inner)
    }
}

impl<Req, E: Endpoint<Req>> Endpoint<Req> for PassThroughEndpoint<E> {
    type Response = E::Response;
    type Error = E::Error;
    #[inline]
    fn call(&self, cx: &Context<'_>, req: Req) -> Result<E::Response, E::Error> {
        self.0.call(cx, req)
    }
}

fn call_paths(c: &mut Criterion) {
    let add = || {
        endpoint_fn(|_: &Context<'_>, (a, b): (u64, u64)| {
            a.checked_add(b).ok_or(Error::Unavailable)
        })
    };
    let bare = add();
    let chained = Chain::new(PassThrough).then(PassThrough).wrap(add());
    let boxed = add().boxed();
    let root = Context::background();

    let mut g = c.benchmark_group("endpoint_call");
    g.bench_function("bare", |b| b.iter(|| bare.call(&root, black_box((3, 4)))));
    g.bench_function("chain_of_two", |b| {
        b.iter(|| chained.call(&root, black_box((3, 4))));
    });
    g.bench_function("boxed", |b| b.iter(|| boxed.call(&root, black_box((3, 4)))));
    g.finish();
}

fn contexts(c: &mut Criterion) {
    let root = Context::background();
    let token = CancelToken::new();
    let mut g = c.benchmark_group("context");
    g.bench_function("with_timeout", |b| {
        b.iter(|| {
            root.with_timeout(black_box(Duration::from_millis(5)))
                .deadline()
        });
    });
    g.bench_function("with_deadline", |b| {
        let at = root.now() + Duration::from_secs(1);
        b.iter(|| root.with_deadline(black_box(at)).deadline());
    });
    let cancellable = root.with_cancel(&token);
    let valued = cancellable.with_value(&7u32);
    let deep = valued.with_deadline(root.now() + Duration::from_mins(1));
    g.bench_function("check_depth_3", |b| b.iter(|| black_box(&deep).check()));
    g.bench_function("value_lookup_depth_3", |b| {
        b.iter(|| black_box(&deep).value::<u32>().copied());
    });
    g.bench_function("system_clock_now", |b| {
        b.iter(|| synkit_core::time::Clock::now(&SystemClock));
    });
    g.finish();
}

criterion_group!(benches, call_paths, contexts);
criterion_main!(benches);
