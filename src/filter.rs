//! Keys seen more than once, found one partition at a time, to drop singleton records
//! before they are stored and sorted.
//!
//! Most band keys and seed hashes of a corpus occur once, and a key that occurs once
//! can make no pair. A keyed stage that runs in memory therefore makes its keys first,
//! each chunk of paragraphs grouping its keys by [`partition`].
//! [`reduce_repeated`] then takes one partition at a time, on any thread: it inserts the
//! partition's keys from every chunk into a [`RepeatFilter`] of its own, and turns into
//! records only the keys that passed it, which it hands to the partition's reduce.
//!
//! A partition's filter is small enough to stay in the caches (a 1 GB corpus makes
//! about 340,000 band keys a partition: a 680 KB filter), and only one thread writes
//! it, so inserting needs neither an atomic operation nor a cache miss. A filter over
//! the whole corpus, shared by the threads, paid both on every key.
//!
//! The filter has no false negatives (a key inserted twice always passes), so the pairs
//! found are exactly those found without it; a false positive only keeps a singleton,
//! which the reduce drops as before. A partition's records are sorted before its reduce,
//! so nothing depends on the order of the chunks or on the number of threads.
//!
//! Cost: the keys are held once, grouped by partition, eight bytes a key: the index of
//! its paragraph in its chunk takes the place of the key's partition bits, which where
//! it is held tells (`held_word`), with 8 KB of offsets per chunk of 2,048 paragraphs.
//! The filter adds two bytes per key of one partition at a time.

use rayon::prelude::*;

use crate::records::{partition, PARTITION_BITS};

/// Number of partitions: the values of [`partition`].
const PARTS: usize = 1 << PARTITION_BITS;

/// Bits of each array per expected key. With n keys in m = 8n slots, a singleton
/// shares its slot with another key, and so passes the filter, with probability about
/// n/m = 1/8.
pub const BITS_PER_KEY: usize = 8;

/// Two bit arrays over hashed slots: `once` marks a slot seen, `twice` a slot seen again.
/// The two words of a slot are side by side, in one cache line.
#[derive(Debug)]
pub struct RepeatFilter {
    /// Per 64 slots: the `once` word and the `twice` word.
    words: Vec<[u64; 2]>,
    /// Number of slots: a multiple of 64, not rounded to a power of two.
    slots: u64,
}

impl RepeatFilter {
    /// A filter sized for about `expected` insertions.
    pub fn new(expected: usize) -> RepeatFilter {
        let words = expected.saturating_mul(BITS_PER_KEY).div_ceil(64).max(1);
        RepeatFilter {
            words: vec![[0, 0]; words],
            slots: words as u64 * 64,
        }
    }

    /// Word index and bit of `key`'s slot. Keys are hashes already; the multiply
    /// spreads any structure left in them (the keys of one partition share their top
    /// bits), and the slot is the high half of its product with the number of slots (a
    /// range reduction without division).
    fn slot(&self, key: u64) -> (usize, u64) {
        let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let slot = ((u128::from(mixed) * u128::from(self.slots)) >> 64) as u64;
        ((slot / 64) as usize, 1u64 << (slot % 64))
    }

    /// Records one occurrence of `key`.
    pub fn insert(&mut self, key: u64) {
        let (word, bit) = self.slot(key);
        if let Some([once, twice]) = self.words.get_mut(word) {
            *twice |= *once & bit;
            *once |= bit;
        }
    }

    /// False only if `key` was inserted at most once.
    pub fn maybe_repeated(&self, key: u64) -> bool {
        let (word, bit) = self.slot(key);
        self.words
            .get(word)
            .map_or(true, |[_, twice]| twice & bit != 0)
    }
}

/// Paragraphs whose keys are grouped together (one chunk of the map). Each partition's
/// reduce visits every chunk, and each visit starts with a cache miss: a chunk of 2,048
/// paragraphs gives a partition about 150 band keys (1,200 bytes) of each. At most
/// 2^16: a chunk's paragraphs are named by a `u16`.
pub const KEYED_CHUNK: usize = 2048;
const _: () = assert!(KEYED_CHUNK <= 1 << 16);

