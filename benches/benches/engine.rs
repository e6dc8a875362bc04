//! Engine hot paths: SET/GET/INCR through a Txn over an in-memory store.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use engine::{MemStore, Txn};

fn argv(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn bench(c: &mut Criterion) {
    let mut store = MemStore::default();
    let mut t = Txn::new(&store, 1, 1_000, 1);
    for i in 0..10_000 {
        t.run(0, &argv(&[b"set", format!("key:{i}").as_bytes(), b"value"]));
    }
    let fx = t.into_effects();
    store.apply(&fx);

    let set = argv(&[b"set", b"key:42", b"some-value-of-moderate-length"]);
    c.bench_function("engine SET (txn + effects)", |b| {
        let mut idx = 2;
        b.iter(|| {
            idx += 1;
            let mut t = Txn::new(&store, idx, 1_000, idx);
            black_box(t.run(0, &set));
            black_box(t.into_effects())
        })
    });
    let get = argv(&[b"get", b"key:42"]);
    c.bench_function("engine GET (read-only txn)", |b| {
        b.iter(|| {
            let mut t = Txn::read_only(&store, 1_000, 0);
            black_box(t.run(0, &get))
        })
    });
    let incr = argv(&[b"incr", b"counter"]);
    c.bench_function("engine INCR (txn + effects)", |b| {
        let mut idx = 2;
        b.iter(|| {
            idx += 1;
            let mut t = Txn::new(&store, idx, 1_000, idx);
            black_box(t.run(0, &incr));
            black_box(t.into_effects())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
