//! Property test: the paragraph stage (exact groups + MinHash/LSH candidates + exact
//! verification) against brute-force exact Jaccard over all pairs, on small random
//! corpora with planted near-duplicates.
//!
//! The MinHash family and the proptest RNG are both seeded, so each case is
//! deterministic: the test cannot pass or fail by chance from one run to the next.

use neardup::passage::TokenTable;
use neardup::pipeline::{paragraph_pairs, paragraph_shingles, ParagraphPairs};
use neardup::shingle::jaccard;
use neardup::Config;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestRng, TestRunner};

/// A corpus: base paragraphs plus edited copies (substitutions, deletions, insertions).
fn corpus() -> impl Strategy<Value = Vec<Vec<u64>>> {
    let base = prop::collection::vec(prop::collection::vec(0u64..300, 8..60), 2..14);
    let edits = prop::collection::vec(
        (
            0usize..64,
            0usize..4,
            prop::collection::vec((0u8..3, 0usize..64, 0u64..300), 0..6),
        ),
        0..20,
    );
    (base, edits).prop_map(|(base, edits)| {
        let mut paras = base.clone();
        for (src, _, ops) in edits {
            let mut p = base[src % base.len()].clone();
            for (kind, at, word) in ops {
                let at = at % p.len().max(1);
                match kind {
                    0 => p[at] = word + 1000,
                    1 if p.len() > 1 => {
                        p.remove(at);
                    }
                    _ => p.insert(at, word + 1000),
                }
            }
            paras.push(p);
        }
        paras
    })
}

fn table(paras: &[Vec<u64>]) -> TokenTable {
    let mut t = TokenTable::new();
    for p in paras {
        t.push(
            p.iter()
                .map(|&w| neardup::shingle::finalize(w) as neardup::normalize::TokenHash),
        );
    }
    t
}

/// Whether LSH (with exact-duplicate grouping) proposes the pair: exact duplicates enter
/// LSH through their group's first member, so the pair is found when both map to the
/// same representative or the representatives are candidates.
fn found(pairs: &ParagraphPairs, a: u32, b: u32) -> bool {
    let rep = |p: u32| {
        pairs
            .exact
            .iter()
            .find(|g| g.contains(&p))
            .map_or(p, |g| g[0])
    };
    let (ra, rb) = (rep(a), rep(b));
    ra == rb
        || pairs
            .candidates
            .binary_search(&(ra.min(rb), ra.max(rb)))
            .is_ok()
}

#[test]
fn lsh_candidates_and_verification_match_brute_force() {
    let mut runner = TestRunner::new_with_rng(
        PtConfig {
            cases: 96,
            failure_persistence: None,
            ..PtConfig::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let at_threshold = std::cell::Cell::new(0usize);
    let missed = std::cell::Cell::new(0usize);
    for threshold in [0.5, 0.8] {
        let config = Config::builder()
            .threshold(threshold)
            .min_words(8)
            .build()
            .unwrap();
        runner
            .run(&corpus(), |paras| {
                let t = table(&paras);
                let pairs = paragraph_pairs(&t, &config);
                let sets: Vec<Vec<u64>> = (0..t.len() as u32)
                    .map(|p| paragraph_shingles(&t, &config, p))
                    .collect();
                for a in 0..t.len() as u32 {
                    for b in a + 1..t.len() as u32 {
                        // Paragraphs shorter than min_words are never reported.
                        if t.get(a as usize).len() < 8 || t.get(b as usize).len() < 8 {
                            continue;
                        }
                        let j = jaccard(&sets[a as usize], &sets[b as usize]);
                        let verified = pairs.verified.binary_search(&(a, b)).is_ok();
                        // Precision is exact: nothing below the threshold is ever verified.
                        prop_assert!(!verified || j >= threshold, "{a}-{b}: J={j}");
                        // Every candidate at or above the threshold is verified.
                        if pairs.candidates.binary_search(&(a, b)).is_ok() && j >= threshold {
                            prop_assert!(verified, "{a}-{b}: J={j} candidate not verified");
                        }
                        // Clearly similar pairs are always candidates.
                        if j >= threshold {
                            at_threshold.set(at_threshold.get() + 1);
                            missed.set(missed.get() + usize::from(!found(&pairs, a, b)));
                        }
                        if j >= threshold + 0.1 {
                            prop_assert!(found(&pairs, a, b), "{a}-{b}: J={j} missed");
                        }
                    }
                }
                Ok(())
            })
            .unwrap();
    }
    let (at_threshold, missed) = (at_threshold.get(), missed.get());
    assert!(
        at_threshold > 100,
        "too few true pairs to measure: {at_threshold}"
    );
    let recall = 1.0 - missed as f64 / at_threshold as f64;
    assert!(
        recall >= 0.98,
        "candidate recall {recall} ({missed} of {at_threshold} missed)"
    );
}
