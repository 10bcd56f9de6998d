//! LSH banding over MinHash signatures: which paragraphs become candidate pairs.
//!
//! A signature of K slots is cut into b bands of r slots; two paragraphs are candidates
//! when any band is equal in both. P(candidate | J = s) = 1 − (1 − s^r)^b. [`choose_bands`]
//! picks (b, r) for the configured threshold so that pairs at the threshold are found
//! with probability ≥ [`MIN_RECALL_AT_THRESHOLD`]: every candidate is verified exactly
//! afterwards, so extra candidates cost time, never precision.

use crate::records::{partition, BandRecord};
use crate::shingle::finalize;
use rayon::prelude::*;

/// Probability that a pair whose Jaccard equals the threshold becomes a candidate.
pub const MIN_RECALL_AT_THRESHOLD: f64 = 0.985;

/// Buckets up to this size emit all their pairs; larger ones (boilerplate) emit a star to
/// their first member, so the work stays linear in the bucket size.
pub const ALL_PAIRS_MAX: usize = 16;

/// Probability that a pair of Jaccard `s` shares at least one of `bands` bands of `rows`.
pub fn collision_probability(s: f64, bands: usize, rows: usize) -> f64 {
    1.0 - (1.0 - s.powi(rows as i32)).powi(bands as i32)
}

/// The banding (bands, rows) with bands × rows ≤ `num_perm` that keeps the recall at
/// `threshold` ≥ [`MIN_RECALL_AT_THRESHOLD`] with the fewest false candidates (smallest
/// ∫₀^t P(s) ds).
pub fn choose_bands(threshold: f64, num_perm: usize) -> (usize, usize) {
    let mut best = (num_perm, 1);
    let mut best_fp = f64::INFINITY;
    for rows in 1..=num_perm {
        let bands = num_perm / rows;
        if bands == 0 {
            break;
        }
        if collision_probability(threshold, bands, rows) < MIN_RECALL_AT_THRESHOLD {
            continue;
        }
        let fp = integrate(|s| collision_probability(s, bands, rows), 0.0, threshold);
        if fp < best_fp {
            best_fp = fp;
            best = (bands, rows);
        }
    }
    best
}

fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    const STEPS: usize = 200;
    let h = (hi - lo) / STEPS as f64;
    (0..STEPS).map(|i| f(lo + (i as f64 + 0.5) * h) * h).sum()
}

/// The key of each band of `sig`: a hash of the band index and the band's `rows` slots
/// (slot values are already uniform, so a multiply-rotate mix with a full-avalanche
/// finish is enough, at a few cycles per slot).
pub fn band_keys(sig: &[u32], bands: usize, rows: usize) -> impl Iterator<Item = u64> + '_ {
    (0..bands).map(move |band| {
        let slots = sig.get(band * rows..(band + 1) * rows).unwrap_or(&[]);
        let mut h = 0x6A09_E667_F3BC_C908 ^ band as u64;
        for &v in slots {
            h = (h ^ u64::from(v))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(29);
        }
        finalize(h)
    })
}

/// Appends one [`BandRecord`] per band of `sig` for paragraph `para`.
pub fn band_records(sig: &[u32], bands: usize, rows: usize, para: u64, out: &mut Vec<BandRecord>) {
    out.extend(band_keys(sig, bands, rows).map(|key| BandRecord { key, para }));
}

/// The reduce of the band stage: distinct candidate pairs (a < b) from band records
/// given in chunks, sorted. Records are cut by [`partition`] of their key and each
/// partition is scanned on its own, in parallel ([`reduce_partitions`]).
pub fn candidate_pairs(chunks: Vec<Vec<BandRecord>>) -> Vec<(u64, u64)> {
    distinct_pairs(reduce_partitions(chunks, |r| r.key, partition_pairs))
}

/// The pairs the partitions gave, joined, sorted and deduplicated.
pub fn distinct_pairs(parts: Vec<Vec<(u64, u64)>>) -> Vec<(u64, u64)> {
    let mut pairs = concat_freeing(parts);
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
}

/// Runs `reduce` over each partition (a value of [`partition`] of `key`, in order;
/// empty ones left out) of the records of all `chunks`, sorted: the slices
/// [`sort_into_partitions`] gives over the chunks joined, without ever holding the
/// records twice. The chunks are sorted in place, then each partition's records are
/// gathered from them into a buffer of their own. The chunks are freed before the
/// results are returned.
pub fn reduce_partitions<T, R>(
    mut chunks: Vec<Vec<T>>,
    key: impl Fn(&T) -> u64 + Sync,
    reduce: impl Fn(&[T]) -> R + Sync,
) -> Vec<R>
where
    T: Ord + Copy + Send + Sync,
    R: Send,
{
    if chunks.len() <= 1 {
        // One chunk: sorted in parallel and cut where it is, with no copy.
        let mut records = chunks.pop().unwrap_or_default();
        return sort_into_partitions(&mut records, key)
            .into_par_iter()
            .with_max_len(1)
            .map(&reduce)
            .collect();
    }
    // Each chunk grouped by partition in place, in linear time: the partition's sort
    // below gives the order. Where each partition starts in each chunk; the end of the
    // chunk last.
    let starts: Vec<[usize; PARTS + 1]> = chunks
        .par_iter_mut()
        .map(|c| group_by_partition(c, |r| partition(key(r))))
        .collect();
    // One task a partition, so that the last ones do not wait on one thread.
    let results = (0..PARTS)
        .into_par_iter()
        .with_max_len(1)
        .filter_map(|p| {
            let range = |s: &[usize; PARTS + 1]| s[p]..s[p + 1];
            let total: usize = starts.iter().map(|s| range(s).len()).sum();
            if total == 0 {
                return None;
            }
            let mut part = Vec::with_capacity(total);
            for (c, s) in chunks.iter().zip(&starts) {
                part.extend_from_slice(&c[range(s)]);
            }
            part.sort_unstable();
            Some(reduce(&part))
        })
        .collect();
    // The chunks lie in every worker's heap: hand their memory back before the caller
    // joins the results.
    drop(chunks);
    crate::pipeline::release_free_memory();
    results
}

