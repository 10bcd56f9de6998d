//! neardup finds near-duplicate paragraphs and repeated passages in text, in any script
//! (Arabic first-class), from a single article to large corpora, and reports them as CSV.
//!
//! Two detectors share one scan:
//!
//! * **paragraphs**: word 5-gram shingles of normalized text, MinHash (128 slots) and LSH
//!   banding tuned to the Jaccard threshold; every candidate pair is verified exactly.
//! * **passages**: winnowed word 4-gram seeds, matched between paragraphs (and inside
//!   one), extended by banded X-drop alignment into spans that repeat, even when the
//!   paragraphs around them differ entirely.
//!
//! Normalization (NFKC, case folding, Arabic orthographic folding, digits of every
//! script to ASCII, one token per character for CJK and Thai) only builds matching keys:
//! spans and text in the report are always the original bytes.
//!
//! ```
//! use neardup::{find_duplicates, Config, Document};
//!
//! let text = "The council met on Monday. It said the new budget would protect the \
//!             hospitals and schools of the region for five years.\n\
//!             Unrelated opening words here, and then: it said the new budget would \
//!             protect the hospitals and schools of the region for five years.\n";
//! let doc = Document::from_bytes(0, "a.txt".into(), text.as_bytes().to_vec());
//! let config = Config::builder().build()?;
//! let findings = find_duplicates(&[doc], &config);
//! assert_eq!(findings.clusters.len(), 1);
//! assert_eq!(findings.clusters[0].occurrences.len(), 2);
//! # Ok::<(), neardup::Error>(())
//! ```
#![deny(missing_docs)]

pub mod clean;
pub mod cluster;
pub mod config;
pub mod corpus;
pub mod error;
pub mod eval;
pub mod filter;
pub mod jsonl;
pub mod lsh;
pub mod normalize;
pub mod passage;
pub mod pipeline;
pub mod records;
pub mod report;
pub mod results;
pub mod segment;
pub mod shingle;
pub mod sketch;
pub mod spill;
pub mod texts;

pub use config::{Config, ConfigBuilder};
pub use corpus::{Document, InputFile, ReadOptions, Warning};
pub use error::{Error, Result};
pub use pipeline::{
    find_duplicates, find_duplicates_observed, Cluster, Findings, Kind, Occurrence,
};
pub use segment::ParagraphMode;

/// Asks the CPU to start loading the cache line of `item`, which will be read soon: on
/// large tables each first read is a cache miss, and misses asked for ahead overlap. A
/// hint only; it does nothing off x86-64.
#[inline]
pub(crate) fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch never faults and does not change memory; the pointer is
        // to a live value anyway.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(item).cast::<i8>());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// A xorshift64 generator for the randomized unit tests: `next(bound)` is in
/// `0..bound`. Deterministic, so a failure reproduces.
#[cfg(test)]
pub(crate) fn test_rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |bound| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    }
}

/// The length of the longest common subsequence of `a` and `b`, by the whole dynamic
/// programming table: the unit tests' oracle for the faster LCS counts.
#[cfg(test)]
pub(crate) fn lcs_by_table(a: &[u32], b: &[u32]) -> usize {
    let mut dp = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            dp[i][j] = if a[i - 1] == b[j - 1] {
                dp[i - 1][j - 1] + 1
            } else {
                dp[i - 1][j].max(dp[i][j - 1])
            };
        }
    }
    dp[a.len()][b.len()]
}

/// The unit tests' proptest settings: `cases` cases, no regression files.
#[cfg(test)]
pub(crate) fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}
