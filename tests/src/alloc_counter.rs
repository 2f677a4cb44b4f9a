use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting allocations made by each thread.
///
/// Installed as this crate's `#[global_allocator]`; see
/// [`allocations_during`] and [`assert_no_alloc`] to read it.
#[derive(Debug)]
pub struct CountingAllocator;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

thread_local! {
    // `const` and free of destructors: reading it never allocates, so the
    // allocator can touch it from inside an allocation.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Every allocation in the process, for measuring code that runs on
/// threads a test does not own (a server's event loop).
static ALL_ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn count_one() {
    // `try_with` fails only while the thread is being torn down; an
    // allocation then belongs to no test and is not counted.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    ALL_ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Allocations made so far by every thread of the process.
pub fn process_allocations() -> u64 {
    ALL_ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; counting touches only a
// thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, which
        // is `System` underneath.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, which
        // is `System` underneath.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn allocations_so_far() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Runs `f` and returns how many allocations (and reallocations) the current
/// thread made during it, with `f`'s result.
///
/// Allocations made by other threads — including threads `f` spawns — are
/// not counted.
pub fn allocations_during<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = allocations_so_far();
    let out = std::hint::black_box(f());
    let made = allocations_so_far() - before;
    (made, out)
}

/// Runs `f` and panics, naming the count, if the current thread allocated
/// during it. Returns `f`'s result.
///
/// # Panics
///
/// If `f` allocated, or if `f` panics.
#[track_caller]
pub fn assert_no_alloc<T>(f: impl FnOnce() -> T) -> T {
    let (made, out) = allocations_during(f);
    assert!(made == 0, "expected no allocation, but {made} were made");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_boxes_vectors_and_growth() {
        assert_eq!(allocations_during(|| Box::new(1u64)).0, 1);
        let (n, _) = allocations_during(|| {
            let mut v: Vec<u8> = Vec::with_capacity(1);
            v.extend_from_slice(&[1, 2]); // grows: one reallocation
            v
        });
        assert_eq!(n, 2);
    }

    #[test]
    fn ignores_other_threads() {
        let handle = std::thread::spawn(|| ());
        let (n, ()) = allocations_during(|| {
            std::hint::black_box(1 + 1);
        });
        assert_eq!(n, 0);
        handle.join().unwrap();
    }

    #[test]
    #[should_panic(expected = "expected no allocation, but 1 were made")]
    fn assert_no_alloc_fails_on_an_allocation() {
        assert_no_alloc(|| Box::new(3u8));
    }
}
