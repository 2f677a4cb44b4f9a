//! A bounded, non-blocking line buffer drained by a thread of its own:
//! logging never waits on the terminal or the disk.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;
use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::sync::{AtomicU64, Ordering};

struct Pending {
    bytes: Vec<u8>,
    closed: bool,
    // Lines handed to the writer thread but not yet written.
    writing: bool,
}

// std's locks, not parking_lot's: on Linux they are a futex word and never
// allocate, where parking_lot allocates its thread record the first time a
// thread parks, which would put an allocation on some unlucky request.
struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    drained: Condvar,
    capacity: usize,
    dropped: AtomicU64,
}

impl Shared {
    // Nothing panics while holding the lock, and a line buffer is valid in
    // any state a panic could leave it in: poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn wait<'a>(
    on: &Condvar,
    guard: MutexGuard<'a, Pending>,
    timeout: Duration,
) -> MutexGuard<'a, Pending> {
    match on.wait_timeout(guard, timeout) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

/// Where a [`Logger`](super::Logger)'s lines go when they must not block
/// the caller: a buffer of fixed capacity that a thread writes out every
/// `interval` (or sooner, once half full). A line that does not fit is
/// dropped and counted, never waited for. Dropping the writer writes out
/// what is buffered.
pub struct BufferedWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BufferedWriter {
    /// Buffers up to `capacity` bytes for `out`, written every `interval`.
    pub fn new(out: Box<dyn Write + Send>, capacity: usize, interval: Duration) -> BufferedWriter {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                bytes: Vec::with_capacity(capacity),
                closed: false,
                writing: false,
            }),
            wake: Condvar::new(),
            drained: Condvar::new(),
            capacity,
            dropped: AtomicU64::new(0),
        });
        let drain = shared.clone();
        let thread = std::thread::Builder::new()
            .name("synkit-log".into())
            .spawn(move || run(&drain, out, interval))
            .ok();
        BufferedWriter { shared, thread }
    }

    /// Buffers `line`, or drops it (and counts it) if it does not fit.
    /// Never blocks on output and never allocates.
    pub fn write_line(&self, line: &[u8]) {
        let mut pending = self.shared.lock();
        if pending.closed || pending.bytes.len() + line.len() > self.shared.capacity {
            drop(pending);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was = pending.bytes.len();
        pending.bytes.extend_from_slice(line);
        let half = self.shared.capacity / 2;
        if was < half && pending.bytes.len() >= half {
            self.shared.wake.notify_one();
        }
    }

    /// Lines dropped so far because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every line buffered so far is written.
    pub fn flush(&self) {
        let mut pending = self.shared.lock();
        self.shared.wake.notify_one();
        while (!pending.bytes.is_empty() || pending.writing) && self.thread.is_some() {
            pending = wait(&self.shared.drained, pending, Duration::from_millis(100));
            self.shared.wake.notify_one();
        }
    }
}

fn run(shared: &Shared, mut out: Box<dyn Write + Send>, interval: Duration) {
    let mut spare = Vec::with_capacity(shared.capacity);
    loop {
        let closed = {
            let mut pending = shared.lock();
            if pending.bytes.is_empty() && !pending.closed {
                pending = wait(&shared.wake, pending, interval);
            }
            core::mem::swap(&mut pending.bytes, &mut spare);
            pending.writing = !spare.is_empty();
            pending.closed
        };
        if !spare.is_empty() {
            let _ = out.write_all(&spare);
            let _ = out.flush();
            spare.clear();
            shared.lock().writing = false;
        }
        shared.drained.notify_all();
        if closed && shared.lock().bytes.is_empty() {
            return;
        }
    }
}

impl Drop for BufferedWriter {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl core::fmt::Debug for BufferedWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BufferedWriter")
            .field("capacity", &self.shared.capacity)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    /// Output that can be read back from the test.
    #[derive(Clone, Default)]
    struct Shared2(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared2 {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_whole_and_in_order_and_overflow_is_counted() {
        let out = Shared2::default();
        let w = BufferedWriter::new(Box::new(out.clone()), 32, Duration::from_secs(3600));
        w.write_line(b"one\n");
        w.write_line(b"two\n");
        // 8 of 32 bytes used: a 30-byte line does not fit.
        w.write_line(&[b'x'; 30]);
        assert_eq!(w.dropped(), 1);
        w.flush();
        assert_eq!(&*out.0.lock(), b"one\ntwo\n");
        w.write_line(b"three\n");
        drop(w);
        assert_eq!(&*out.0.lock(), b"one\ntwo\nthree\n");
    }
}
