//! RESP codec hot paths: parsing a pipeline of requests and encoding an array reply.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use resp::{encode, parse_request, Frame, ParseLimits};

/// 16 pipelined `SET key:NNN value` requests, as a client sends them.
fn set_pipeline() -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..16 {
        let key = format!("key:{i:03}");
        buf.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n$5\r\nvalue\r\n",
                key.len(),
                key
            )
            .as_bytes(),
        );
    }
    buf
}

fn bench(c: &mut Criterion) {
    let limits = ParseLimits::default();
    let pipeline = set_pipeline();

    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(16));
    g.bench_function("parse 16x SET pipeline", |b| {
        b.iter(|| {
            let buf = black_box(&pipeline[..]);
            let mut pos = 0;
            let mut n = 0;
            while let Ok(Some((argv, used))) = parse_request(&buf[pos..], &limits) {
                pos += used;
                n += argv.len();
                black_box(argv);
            }
            assert_eq!(pos, buf.len());
            n
        })
    });

    let reply = Frame::Array(
        (0..100)
            .map(|i| Frame::Bulk(format!("value:{i:03}").into_bytes()))
            .collect(),
    );
    let mut out = Vec::with_capacity(4096);
    g.throughput(Throughput::Elements(100));
    for (name, resp3) in [
        ("encode 100-element array (RESP2)", false),
        ("encode 100-element array (RESP3)", true),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                encode(black_box(&reply), resp3, &mut out);
                out.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
