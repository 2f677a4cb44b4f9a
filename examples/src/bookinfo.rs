//! The bookinfo system over gRPC, as Go kit builds it: a `BookService`
//! (`GetBookInfo`, `GetBookList`) served by instances that register in etcd
//! under `/services/book/`, `GetBookInfo` behind a delaying rate limiter
//! (1 a second, a burst of 100 000); and a client that finds the instances
//! in etcd, makes a gRPC endpoint of each run as a Hystrix command (with
//! hystrix-go's defaults: breaker, concurrency limit, timeout), balances round robin with `Retry` (3 attempts), and traces each call
//! under a parent span `bookCaller`.

use std::sync::Arc;
use std::time::Duration;

use synkit_core::breaker::{BreakerLayer, CircuitBreaker, RollingWindow, Settings};
use synkit_core::bulkhead::{Bulkhead, ConcurrencyLimitLayer};
use synkit_core::endpoint::{BoxEndpoint, endpoint_fn};
use synkit_core::lb::{Retry, RoundRobin};
use synkit_core::ratelimit::{DelayingLimiterLayer, Rate, TokenBucket};
use synkit_core::sd::{DiscoveryError, Endpointer, Instancer};
use synkit_core::time::{SystemClock, ThreadSleep};
use synkit_core::timeout::TimeoutLayer;
use synkit_core::{Context, Endpoint};
use synkit_transports::grpc::{Client, ClientTrace, Code, Server, Status};

/// Where instances register.
pub const ETCD_PREFIX: &str = "/services/book/";
/// The methods' paths.
pub const GET_BOOK_INFO: &str = "/book.BookService/GetBookInfo";
/// See [`GET_BOOK_INFO`].
pub const GET_BOOK_LIST: &str = "/book.BookService/GetBookList";

pub use crate::pb::book::{BookInfo, BookInfoParams, BookList, BookListParams};

/// The two books the service knows.
pub const BOOKS: [(i32, &str); 2] = [(1, "Go kit"), (2, "synkit")];

fn book(id: i32) -> Option<BookInfo> {
    BOOKS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(book_id, name)| BookInfo {
            book_id: *book_id,
            book_name: (*name).to_owned(),
        })
}

/// The `BookService` server: `GetBookInfo` behind the delaying limiter.
pub fn server() -> Server {
    let bucket = Arc::new(TokenBucket::new(Rate::per_second(1), 100_000, SystemClock));
    let info = endpoint_fn(|cx: &Context<'_>, req: BookInfoParams| {
        cx.check()?;
        book(req.book_id)
            .ok_or_else(|| Status::new(Code::NotFound, format!("no book {}", req.book_id)))
    })
    .with(DelayingLimiterLayer::new(bucket, ThreadSleep::default()));
    let list = endpoint_fn(|cx: &Context<'_>, req: BookListParams| {
        cx.check()?;
        let limit = usize::try_from(req.limit.max(0)).unwrap_or(0);
        let skip = usize::try_from(req.page.max(1) - 1).unwrap_or(0) * limit;
        let book_list = BOOKS
            .iter()
            .skip(skip)
            .take(limit)
            .filter_map(|(id, _)| book(*id))
            .collect();
        Ok::<_, Status>(BookList { book_list })
    });
    Server::new()
        .method(GET_BOOK_INFO, info)
        .method(GET_BOOK_LIST, list)
}

type Breaker = CircuitBreaker<RollingWindow, SystemClock>;

/// The breaker's settings: hystrix-go's defaults, which the Go kit seed's
/// `circuitbreaker.Hystrix` command runs with — a 10 s rolling window
/// that trips at 50 % errors once it holds 20 calls
/// ([`RollingWindow::hystrix_defaults`]), open for a 5 s sleep window
/// before one probe, each call given 1 s, 10 calls at once.
pub const HYSTRIX_SLEEP_WINDOW: synkit_core::time::Duration =
    synkit_core::time::Duration::from_secs(5);
