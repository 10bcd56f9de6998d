//! End to end: documents in memory to the CSV report, in bytes of input per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neardup::{find_duplicates, report, Config};
use std::hint::black_box;

mod common;

fn end_to_end(c: &mut Criterion) {
    let docs = common::documents();
    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(common::total_bytes(&docs)));
    for (name, passages) in [("passages", true), ("no_passages", false)] {
        let config = Config::builder().passages(passages).build().expect("valid");
        g.bench_function(name, |b| {
            b.iter(|| {
                let findings = find_duplicates(&docs, &config);
                let mut out = Vec::new();
                report::write_csv(&mut out, &findings, &docs).expect("in memory");
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
