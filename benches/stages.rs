//! One criterion bench per pipeline stage, each reported in bytes of input text per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neardup::passage::{
    align_all, repeated_seed_match_parts, seed_matches, seed_postings, PassageParams,
};
use neardup::pipeline::{aligned_pairs, analyze, group_passages, paragraph_pairs, token_table};
use neardup::results::{ClusterRuns, Clusters};
use neardup::segment::{paragraphs, sentences, ParagraphMode};
use neardup::shingle::shingle_set;
use neardup::sketch::MinHasher;
use neardup::Config;
use std::hint::black_box;

mod common;

fn stages(c: &mut Criterion) {
    let docs = common::documents();
    let bytes = common::total_bytes(&docs);
    let config = Config::default();
    let mut g = c.benchmark_group("stage");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));

    g.bench_function("segment", |b| {
        b.iter(|| {
            let mut n = 0;
            for d in &docs {
                for p in paragraphs(&d.text, ParagraphMode::Line) {
                    n += sentences(&d.text, p.start as usize, p.end as usize).len();
                }
            }
            black_box(n)
        })
    });

    g.bench_function("normalize", |b| {
        let mut tokens = Vec::new();
        b.iter(|| {
            tokens.clear();
            for d in &docs {
                for p in paragraphs(&d.text, ParagraphMode::Line) {
                    let text = &d.text[p.start as usize..p.end as usize];
                    neardup::normalize::tokenize(text, p.start, &mut tokens);
                }
            }
            black_box(tokens.len())
        })
    });

    // The same paragraphs cut once beforehand: `tokenize` alone, in bytes of paragraph text.
    let slices: Vec<(&str, u32)> = docs
        .iter()
        .flat_map(|d| {
            paragraphs(&d.text, ParagraphMode::Line)
                .into_iter()
                .map(move |p| (&d.text[p.start as usize..p.end as usize], p.start))
        })
        .collect();
    let paragraph_bytes: u64 = slices.iter().map(|(text, _)| text.len() as u64).sum();
    g.throughput(Throughput::Bytes(paragraph_bytes));
    g.bench_function("normalize_tokenize_only", |b| {
        let mut tokens = Vec::new();
        b.iter(|| {
            tokens.clear();
            for &(text, base) in &slices {
                neardup::normalize::tokenize(text, base, &mut tokens);
            }
            black_box(tokens.len())
        })
    });
    g.throughput(Throughput::Bytes(bytes));

    let analyses: Vec<_> = docs.iter().map(|d| analyze(d, &config)).collect();
    let table = token_table(&analyses);

    g.bench_function("shingle", |b| {
        let mut set = Vec::new();
        b.iter(|| {
            let mut n = 0;
            for p in 0..table.len() {
                shingle_set(table.get(p), 5, &mut set);
                n += set.len();
            }
            black_box(n)
        })
    });

    g.bench_function("sketch", |b| {
        let hasher = MinHasher::new(128);
        let (mut set, mut sig) = (Vec::new(), Vec::new());
        b.iter(|| {
            for p in 0..table.len() {
                shingle_set(table.get(p), 5, &mut set);
                hasher.sign(&set, &mut sig);
            }
            black_box(sig.len())
        })
    });

    // The MinHash kernel alone, over the shingles of every paragraph made beforehand.
    g.bench_function("minhash", |b| {
        let hasher = MinHasher::new(128);
        let sets: Vec<Vec<u64>> = (0..table.len())
            .map(|p| {
                let mut set = Vec::new();
                shingle_set(table.get(p), 5, &mut set);
                set
            })
            .collect();
        let mut sig = Vec::new();
        b.iter(|| {
            for set in &sets {
                hasher.sign(set, &mut sig);
            }
            black_box(sig.len())
        })
    });

    g.bench_function("lsh_and_verify", |b| {
        b.iter(|| black_box(paragraph_pairs(&table, &config).verified.len()))
    });

    let params = PassageParams {
        k: 4,
        window: 3,
        min_words: 8,
        min_similarity: 0.8,
    };
    let all: Vec<u32> = (0..table.len() as u32).collect();
    g.bench_function("seeds", |b| {
        b.iter(|| {
            let postings = seed_postings(&table, &all, &params);
            black_box(seed_matches(vec![postings], 8).len())
        })
    });

    // The in-memory map and reduce: seeds grouped by partition, each partition's
    // singletons dropped by its own filter before postings are made.
    g.bench_function("seeds_filtered", |b| {
        b.iter(|| {
            let (parts, _) = repeated_seed_match_parts(&table, &all, &params);
            black_box(parts.iter().map(Vec::len).sum::<usize>())
        })
    });

    let matches = seed_matches(vec![seed_postings(&table, &all, &params)], 8);
    g.bench_function("alignment", |b| {
        b.iter(|| black_box(align_all(&table, &matches, &params).len()))
    });

    // The reduce of the passage stage: linked sets split, completed and checked.
    let aligned = align_all(&table, &matches, &params);
    g.bench_function("passage_groups", |b| {
        b.iter(|| black_box(group_passages(&table, aligned_pairs(&aligned), &config).len()))
    });

    // The report: every row's CSV, its text quoted from the documents.
    let findings = neardup::find_duplicates(&docs, &config);
    g.bench_function("report", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            neardup::report::write_csv(&mut out, &findings, docs.as_slice()).expect("written");
            black_box(out.len())
        })
    });

    // The results of a spilled run: the clusters written in sorted runs of 4,096 rows,
    // then merged back in report order.
    let clusters = findings.clusters;
    g.bench_function("cluster_store", |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut runs = ClusterRuns::create(dir.path(), 0, 4096, docs.len()).expect("created");
            runs.push(clusters.clone()).expect("written");
            let store = runs.finish().expect("finished");
            let mut merged = 0;
            store
                .for_each_run(&mut |run| {
                    merged += run.len();
                    Ok(())
                })
                .expect("merged");
            black_box(merged)
        })
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