/// See [`HYSTRIX_SLEEP_WINDOW`].
pub const HYSTRIX_TIMEOUT: synkit_core::time::Duration = synkit_core::time::Duration::from_secs(1);
/// See [`HYSTRIX_SLEEP_WINDOW`].
pub const HYSTRIX_MAX_CONCURRENT: u32 = 10;

/// One instance's method: its gRPC endpoint run as a Hystrix command
/// (breaker, concurrency limit, timeout).
pub struct Instance<Req, Resp> {
    endpoint: BoxEndpoint<Req, Resp, Status>,
}

impl<Req, Resp> Endpoint<Req> for Instance<Req, Resp> {
    type Response = Resp;
    type Error = Status;

    fn call(&self, cx: &Context<'_>, req: Req) -> Result<Resp, Status> {
        self.endpoint.call(cx, req)
    }
}

fn instance<Req, Resp>(
    address: &str,
    path: &'static str,
    tracer: Option<Arc<dyn ClientTrace>>,
) -> Result<Instance<Req, Resp>, DiscoveryError>
where
    Req: prost::Message + Send + 'static,
    Resp: prost::Message + Default + Send + 'static,
{
    let addr = address
        .parse()
        .map_err(|e| DiscoveryError::new(format_args!("bad instance address {address:?}: {e}")))?;
    let mut client = Client::new(addr);
    if let Some(tracer) = tracer {
        client = client.traced(tracer);
    }
    // As `hystrix.Do` runs a command: the breaker first (open: refused at
    // once), then a slot among the command's concurrent calls, then the
    // call under the command's timeout.
    let breaker = Arc::new(Breaker::new(
        RollingWindow::hystrix_defaults(),
        Settings {
            open_timeout: HYSTRIX_SLEEP_WINDOW,
            half_open_max: 1,
        },
        SystemClock,
    ));
    let endpoint = Arc::new(client)
        .endpoint::<Req, Resp>(path)
        .with(TimeoutLayer::new(HYSTRIX_TIMEOUT))
        .with(ConcurrencyLimitLayer::new(Arc::new(Bulkhead::new(
            HYSTRIX_MAX_CONCURRENT,
        ))))
        .with(BreakerLayer::new(breaker))
        .boxed();
    Ok(Instance { endpoint })
}

/// The attempts and the time all of them may take, per call.
pub const MAX_ATTEMPTS: usize = 3;
/// See [`MAX_ATTEMPTS`].
pub const MAX_TIME: Duration = Duration::from_secs(2);

/// The client side: each method balanced over the instances found.
pub struct BookClient {
    info: Retry<RoundRobin<Endpointer<Instance<BookInfoParams, BookInfo>>>>,
    list: Retry<RoundRobin<Endpointer<Instance<BookListParams, BookList>>>>,
}

impl BookClient {
    /// Calls the instances `instancer` finds, each call traced by `tracer`.
    pub fn new(instancer: &Arc<dyn Instancer>, tracer: Option<Arc<dyn ClientTrace>>) -> BookClient {
        let t = tracer.clone();
        let info = Endpointer::new(instancer.clone(), move |a: &str| {
            instance(a, GET_BOOK_INFO, t.clone())
        });
        let list = Endpointer::new(instancer.clone(), move |a: &str| {
            instance(a, GET_BOOK_LIST, tracer.clone())
        });
        BookClient {
            info: Retry::new(MAX_ATTEMPTS, MAX_TIME, RoundRobin::new(info)),
            list: Retry::new(MAX_ATTEMPTS, MAX_TIME, RoundRobin::new(list)),
        }
    }

    /// `GetBookInfo`.
    pub fn book_info(&self, cx: &Context<'_>, book_id: i32) -> Result<BookInfo, String> {
        self.info
            .call(cx, BookInfoParams { book_id })
            .map_err(|e| e.to_string())
    }

    /// `GetBookList`.
    pub fn book_list(&self, cx: &Context<'_>, page: i32, limit: i32) -> Result<BookList, String> {
        self.list
            .call(cx, BookListParams { page, limit })
            .map_err(|e| e.to_string())
    }
}