/// Partitions of the keyed reduces: the values of [`partition`].
const PARTS: usize = 1 << crate::records::PARTITION_BITS;

/// Reorders `records` so that those of each partition (`part` of a record, below
/// [`PARTS`]) lie together, partitions in order, and returns where each starts, the
/// length last. In place and in linear time: the records are counted by partition,
/// then each is swapped straight to the next free place of its partition (one pass
/// of an American flag sort). The order within a partition is left unspecified.
fn group_by_partition<T: Copy>(
    records: &mut [T],
    part: impl Fn(&T) -> usize,
) -> [usize; PARTS + 1] {
    let part = |r: &T| part(r).min(PARTS - 1);
    let mut starts = [0usize; PARTS + 1];
    for r in records.iter() {
        starts[part(r) + 1] += 1;
    }
    for p in 0..PARTS {
        starts[p + 1] += starts[p];
    }
    // The next place of each partition not yet holding one of its records.
    let mut next = starts;
    for p in 0..PARTS {
        while next[p] < starts[p + 1] {
            // Carry the record at the first free place of `p` to its partition's, and
            // the one found there on, until a record of `p` comes back to fill it.
            let mut carried = records[next[p]];
            loop {
                let q = part(&carried);
                if q == p {
                    break;
                }
                std::mem::swap(&mut carried, &mut records[next[q]]);
                next[q] += 1;
            }
            records[next[p]] = carried;
            next[p] += 1;
        }
    }
    starts
}

/// The candidate pairs of one partition of band records sorted by key (the reduce of
/// one partition; pairs are not yet sorted or deduplicated).
pub fn partition_pairs(part: &[BandRecord]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for run in part.chunk_by(|x, y| x.key == y.key) {
        if run.len() > 1 {
            bucket_pairs(run.iter().map(|r| r.para), &mut out);
        }
    }
    out
}

/// Emits the pairs of one bucket of ids sorted ascending: all pairs if small, a star to
/// the first otherwise. Repeated ids are skipped.
pub fn bucket_pairs(ids: impl Iterator<Item = u64> + Clone, out: &mut Vec<(u64, u64)>) {
    let mut distinct = ids.clone().scan(None, |last, id| {
        let fresh = *last != Some(id);
        *last = Some(id);
        Some(fresh.then_some(id))
    });
    let n = distinct.clone().flatten().count();
    if n < 2 {
        return;
    }
    if n <= ALL_PAIRS_MAX {
        let all: Vec<u64> = distinct.flatten().collect();
        for (i, &a) in all.iter().enumerate() {
            for &b in &all[i + 1..] {
                out.push((a, b));
            }
        }
    } else if let Some(Some(first)) = distinct.next() {
        out.extend(distinct.flatten().map(|b| (first, b)));
    }
}

/// Sorts `records` in place and returns them cut into their partitions (the
/// 2^[`PARTITION_BITS`](crate::records::PARTITION_BITS) values of [`partition`] of their key, in order; empty ones left
/// out). The partition is the top bits of the key, so sorting by the record's order,
/// which starts with the key, also sorts by partition: no copy is made.
pub fn sort_into_partitions<T: Ord + Send + Sync>(
    records: &mut [T],
    key: impl Fn(&T) -> u64 + Sync,
) -> Vec<&[T]> {
    records.par_sort_unstable();
    runs_by(records, |r| partition(key(r)))
}

/// The vectors of `chunks` one after the other, each freed as soon as it is copied, so
/// the whole is not held twice.
pub fn concat_freeing<T>(chunks: Vec<Vec<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
    for chunk in chunks {
        out.extend(chunk);
    }
    out
}

/// Cuts `sorted` (ordered by `group`) into its runs of equal `group`, in order.
pub fn runs_by<T>(sorted: &[T], group: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut runs = Vec::new();
    let mut rest = sorted;
    while let Some(first) = rest.first() {
        let g = group(first);
        let len = rest.partition_point(|r| group(r) == g);
        let (head, tail) = rest.split_at(len);
        runs.push(head);
        rest = tail;
    }
    runs
}

