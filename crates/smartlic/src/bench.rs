//! `smartlic bench admission`: the admission hot path measured against its floor (a bare atomic
//! add and subtract) and a naive `Mutex<HashMap>` baseline, on one thread and on T threads
//! admitting on the same service, all in one run. Prints one JSON object.

use serde::Serialize;
use smartlic_agent::admission::{Admission, CallPolicy, UNLIMITED};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The figures, nanoseconds per operation (one admit + its release).
#[derive(Debug, Serialize)]
pub struct AdmissionFigures {
    /// Real admission path, one thread.
    pub admission_ns: f64,
    /// `fetch_add` + `fetch_sub` on one `AtomicU64`, one thread.
    pub atomic_floor_ns: f64,
    /// `Mutex<HashMap>` counters, one thread.
    pub mutex_ns: f64,
    /// Real admission path, T threads on one service (wall time per operation per thread).
    pub admission_mt_ns: f64,
    /// Atomic floor, T threads.
    pub atomic_floor_mt_ns: f64,
    /// Mutex baseline, T threads.
    pub mutex_mt_ns: f64,
    /// Threads used for the `_mt` figures.
    pub threads: usize,
    /// admission_ns / atomic_floor_ns.
    pub admission_vs_floor: f64,
    /// mutex_mt_ns / admission_mt_ns.
    pub mutex_mt_vs_admission_mt: f64,
}

/// The naive baseline: per-service counters behind one lock.
struct MutexCounters {
    map: Mutex<HashMap<usize, (u64, u64)>>,
}

impl MutexCounters {
    fn admit(&self, service: usize) -> bool {
        let Ok(mut m) = self.map.lock() else { return false };
        let e = m.entry(service).or_insert((0, u64::MAX));
        if e.0 >= e.1 {
            return false;
        }
        e.0 += 1;
        true
    }
    fn release(&self, service: usize) {
        if let Ok(mut m) = self.map.lock()
            && let Some(e) = m.get_mut(&service)
        {
            e.0 -= 1;
        }
    }
}

/// Runs `op` in a loop on `threads` threads for `dur`; returns ns per op per thread.
fn measure(threads: usize, dur: Duration, op: &(dyn Fn() + Sync)) -> f64 {
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1024 {
                        op();
                    }
                    n += 1024;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = start.elapsed().as_nanos() as f64;
    let per_thread = total.load(Ordering::Relaxed) as f64 / threads as f64;
    elapsed / per_thread.max(1.0)
}

/// Runs the benchmark for about `seconds` in all.
pub fn admission(seconds: f64, threads: usize) -> AdmissionFigures {
    let threads = threads.max(1);
    let slice = Duration::from_secs_f64((seconds / 6.0).max(0.05));
    let gates = Admission::new(7, CallPolicy::Allow { limit: UNLIMITED });
    let floor = AtomicU64::new(0);
    let mutex = MutexCounters {
        map: Mutex::new(HashMap::new()),
    };
    let admit = || {
        if let Ok(t) = gates.try_admit(black_box(0)) {
            drop(black_box(t));
        }
    };
    let atomic = || {
        black_box(floor.fetch_add(1, Ordering::AcqRel));
        black_box(floor.fetch_sub(1, Ordering::AcqRel));
    };
    let locked = || {
        if mutex.admit(black_box(0)) {
            mutex.release(0);
        }
    };
    // Warm up once.
    measure(1, Duration::from_millis(20), &admit);
    let admission_ns = measure(1, slice, &admit);
    let atomic_floor_ns = measure(1, slice, &atomic);
    let mutex_ns = measure(1, slice, &locked);
    let admission_mt_ns = measure(threads, slice, &admit);
    let atomic_floor_mt_ns = measure(threads, slice, &atomic);
    let mutex_mt_ns = measure(threads, slice, &locked);
    AdmissionFigures {
        admission_ns,
        atomic_floor_ns,
        mutex_ns,
        admission_mt_ns,
        atomic_floor_mt_ns,
        mutex_mt_ns,
        threads,
        admission_vs_floor: admission_ns / atomic_floor_ns,
        mutex_mt_vs_admission_mt: mutex_mt_ns / admission_mt_ns,
    }
}
