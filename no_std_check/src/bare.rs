//! What a binary without `std` must bring itself: an entry point, a panic
//! handler and — with `alloc` — a global allocator. The C library supplies
//! process start-up, `write` and `abort`.

use core::panic::PanicInfo;

#[link(name = "c")]
unsafe extern "C" {
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    fn abort() -> !;
}

fn write_stderr(bytes: &[u8]) {
    // SAFETY: `bytes` is a live slice; `write` reads at most `bytes.len()`
    // bytes from it and fd 2 is the process's stderr.
    let _ = unsafe { write(2, bytes.as_ptr(), bytes.len()) };
}

/// Exit code 0 when every check passes; 1 after naming the failure.
#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    match no_std_check::run() {
        Ok(()) => 0,
        Err(failed) => {
            write_stderr(b"no_std check failed: ");
            write_stderr(failed.as_bytes());
            write_stderr(b"\n");
            1
        }
    }
}

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    write_stderr(b"no_std check panicked\n");
    // SAFETY: `abort` takes no arguments and never returns.
    unsafe { abort() }
}

#[cfg(feature = "alloc")]
mod heap {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;
    use core::ptr;
    use core::sync::atomic::{AtomicUsize, Ordering};

    const SIZE: usize = 64 * 1024;

    /// A bump allocator over a static arena: enough for a check that
    /// allocates a few endpoints and frees them at exit.
    struct Arena {
        bytes: UnsafeCell<[u8; SIZE]>,
        used: AtomicUsize,
    }

    // SAFETY: the arena hands out disjoint ranges, each claimed once by a
    // compare-exchange on `used`, so no two threads ever share a byte.
    unsafe impl Sync for Arena {}

    #[global_allocator]
    static ARENA: Arena = Arena {
        bytes: UnsafeCell::new([0; SIZE]),
        used: AtomicUsize::new(0),
    };

    // SAFETY: `alloc` returns either null or a range of `layout.size()`
    // bytes aligned to `layout.align()`, inside the arena and never handed
    // out before; `dealloc` frees nothing, which is always sound.
    unsafe impl GlobalAlloc for Arena {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let base = self.bytes.get().cast::<u8>();
            let mut used = self.used.load(Ordering::Relaxed);
            loop {
                let start = used + base.wrapping_add(used).align_offset(layout.align());
                let Some(end) = start.checked_add(layout.size()).filter(|&e| e <= SIZE) else {
                    return ptr::null_mut();
                };
                match self.used.compare_exchange_weak(
                    used,
                    end,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return base.wrapping_add(start),
                    Err(now) => used = now,
                }
            }
        }

        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
    }
}
