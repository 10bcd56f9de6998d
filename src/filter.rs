//! A filter of keys seen more than once, to drop singleton records before they are
//! stored and sorted.
//!
//! Most band keys and seed hashes of a corpus occur once, and a key that occurs once
//! can make no pair. A keyed stage that runs in memory therefore makes its keys twice:
//! a first pass inserts every key into a [`RepeatFilter`], and the second keeps only the
//! records whose key [`RepeatFilter::maybe_repeated`]. The filter has no false
//! negatives (a key inserted twice always passes), so the pairs found are exactly those
//! found without it; a false positive only keeps a singleton, which the reduce drops as
//! before. Inserting is a set union, so the filter, and with it the kept records, do not
//! depend on the order of insertion or on the number of threads.
//!
//! Cost: two bit arrays of [`BITS_PER_KEY`] bits per expected key (2 bytes per key),
//! against 16 to 24 bytes for a stored record.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of each array per expected key. With n keys in m = 8n slots, a singleton
/// shares its slot with another key, and so passes the filter, with probability about
/// n/m = 1/8.
pub const BITS_PER_KEY: usize = 8;

/// Two bit arrays over hashed slots: `once` marks a slot seen, `twice` a slot seen again.
/// The two words of a slot are side by side, in one cache line.
#[derive(Debug)]
pub struct RepeatFilter {
    /// Per 64 slots: the `once` word and the `twice` word.
    words: Vec<[AtomicU64; 2]>,
    /// Number of slots: a multiple of 64, not rounded to a power of two.
    slots: u64,
}

impl RepeatFilter {
    /// A filter sized for about `expected` insertions.
    pub fn new(expected: usize) -> RepeatFilter {
        let words = expected.saturating_mul(BITS_PER_KEY).div_ceil(64).max(1);
        RepeatFilter {
            words: (0..words)
                .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
                .collect(),
            slots: words as u64 * 64,
        }
    }

    /// Word index and bit of `key`'s slot. Keys are hashes already; the multiply
    /// spreads any structure left in their high bits, and the slot is the high half of
    /// its product with the number of slots (a range reduction without division).
    fn slot(&self, key: u64) -> (usize, u64) {
        let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let slot = ((u128::from(mixed) * u128::from(self.slots)) >> 64) as u64;
        ((slot / 64) as usize, 1u64 << (slot % 64))
    }

    /// Asks the CPU to start loading the filter words of `key`. The filter is larger
    /// than the caches on big corpora, so each key costs a cache miss: issuing the loads
    /// of a whole paragraph's keys first lets them overlap.
    fn prefetch(&self, key: u64) {
        if let Some(pair) = self.words.get(self.slot(key).0) {
            crate::prefetch(pair);
        }
    }

    /// Records the key of every item of a batch (one paragraph's), their loads
    /// prefetched first so that the cache misses overlap.
    pub fn insert_all<T>(&self, items: &[T], key: impl Fn(&T) -> u64) {
        items.iter().for_each(|item| self.prefetch(key(item)));
        items.iter().for_each(|item| self.insert(key(item)));
    }

    /// Keeps the items of a batch whose key [`Self::maybe_repeated`], in order, their
    /// loads prefetched first.
    pub fn retain_repeated<T>(&self, items: &mut Vec<T>, key: impl Fn(&T) -> u64) {
        items.iter().for_each(|item| self.prefetch(key(item)));
        items.retain(|item| self.maybe_repeated(key(item)));
    }

    /// Records one occurrence of `key`. Safe to call from many threads at once.
    pub fn insert(&self, key: u64) {
        let (word, bit) = self.slot(key);
        if let Some([once, twice]) = self.words.get(word) {
            if once.fetch_or(bit, Ordering::Relaxed) & bit != 0
                && twice.load(Ordering::Relaxed) & bit == 0
            {
                twice.fetch_or(bit, Ordering::Relaxed);
            }
        }
    }

    /// False only if `key` was inserted at most once. Call after every insertion is
    /// done (the end of a rayon call orders the two).
    pub fn maybe_repeated(&self, key: u64) -> bool {
        let (word, bit) = self.slot(key);
        self.words
            .get(word)
            .map_or(true, |[_, twice]| twice.load(Ordering::Relaxed) & bit != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    fn key(i: u64) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())
    }

    #[test]
    fn repeated_keys_always_pass() {
        let filter = RepeatFilter::new(10_000);
        (0..10_000u64).into_par_iter().for_each(|i| {
            filter.insert(key(i));
            if i % 7 == 0 {
                filter.insert(key(i));
            }
        });
        for i in (0..10_000u64).step_by(7) {
            assert!(filter.maybe_repeated(key(i)));
        }
    }

    #[test]
    fn most_singletons_are_dropped() {
        let n = 100_000u64;
        let filter = RepeatFilter::new(n as usize);
        (0..n).into_par_iter().for_each(|i| filter.insert(key(i)));
        let passed = (0..n).filter(|&i| filter.maybe_repeated(key(i))).count();
        // About n/m = 1/8 of singletons share a slot with another key.
        assert!(passed < n as usize / 6, "{passed} of {n} singletons passed");
        assert!(!RepeatFilter::new(0).maybe_repeated(key(1)));
    }

    #[test]
    fn filter_does_not_depend_on_insertion_order() {
        let keys: Vec<u64> = (0..5_000u64).map(|i| key(i % 3_000)).collect();
        let forward = RepeatFilter::new(keys.len());
        keys.iter().for_each(|&k| forward.insert(k));
        let parallel = RepeatFilter::new(keys.len());
        keys.par_iter().rev().for_each(|&k| parallel.insert(k));
        for i in 0..10_000u64 {
            assert_eq!(
                forward.maybe_repeated(key(i)),
                parallel.maybe_repeated(key(i))
            );
        }
    }
}
