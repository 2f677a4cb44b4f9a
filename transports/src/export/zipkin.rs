//! Zipkin's HTTP reporter: finished spans posted to `/api/v2/spans` in
//! batches, from a thread of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use synkit_core::trace::{Reporter, SpanRecord, zipkin};

/// How a [`ZipkinReporter`] queues and sends. Defaults suit a service
/// that must never wait on its tracing.
#[derive(Clone, Debug)]
pub struct ZipkinOptions {
    /// Spans waiting to be sent, at most; a span that finds the queue full
    /// is dropped and counted. Default 10 000.
    pub queue: usize,
    /// Spans per POST, at most. Default 100.
    pub batch: usize,
    /// How long a span may wait for its batch to fill. Default 200 ms.
    pub interval: Duration,
    /// Time for one POST. Default 2 s: a slow collector delays batches,
    /// never requests (the queue absorbs, then drops).
    pub timeout: Duration,
}

impl Default for ZipkinOptions {
    fn default() -> Self {
        ZipkinOptions {
            queue: 10_000,
            batch: 100,
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(2),
        }
    }
}

enum Msg {
    Span(SpanRecord),
    Flush(Sender<()>),
}

#[derive(Debug, Default)]
struct Counts {
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

/// Reports spans to a Zipkin collector (`http://host:9411/api/v2/spans`):
/// zipkin-go's HTTP reporter. [`report`](Reporter::report) only queues;
/// the reporter's thread sends batches as JSON. A full queue drops the
/// span (counted in [`dropped`](Self::dropped)); a collector that is down,
/// slow or answers an error loses that batch (counted in
/// [`failed`](Self::failed)) and nothing else. [`flush`](Self::flush)
/// sends what is queued; dropping the last handle does too.
pub struct ZipkinReporter {
    queue: Sender<Msg>,
    counts: Arc<Counts>,
    thread: Option<JoinHandle<()>>,
}

impl ZipkinReporter {
    /// A reporter posting to `url` with the default options.
    pub fn new(url: &str) -> ZipkinReporter {
        ZipkinReporter::with_options(url, ZipkinOptions::default())
    }

    /// A reporter posting to `url` with `options`.
    pub fn with_options(url: &str, options: ZipkinOptions) -> ZipkinReporter {
        let (queue, spans) = bounded(options.queue.max(1));
        let counts = Arc::new(Counts::default());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            .build()
            .into();
        let (url, sending) = (url.to_owned(), counts.clone());
        let thread = std::thread::Builder::new()
            .name("synkit-zipkin".into())
            .spawn(move || run(&spans, &agent, &url, &options, &sending))
            .ok();
        ZipkinReporter {
            queue,
            counts,
            thread,
        }
    }

    /// Spans posted and accepted so far.
    pub fn sent(&self) -> u64 {
        self.counts.sent.load(Ordering::Relaxed)
    }

    /// Spans dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }

    /// Spans lost because their POST failed.
    pub fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    /// Sends everything queued so far, waiting at most `limit`.
    pub fn flush(&self, limit: Duration) {
        let (done, wait) = bounded(1);
        if self.queue.send_timeout(Msg::Flush(done), limit).is_ok() {
            let _ = wait.recv_timeout(limit);
        }
    }
}

impl Reporter for ZipkinReporter {
    fn report(&self, span: SpanRecord) {
        match self.queue.try_send(Msg::Span(span)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn run(
    spans: &Receiver<Msg>,
    agent: &ureq::Agent,
    url: &str,
    options: &ZipkinOptions,
    counts: &Counts,
) {
    let mut batch: Vec<SpanRecord> = Vec::with_capacity(options.batch);
    let mut body = String::new();
    let mut post = |batch: &mut Vec<SpanRecord>| {
        if batch.is_empty() {
            return;
        }
        body.clear();
        let _ = zipkin::encode(batch, &mut body);
        let n = batch.len() as u64;
        let ok = agent
            .post(url)
            .content_type("application/json")
            .send(body.as_bytes())
            .is_ok_and(|r| r.status().is_success());
        let counter = if ok { &counts.sent } else { &counts.failed };
        counter.fetch_add(n, Ordering::Relaxed);
        batch.clear();
    };
    let mut oldest: Option<Instant> = None;
    loop {
        let wait = oldest.map_or(options.interval, |t| {
            options.interval.saturating_sub(t.elapsed())
        });
        match spans.recv_timeout(wait) {
            Ok(Msg::Span(span)) => {
                oldest.get_or_insert_with(Instant::now);
                batch.push(span);
                if batch.len() >= options.batch {
                    post(&mut batch);
                    oldest = None;
                }
            }
            Ok(Msg::Flush(done)) => {
                post(&mut batch);
                oldest = None;
                let _ = done.send(());
            }
            Err(RecvTimeoutError::Timeout) => {
                post(&mut batch);
                oldest = None;
            }
            Err(RecvTimeoutError::Disconnected) => {
                post(&mut batch);
                return;
            }
        }
    }
}

impl Drop for ZipkinReporter {
    fn drop(&mut self) {
        self.flush(Duration::from_secs(5));
        // Disconnect the queue so the thread ends.
        let (closed, _) = bounded(1);
        self.queue = closed;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for ZipkinReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZipkinReporter")
            .field("sent", &self.sent())
            .field("dropped", &self.dropped())
            .field("failed", &self.failed())
            .finish_non_exhaustive()
    }
}