/// Partitions reduced between two releases of memory by [`reduce_repeated`]: the keys
/// of one group of partitions are held in blocks of their own, freed once the group
/// is reduced, while the records the reduce makes grow.
const PARTS_PER_GROUP: usize = PARTS / 4;
const _: () = assert!(PARTS % PARTS_PER_GROUP == 0);

/// A held key is one 64-bit word. Its top [`PARTITION_BITS`] bits, the key's partition,
/// are known from where the word is held, so they hold the low bits of its owner (the
/// index of its paragraph in its chunk) instead. The owner's high bits are known from
/// where the word is held too: within a partition, the words are held in runs of owners
/// that share their high bits ("spans" of the chunk, [`SPANS`] of them).
const OWNER_LOW_BITS: u32 = PARTITION_BITS;

/// Spans of a chunk: runs of [`KEYED_CHUNK`] / 2^[`OWNER_LOW_BITS`] owners.
const SPANS: usize = KEYED_CHUNK >> OWNER_LOW_BITS;
const _: () = assert!(SPANS >= 1 && SPANS << OWNER_LOW_BITS == KEYED_CHUNK);

/// The bits of a held word that are the key's own (all but its partition).
const KEY_MASK: u64 = u64::MAX >> PARTITION_BITS;

/// Where a key's partition bits, and so its owner's low bits, are in its word.
const TOP_SHIFT: u32 = u64::BITS - PARTITION_BITS;

/// Slots of a [`KeyedChunk`]'s counting sort: one per (partition, span), partition-major,
/// so that the words of one partition are contiguous.
const SLOTS: usize = PARTS * SPANS;

/// Slots of one group of partitions.
const SLOTS_PER_GROUP: usize = PARTS_PER_GROUP * SPANS;

/// The span of an owner: its high bits. [`reduce_repeated`] never makes an owner past
/// its chunk; one would read back as another owner of the last span, but its key stays
/// in its own partition.
fn span_of(owner: u16) -> usize {
    usize::from(owner >> OWNER_LOW_BITS).min(SPANS - 1)
}

/// The word held for `key` of `owner`: its own bits and the owner's low bits.
fn held_word(key: u64, owner: u16) -> u64 {
    let low = u64::from(owner) & ((1 << OWNER_LOW_BITS) - 1);
    (key & KEY_MASK) | (low << TOP_SHIFT)
}

/// The key of a word held in partition `q`.
fn key_of(q: usize, word: u64) -> u64 {
    ((q as u64) << TOP_SHIFT) | (word & KEY_MASK)
}

/// The keys made from one chunk of paragraphs, grouped by [`partition`], each with the
/// index of its paragraph in the chunk (`owner`) and a value (a seed's position; `()`
/// for a band key); see [`held_word`]. Within a partition the keys keep the order they
/// were pushed in. The partitions of each group of [`PARTS_PER_GROUP`] are in a block
/// of their own.
#[derive(Debug)]
struct KeyedChunk<V> {
    blocks: Vec<KeyedBlock<V>>,
    /// Where each slot (partition, span) starts, counted over the whole chunk; the
    /// total last.
    starts: Vec<u32>,
}

/// Where `slot` starts in the block of its group, given where each slot starts over the
/// whole chunk.
fn offset_in_block(starts: &[u32], slot: usize) -> u32 {
    starts[slot] - starts[slot / SLOTS_PER_GROUP * SLOTS_PER_GROUP]
}

/// The held words and values of one group of partitions of a [`KeyedChunk`].
#[derive(Debug)]
struct KeyedBlock<V> {
    words: Vec<u64>,
    values: Vec<V>,
}