/// `0..n` for the `n` weights given, cut in order into ranges of at most `max_items`
/// items weighing at most `max_weight` in all; an item heavier than that is a range of
/// its own. How a parallel stage cuts its work into tasks of bounded size.
pub fn weighted_runs(
    weights: impl IntoIterator<Item = usize>,
    max_items: usize,
    max_weight: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let (mut from, mut held, mut n) = (0, 0usize, 0);
    for (i, w) in weights.into_iter().enumerate() {
        if i > from && (i - from == max_items || held.saturating_add(w) > max_weight) {
            runs.push(from..i);
            (from, held) = (i, 0);
        }
        held = held.saturating_add(w);
        n = i + 1;
    }
    if from < n {
        runs.push(from..n);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_runs_are_bounded_by_items_and_weight() {
        // (weights, max items, max weight, the runs' ends)
        let cases: &[(&[usize], usize, usize, &[usize])] = &[
            (&[], 4, 10, &[]),
            (&[3, 3, 3, 3], 4, 10, &[3, 4]),
            (&[1, 1, 1, 1, 1], 2, 100, &[2, 4, 5]),
            (&[20, 1, 1], 8, 10, &[1, 3]),
            (&[1, 20, 1], 8, 10, &[1, 2, 3]),
        ];
        for &(weights, items, weight, ends) in cases {
            let got = weighted_runs(weights.iter().copied(), items, weight);
            let starts = std::iter::once(0).chain(ends.iter().copied());
            let want: Vec<_> = starts.zip(ends).map(|(a, &b)| a..b).collect();
            assert_eq!(got, want, "{weights:?} by {items} and {weight}");
        }
    }

    #[test]
    fn chosen_banding_meets_recall_at_threshold() {
        for &(t, k) in &[(0.8, 128), (0.5, 128), (0.9, 64), (0.95, 256), (0.3, 128)] {
            let (b, r) = choose_bands(t, k);
            assert!(b * r <= k);
            assert!(
                collision_probability(t, b, r) >= MIN_RECALL_AT_THRESHOLD,
                "t={t}"
            );
        }
        // At the default threshold, the seed's passage pair (J ≈ 0.23) is no candidate.
        let (b, r) = choose_bands(0.8, 128);
        assert!(collision_probability(0.23, b, r) < 1e-3);
    }

    #[test]
    fn buckets_emit_pairs_or_star() {
        let mut out = Vec::new();
        bucket_pairs([1u64, 2, 3].into_iter(), &mut out);
        assert_eq!(out, vec![(1, 2), (1, 3), (2, 3)]);
        out.clear();
        bucket_pairs(0..100u64, &mut out);
        assert_eq!(out.len(), 99);
        assert!(out.iter().all(|&(a, _)| a == 0));
    }

    #[test]
    fn records_are_grouped_by_partition_in_place() {
        let mut next = crate::test_rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..300usize {
            let len = case * 7 % 1_000;
            // Few partitions, many, or all: skewed as a boilerplate seed makes them.
            let spread = [1, 3, 40, PARTS as u64][case % 4];
            let records: Vec<(u64, u32)> = (0..len)
                .map(|i| {
                    (
                        next(spread) << (64 - crate::records::PARTITION_BITS),
                        i as u32,
                    )
                })
                .collect();
            let mut grouped = records.clone();
            let starts = group_by_partition(&mut grouped, |r| partition(r.0));
            assert_eq!(starts[0], 0);
            assert_eq!(starts[PARTS], len);
            for p in 0..PARTS {
                assert!(grouped[starts[p]..starts[p + 1]]
                    .iter()
                    .all(|r| partition(r.0) == p));
            }
            grouped.sort_unstable();
            let mut sorted = records;
            sorted.sort_unstable();
            assert_eq!(grouped, sorted);
        }
    }

    #[test]
    fn partitions_are_reduced_as_the_records_sorted_whole() {
        let mut next = crate::test_rng(0x2545_F491_4F6C_DD1D);
        let chunks: Vec<Vec<(u64, u32)>> = (0..40)
            .map(|c| {
                (0..c * 13)
                    .map(|i| (next(1 << 12) << 52 | next(4), i as u32 % 3))
                    .collect()
            })
            .collect();
        let mut all: Vec<(u64, u32)> = chunks.concat();
        let want: Vec<Vec<(u64, u32)>> = sort_into_partitions(&mut all, |r| r.0)
            .into_iter()
            .map(<[_]>::to_vec)
            .collect();
        assert_eq!(reduce_partitions(chunks, |r| r.0, <[_]>::to_vec), want);
    }

    #[test]
    fn equal_bands_give_candidates() {
        let mut recs = Vec::new();
        band_records(&[1, 2, 3, 4], 2, 2, 10, &mut recs);
        band_records(&[1, 2, 9, 9], 2, 2, 20, &mut recs);
        band_records(&[5, 5, 9, 9], 2, 2, 30, &mut recs);
        band_records(&[7, 7, 7, 7], 2, 2, 40, &mut recs);
        assert_eq!(candidate_pairs(vec![recs]), vec![(10, 20), (20, 30)]);
    }
}
