//! The admission hot path never allocates: counted with a global allocator, on the test's own
//! thread only (the test harness's other threads may allocate meanwhile, more so on a loaded
//! machine).

use smartlic_agent::admission::{Admission, CallPolicy};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether this thread's allocations are counted.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTED.try_with(Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwards to the system allocator with the same layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwards to the system allocator with the same pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn admission_does_not_allocate() {
    let gates = Admission::new(7, CallPolicy::Allow { limit: 10_000 });
    COUNTED.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::SeqCst);
    let mut admitted = 0u64;
    for round in 0..20_000u64 {
        let service = (round % 7) as usize;
        if let Ok(t) = gates.try_admit(service) {
            admitted += 1;
            if round % 3 == 0 {
                drop(t);
            } else {
                gates.release(t.detach(service));
            }
        }
        gates.set_policy(
            service,
            if round % 1000 == 999 {
                CallPolicy::Block
            } else {
                CallPolicy::Allow { limit: 10_000 }
            },
        );
        let _ = gates.take_peak(service);
    }
    let after = ALLOCS.load(Ordering::SeqCst);
    COUNTED.with(|c| c.set(false));
    assert!(admitted > 19_000);
    assert_eq!(after - before, 0, "the admission path allocated");
}