impl<V> Default for KeyedBlock<V> {
    fn default() -> Self {
        KeyedBlock {
            words: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl<V: Copy + Default> KeyedChunk<V> {
    /// The items of `unsorted` (key, owner, value), grouped by slot with a counting
    /// sort; the vectors are made to their exact size.
    fn group(unsorted: &UnsortedKeys<V>) -> KeyedChunk<V> {
        let slot = |key: u64, owner: u16| partition(key) * SPANS + span_of(owner);
        let mut starts = vec![0u32; SLOTS + 1];
        for (&key, &owner) in unsorted.keys.iter().zip(&unsorted.owners) {
            starts[slot(key, owner) + 1] += 1;
        }
        for s in 0..SLOTS {
            starts[s + 1] += starts[s];
        }
        let mut blocks: Vec<KeyedBlock<V>> = (0..SLOTS / SLOTS_PER_GROUP)
            .map(|g| {
                let n = (starts[(g + 1) * SLOTS_PER_GROUP] - starts[g * SLOTS_PER_GROUP]) as usize;
                KeyedBlock {
                    words: vec![0; n],
                    values: vec![V::default(); n],
                }
            })
            .collect();
        // Each slot's next place in its block.
        let mut at: Vec<u32> = (0..SLOTS).map(|s| offset_in_block(&starts, s)).collect();
        let items = unsorted
            .keys
            .iter()
            .zip(&unsorted.owners)
            .zip(&unsorted.values);
        for ((&key, &owner), &value) in items {
            let s = slot(key, owner);
            let to = at[s] as usize;
            at[s] += 1;
            let block = &mut blocks[s / SLOTS_PER_GROUP];
            block.words[to] = held_word(key, owner);
            block.values[to] = value;
        }
        KeyedChunk { blocks, starts }
    }
}

impl<V: Copy> KeyedChunk<V> {
    /// Number of keys.
    fn len(&self) -> usize {
        self.starts[SLOTS] as usize
    }

    /// The held words and values of slots `slots` (empty once their group is freed).
    /// The slots must be of one group.
    fn slots(&self, slots: std::ops::Range<usize>) -> (&[u64], &[V]) {
        let from = offset_in_block(&self.starts, slots.start) as usize;
        let range = from..from + (self.starts[slots.end] - self.starts[slots.start]) as usize;
        match self.blocks.get(slots.start / SLOTS_PER_GROUP) {
            Some(b) if b.words.len() >= range.end => (&b.words[range.clone()], &b.values[range]),
            _ => (&[], &[]),
        }
    }

    /// Number of keys of partition `q`.
    fn part_len(&self, q: usize) -> usize {
        (self.starts[(q + 1) * SPANS] - self.starts[q * SPANS]) as usize
    }

    /// The keys of partition `q`, in the order they were pushed.
    fn part_keys(&self, q: usize) -> impl Iterator<Item = u64> + '_ {
        let (words, _) = self.slots(q * SPANS..(q + 1) * SPANS);
        words.iter().map(move |&w| key_of(q, w))
    }

    /// Calls `each(key, owner, value)` for the keys of partition `q`, in the order they
    /// were pushed.
    fn for_each_in(&self, q: usize, mut each: impl FnMut(u64, u16, V)) {
        for span in 0..SPANS {
            let slot = q * SPANS + span;
            let (words, values) = self.slots(slot..slot + 1);
            let high = (span << OWNER_LOW_BITS) as u16;
            for (&w, &v) in words.iter().zip(values) {
                each(key_of(q, w), high | (w >> TOP_SHIFT) as u16, v);
            }
        }
    }

    /// Frees the block of group `g`.
    fn free_group(&mut self, g: usize) {
        if let Some(b) = self.blocks.get_mut(g) {
            *b = KeyedBlock::default();
        }
    }
}

/// A chunk's keys in the order they are made, before they are grouped by partition;
/// reused from one chunk to the next.
#[derive(Debug)]
pub struct UnsortedKeys<V> {
    keys: Vec<u64>,
    owners: Vec<u16>,
    values: Vec<V>,
    /// Index in the chunk of the item whose keys are being pushed.
    owner: u16,
}

impl<V> Default for UnsortedKeys<V> {
    fn default() -> Self {
        UnsortedKeys {
            keys: Vec::new(),
            owners: Vec::new(),
            values: Vec::new(),
            owner: 0,
        }
    }
}

impl<V> UnsortedKeys<V> {
    /// Empties the scratch for the next chunk.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.owners.clear();
        self.values.clear();
        self.owner = 0;
    }

    /// Adds one key of the current item.
    pub fn push(&mut self, key: u64, value: V) {
        self.keys.push(key);
        self.owners.push(self.owner);
        self.values.push(value);
    }

    /// Moves on to the next item of the chunk: call after each item's keys.
    pub fn end_item(&mut self) {
        self.owner = self.owner.wrapping_add(1);
    }
}

/// The keyed map and reduce of a stage in memory. `items` (paragraph indices) are cut
/// into chunks of [`KEYED_CHUNK`], and `keys(chunk, out)` pushes the keys of each item
/// of a chunk in turn, calling [`UnsortedKeys::end_item`] after each. Then, for each
/// partition in parallel, the keys that may occur more than once are made into records
/// by `make(item, key, value)`, sorted, and given to `reduce`. Returns the results of
/// the non-empty partitions, in partition order, and the number of keys made.
pub fn reduce_repeated<V, T, R>(
    items: &[u32],
    keys: impl Fn(&[u32], &mut UnsortedKeys<V>) + Sync,
    make: impl Fn(u32, u64, V) -> T + Sync,
    reduce: impl Fn(&[T]) -> R + Sync + Send,
) -> (Vec<R>, usize)
where
    V: Copy + Default + Send + Sync,
    T: Ord + Send,
    R: Send,
{
    // One task a chunk, and one a partition below: rayon otherwise splits into a few long
    // runs, and a stage ends with one thread finishing its run while the other idles.
    let mut chunks: Vec<KeyedChunk<V>> = items
        .par_chunks(KEYED_CHUNK)
        .with_max_len(1)
        .map_init(UnsortedKeys::default, |scratch, chunk| {
            scratch.clear();
            keys(chunk, scratch);
            KeyedChunk::group(scratch)
        })
        .collect();
    let made = chunks.iter().map(KeyedChunk::len).sum();
    let item = |c: usize, owner: u16| {
        items
            .get(c * KEYED_CHUNK + usize::from(owner))
            .copied()
            .unwrap_or(u32::MAX)
    };
    let mut results = Vec::new();
    for g in 0..PARTS / PARTS_PER_GROUP {
        let group = g * PARTS_PER_GROUP..(g + 1) * PARTS_PER_GROUP;
        let reduced: Vec<R> = group
            .into_par_iter()
            .with_max_len(1)
            .filter_map(|q| {
                let total: usize = chunks.iter().map(|c| c.part_len(q)).sum();
                if total == 0 {
                    return None;
                }
                let mut filter = RepeatFilter::new(total);
                for chunk in &chunks {
                    chunk.part_keys(q).for_each(|k| filter.insert(k));
                }
                let mut records = Vec::new();
                for (c, chunk) in chunks.iter().enumerate() {
                    chunk.for_each_in(q, |key, owner, value| {
                        if filter.maybe_repeated(key) {
                            records.push(make(item(c, owner), key, value));
                        }
                    });
                }
                records.sort_unstable();
                Some(reduce(&records))
            })
            .collect();
        results.extend(reduced);
        // The group's keys are done with: what they held goes back to the system while
        // the next groups' results grow (Japanese boilerplate makes more seed matches
        // than seeds).
        chunks.iter_mut().for_each(|c| c.free_group(g));
        crate::pipeline::release_free_memory();
    }
    (results, made)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())
    }

    #[test]
    fn repeated_keys_always_pass() {
        let mut filter = RepeatFilter::new(10_000);
        for i in 0..10_000u64 {
            filter.insert(key(i));
            if i % 7 == 0 {
                filter.insert(key(i));
            }
        }
        for i in (0..10_000u64).step_by(7) {
            assert!(filter.maybe_repeated(key(i)));
        }
    }

    #[test]
    fn most_singletons_are_dropped() {
        let n = 100_000u64;
        let mut filter = RepeatFilter::new(n as usize);
        (0..n).for_each(|i| filter.insert(key(i)));
        let passed = (0..n).filter(|&i| filter.maybe_repeated(key(i))).count();
        // About n/m = 1/8 of singletons share a slot with another key.
        assert!(passed < n as usize / 6, "{passed} of {n} singletons passed");
        assert!(!RepeatFilter::new(0).maybe_repeated(key(1)));
        // The keys of one partition share their top bits; the slots must still spread.
        let mut one_part = RepeatFilter::new(n as usize);
        let same_top = |i: u64| (key(i) >> PARTITION_BITS) | (7 << (64 - PARTITION_BITS));
        (0..n).for_each(|i| one_part.insert(same_top(i)));
        let passed = (0..n)
            .filter(|&i| one_part.maybe_repeated(same_top(i)))
            .count();
        assert!(passed < n as usize / 6, "{passed} of {n} singletons passed");
    }

    #[test]
    fn grouping_keeps_every_key_with_its_owner_and_value() {
        let mut scratch = UnsortedKeys::default();
        let mut rng = crate::test_rng(3);
        // Owners over the whole chunk, so over every span.
        let items: Vec<(u64, u16, u32)> = (0..3 * KEYED_CHUNK)
            .map(|i| (key(rng(800)), (i / 3) as u16, i as u32))
            .collect();
        for (i, &(k, _, v)) in items.iter().enumerate() {
            scratch.push(k, v);
            if i % 3 == 2 {
                scratch.end_item();
            }
        }
        let chunk = KeyedChunk::group(&scratch);
        assert_eq!(chunk.len(), items.len());
        let mut seen = Vec::new();
        for q in 0..PARTS {
            let mut values = Vec::new();
            chunk.for_each_in(q, |k, o, v| {
                assert_eq!(partition(k), q);
                seen.push((k, o, v));
                values.push(v);
            });
            assert_eq!(chunk.part_len(q), values.len());
            assert!(chunk
                .part_keys(q)
                .eq(seen[seen.len() - values.len()..].iter().map(|x| x.0)));
            // Pushing order is kept within a partition.
            assert!(values.windows(2).all(|w| w[0] < w[1]));
        }
        seen.sort_unstable_by_key(|x| x.2);
        assert_eq!(seen, items);
    }

    #[test]
    fn reduce_sees_every_repeated_key_and_its_records() {
        // Items over several chunks, some left out; each item makes a few keys, some
        // repeated within the item, within its chunk or across chunks.
        let items: Vec<u32> = (0..3 * KEYED_CHUNK as u32 + 500)
            .filter(|i| i % 5 != 2)
            .collect();
        let keys_of = |item: u32| -> Vec<(u64, u32)> {
            (0..item % 7)
                .map(|j| {
                    let base = if j % 2 == 0 { item * 7 + j } else { item % 900 };
                    (key(u64::from(base)), j)
                })
                .collect()
        };
        let mut count = std::collections::HashMap::new();
        let mut all = Vec::new();
        for &item in &items {
            for (k, v) in keys_of(item) {
                *count.entry(k).or_insert(0) += 1;
                all.push((k, item, v));
            }
        }
        let mut expected: Vec<_> = all.iter().copied().filter(|x| count[&x.0] > 1).collect();
        expected.sort_unstable();
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let (parts, made) = pool.install(|| {
                reduce_repeated(
                    &items,
                    |chunk, out| {
                        for &item in chunk {
                            keys_of(item).into_iter().for_each(|(k, v)| out.push(k, v));
                            out.end_item();
                        }
                    },
                    |item, k, v| (k, item, v),
                    |records: &[(u64, u32, u32)]| {
                        // Sorted, and all of one partition.
                        assert!(records.windows(2).all(|w| w[0] <= w[1]));
                        let q = records.first().map(|r| partition(r.0));
                        assert!(records.iter().all(|r| Some(partition(r.0)) == q));
                        let repeated = records.iter().filter(|r| count[&r.0] > 1);
                        repeated.copied().collect::<Vec<_>>()
                    },
                )
            });
            assert_eq!(made, all.len());
            let got: Vec<_> = parts.into_iter().flatten().collect();
            assert_eq!(got, expected);
        }
    }
}
