//! Zipkin's HTTP reporter: finished spans posted to `/api/v2/spans` in
//! batches, from a thread of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use synkit_core::trace::{Reporter, SpanRecord, zipkin};

/// How a [`ZipkinReporter`] queues and sends. Defaults suit a service
/// that must never wait on its tracing.
#[derive(Clone, Debug)]
pub struct ZipkinOptions {
    /// Spans waiting to be sent, at most; a span that finds the queue full
    /// is dropped and counted. Default 10 000.
    pub queue: usize,
    /// Spans per POST, at most. Default 1000 (some 300 KB): fewer, larger
    /// posts cost a busy service less than zipkin-go's 100.
    pub batch: usize,
    /// How often queued spans are sent (sooner when the queue is half
    /// full). Default 200 ms.
    pub interval: Duration,
    /// Time for one POST. Default 2 s: a slow collector delays batches,
    /// never requests (the queue absorbs, then drops).
    pub timeout: Duration,
}

impl Default for ZipkinOptions {
    fn default() -> Self {
        ZipkinOptions {
            queue: 10_000,
            batch: 1000,
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(2),
        }
    }
}

/// What the reporter's thread is told, apart from spans.
enum Control {
    /// The queue is filling: send now.
    Wake,
    /// Send everything queued, then say so.
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
    // Spans go here without waking anyone: the thread takes them in
    // batches when its interval is up, or when told the queue is half full.
    queue: Sender<SpanRecord>,
    control: Sender<Control>,
    half: usize,
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
        let (control, told) = bounded(1);
        let counts = Arc::new(Counts::default());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            .build()
            .into();
        let (url, sending) = (url.to_owned(), counts.clone());
        let thread = std::thread::Builder::new()
            .name("synkit-zipkin".into())
            .spawn(move || run(&spans, &told, &agent, &url, &options, &sending))
            .ok();
        ZipkinReporter {
            half: (queue.capacity().unwrap_or(1) / 2).max(1),
            queue,
            control,
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
        if self
            .control
            .send_timeout(Control::Flush(done), limit)
            .is_ok()
        {
            let _ = wait.recv_timeout(limit);
        }
    }
}

impl Reporter for ZipkinReporter {
    fn report(&self, span: SpanRecord) {
        match self.queue.try_send(span) {
            Ok(()) => {
                if self.queue.len() == self.half {
                    // Once per filling: a full control channel means the
                    // thread has already been told.
                    let _ = self.control.try_send(Control::Wake);
                }
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn run(
    spans: &Receiver<SpanRecord>,
    told: &Receiver<Control>,
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
    // Sends everything queued now, a batch at a time.
    let mut drain = |batch: &mut Vec<SpanRecord>| {
        loop {
            batch.extend(spans.try_iter().take(options.batch));
            if batch.is_empty() {
                return;
            }
            post(batch);
        }
    };
    loop {
        match told.recv_timeout(options.interval) {
            Ok(Control::Wake) | Err(RecvTimeoutError::Timeout) => drain(&mut batch),
            Ok(Control::Flush(done)) => {
                drain(&mut batch);
                let _ = done.send(());
            }
            Err(RecvTimeoutError::Disconnected) => {
                drain(&mut batch);
                return;
            }
        }
    }
}

impl Drop for ZipkinReporter {
    fn drop(&mut self) {
        self.flush(Duration::from_secs(5));
        // Disconnect the control channel so the thread ends.
        let (closed, _) = bounded(1);
        self.control = closed;
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
