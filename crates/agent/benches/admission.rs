//! Criterion benchmark of the admission hot path against the bare atomic floor.

use criterion::{Criterion, criterion_group, criterion_main};
use smartlic_agent::admission::{Admission, CallPolicy, UNLIMITED};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

fn bench(c: &mut Criterion) {
    let gates = Admission::new(7, CallPolicy::Allow { limit: UNLIMITED });
    c.bench_function("admit+release", |b| {
        b.iter(|| {
            if let Ok(t) = gates.try_admit(black_box(0)) {
                drop(black_box(t));
            }
        })
    });
    let floor = AtomicU64::new(0);
    c.bench_function("atomic floor (fetch_add+fetch_sub)", |b| {
        b.iter(|| {
            black_box(floor.fetch_add(1, Ordering::AcqRel));
            black_box(floor.fetch_sub(1, Ordering::AcqRel));
        })
    });
    let blocked = Admission::new(1, CallPolicy::Block);
    c.bench_function("refused (blocked)", |b| {
        b.iter(|| black_box(blocked.try_admit(black_box(0)).is_err()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
