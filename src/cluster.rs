//! From verified pairs to clusters: union-find, the keep policy, and re-verification of
//! every member against its cluster's kept occurrence.
//!
//! Single-link union-find can chain A ~ B ~ C although A and C differ. So after the
//! union, each cluster is checked as a star: every member is compared with the kept one
//! (the first in input order), and members below the threshold are split off into a
//! new cluster, checked the same way. A reported similarity is therefore always the
//! member's own similarity to the kept row, and always passes the threshold.

use crate::normalize::TokenHash;

/// Disjoint sets over `0..n` with path halving and union by index: the smaller index
/// becomes the root, so a root is always its set's first member, whatever the order of
/// the unions.
#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    /// `n` singleton sets.
    pub fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    /// The root of `x`'s set: its smallest member.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Merges the sets of `a` and `b`.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi as usize] = lo;
        }
    }

    /// The sets with at least two members, each sorted, ordered by first member.
    ///
    /// Memory is proportional to the members of such sets, not to `n`: most elements
    /// are singletons.
    pub fn groups(self) -> Vec<Vec<u32>> {
        self.into_sets()
            .chunks(usize::MAX)
            .next()
            .unwrap_or_default()
    }

    /// The root (smallest member) of every element's set.
    pub fn into_roots(mut self) -> Vec<u32> {
        for x in 0..self.parent.len() as u32 {
            let root = self.find(x);
            self.parent[x as usize] = root;
        }
        self.parent
    }

    /// The sets with at least two members, to be taken a chunk at a time: 4 bytes a
    /// member on top of the 4 bytes an element the sets are kept in.
    pub fn into_sets(self) -> LinkedSets {
        use rayon::prelude::*;
        let root = self.into_roots();
        let mut linked: Vec<u32> = (0..root.len() as u32)
            .filter(|&x| root[x as usize] != x)
            .collect();
        // In place: members are distinct, so a set's stay in increasing order.
        linked.par_sort_unstable_by_key(|&x| (root[x as usize], x));
        LinkedSets { root, linked }
    }
}

/// The sets of a [`UnionFind`] with at least two members.
#[derive(Clone, Debug)]
pub struct LinkedSets {
    /// The root (smallest member) of every element's set.
    root: Vec<u32>,
    /// The elements that are not their set's root, by set, then increasing.
    linked: Vec<u32>,
}

impl LinkedSets {
    /// The sets, each sorted, ordered by first member, in chunks of about `members`
    /// members (a set is never cut).
    pub fn chunks(&self, members: usize) -> impl Iterator<Item = Vec<Vec<u32>>> + '_ {
        let mut rest = &self.linked[..];
        std::iter::from_fn(move || {
            let mut out = Vec::new();
            let mut taken = 0;
            while let Some(&x) = rest.first() {
                if taken >= members {
                    break;
                }
                let root = self.root[x as usize];
                let len = rest.partition_point(|&y| self.root[y as usize] == root);
                let mut set = Vec::with_capacity(len + 1);
                set.push(root);
                set.extend_from_slice(&rest[..len]);
                taken += set.len();
                out.push(set);
                rest = &rest[len..];
            }
            (!out.is_empty()).then_some(out)
        })
    }
}

/// Most work spent splitting one linked set, counted in members looked at: the members
/// still in play for each kept occurrence of a paragraph set, the index entries read
/// for each kept occurrence of a passage set (entries of members still in play, as of
/// the last read of their list). It bounds the work on a set chained through many
/// different texts (boilerplate variants); members left when it runs out are not
/// reported. The largest passage set of the planted Japanese news corpus (45,135
/// occurrences) reads about 33 million entries, livedoor's (58,071) about 43 million.
pub const MAX_SPLIT_WORK: usize = 1 << 27;

/// What a member does in one round of a split (see [`split_fitted`]).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Join<T> {
    /// It joins the kept occurrence as this part, with this similarity.
    Whole(T, f64),
    /// This part joins the kept occurrence, and the member stays for later rounds.
    Part(T, f64),
    /// It does not join.
    No,
}

/// Star re-verification: splits `members` (sorted, the first is kept) into groups whose
/// every member has `similarity(kept, member) >= threshold`. Returns each group with the
/// members' similarities (1.0 for the kept one); groups of one are dropped.
pub fn split_by_kept<T: Copy + Sync>(
    members: &[T],
    threshold: f64,
    similarity: impl Fn(T, T) -> f64 + Sync,
) -> Vec<Vec<(T, f64)>> {
    let all_remaining = |kept: usize, remaining: &[bool], out: &mut Vec<(u32, ())>| {
        out.extend(
            (kept + 1..remaining.len())
                .filter(|&m| remaining[m])
                .map(|m| (m as u32, ())),
        );
        out.len()
    };
    split_rounds(
        members,
        all_remaining,
        PARALLEL_CANDIDATES,
        |kept, m, ()| similarity(members[kept], members[m]),
        |_, m, s| {
            if s >= threshold {
                Join::Whole(members[m], s)
            } else {
                Join::No
            }
        },
    )
}

/// [`split_by_kept`] for passages: `fit(kept, region)` returns the part of `region` (a
/// stretch of a member) that aligns with the kept occurrence, and its similarity; the
/// group holds that part. `tokens(m)` is the word sequence of `members[m]`.
///
/// Two things differ from the paragraph split.
///
/// * Only the members that can reach the threshold are fitted, and only on the stretch
///   where they can (see `FitBound`); an index of the set's words finds them without
///   looking at the others. A round then costs what the kept occurrence has in common
///   with the set, not the size of the set, which on boilerplate runs to tens of
///   thousands of occurrences chained through many different texts.
/// * A member that joins with less than half of its span stays in play for later rounds.
///   Its span is the union of what its partners aligned, and a longer passage that it
///   shares with one of them (a sentence around a licence clause or a portal footer)
///   can only be kept in a round of its own. It does not join again with a part that
///   mostly repeats one it has joined with (overlap ≥ `threshold` of the longer), so a
///   clause is not reported once per variant of it that is kept.
pub fn split_fitted<'t>(
    members: &[Interval],
    tokens: impl Fn(usize) -> &'t [TokenHash] + Sync,
    threshold: f64,
    fit: impl Fn(Interval, Interval) -> (Interval, f64) + Sync,
) -> Vec<Vec<(Interval, f64)>> {
    // A small set (most are two or three occurrences) is not indexed: every member in
    // play is a candidate, which the index would only have narrowed down.
    let indexed = members.len() > SMALL_SET;
    split_fitted_with(
        members,
        tokens,
        threshold,
        fit,
        indexed,
        PARALLEL_CANDIDATES,
    )
}

/// [`split_fitted`], its candidates found through a [`WordIndex`] or not (the same
/// groups: the index only leaves out members that cannot join), and filtered and
/// measured in parallel in rounds of at least `parallel_from` (the same groups too).
fn split_fitted_with<'t>(
    members: &[Interval],
    tokens: impl Fn(usize) -> &'t [TokenHash] + Sync,
    threshold: f64,
    fit: impl Fn(Interval, Interval) -> (Interval, f64) + Sync,
    indexed: bool,
    parallel_from: usize,
) -> Vec<Vec<(Interval, f64)>> {
    let sorted_words = |m: usize| {
        let mut words = tokens(m).to_vec();
        words.sort_unstable();
        words
    };
    let sorted: Vec<Vec<TokenHash>> = if indexed {
        (0..members.len()).map(sorted_words).collect()
    } else {
        Vec::new()
    };
    let mut index = indexed.then(|| WordIndex::new(&sorted, parallel_from));
    let mut kept_words = Vec::new();
    let mut found = Vec::new();
    // Each candidate comes with the stretch of it where it may fit, in tokens from its
    // start.
    let candidates = |kept: usize, remaining: &[bool], out: &mut Vec<(u32, (u32, u32))>| {
        let words = match sorted.get(kept) {
            Some(words) => words,
            None => {
                kept_words = sorted_words(kept);
                &kept_words
            }
        };
        let bound = FitBound::new(words, threshold);
        found.clear();
        let work = match &mut index {
            Some(index) => index.candidates(&bound, &sorted, kept, remaining, &mut found),
            None => {
                let in_play = (kept + 1..members.len()).filter(|&m| remaining[m]);
                found.extend(in_play.map(|m| m as u32));
                found.len()
            }
        };
        let stretch = |&m: &u32| {
            let (lo, hi) = bound.window_range(tokens(m as usize))?;
            Some((m, (lo as u32, hi as u32)))
        };
        extend_filter_map(out, &found, parallel_from, stretch);
        work
    };
    // The parts each member still in play has joined with so far.
    let mut joined: Vec<Vec<Interval>> = vec![Vec::new(); members.len()];
    split_rounds(
        members,
        candidates,
        parallel_from,
        |kept, m, (lo, hi)| {
            let member = members[m];
            let region = Interval {
                start: member.start + lo,
                end: member.start + hi,
                ..member
            };
            fit(members[kept], region)
        },
        |_, m, (part, sim)| {
            let member = members[m];
            // A part that mostly repeats one the member has joined with is already
            // reported.
            let repeats = |p: &Interval| {
                let overlap = p.end.min(part.end).saturating_sub(p.start.max(part.start));
                overlap as f64 >= threshold * p.len().max(part.len()) as f64
            };
            if sim < threshold || part.is_empty() || joined[m].iter().any(repeats) {
                Join::No
            } else if 2 * part.len() < member.len() {
                joined[m].push(part);
                Join::Part(part, sim)
            } else {
                Join::Whole(part, sim)
            }
        },
    )
}

/// Largest linked set [`split_fitted`] splits without a [`WordIndex`].
const SMALL_SET: usize = 8;

/// Candidates of one round measured on the pool's threads when there are at least this
/// many (one giant linked set would otherwise keep a single thread busy).
const PARALLEL_CANDIDATES: usize = 64;

/// The rounds shared by both splits. Each round keeps the first member still in play.
/// `candidates(kept, remaining, out)` appends, in increasing order, the members in play
/// (`remaining`, all after `kept`) that may join it, each with what `measure` needs of
/// it (leaving one out must mean that it would not join), and returns the work it did.
/// `measure(kept, m, c)` compares candidate `m` with the kept member, in parallel for a
/// round of at least `parallel_from`; `decide(kept, m, measured)` then says, in
/// candidate order, whether (and as what) it joins. Indices are into `members`.
fn split_rounds<T: Copy, C: Copy + Send + Sync, M: Send>(
    members: &[T],
    mut candidates: impl FnMut(usize, &[bool], &mut Vec<(u32, C)>) -> usize,
    parallel_from: usize,
    measure: impl Fn(usize, usize, C) -> M + Sync,
    mut decide: impl FnMut(usize, usize, M) -> Join<T>,
) -> Vec<Vec<(T, f64)>> {
    let mut remaining = vec![true; members.len()];
    let mut n_remaining = members.len();
    let mut kept = 0;
    let mut work = 0;
    let mut found = Vec::new();
    let mut measured = Vec::new();
    let mut out = Vec::new();
    while n_remaining >= 2 && work < MAX_SPLIT_WORK {
        while !remaining[kept] {
            kept += 1;
        }
        remaining[kept] = false;
        n_remaining -= 1;
        found.clear();
        work += 1 + candidates(kept, &remaining, &mut found);
        measured.clear();
        extend_filter_map(&mut measured, &found, parallel_from, |&(m, c)| {
            Some(measure(kept, m as usize, c))
        });
        let mut group = vec![(members[kept], 1.0)];
        for (&(m, _), result) in found.iter().zip(measured.drain(..)) {
            match decide(kept, m as usize, result) {
                Join::Whole(part, sim) => {
                    group.push((part, sim));
                    remaining[m as usize] = false;
                    n_remaining -= 1;
                }
                Join::Part(part, sim) => group.push((part, sim)),
                Join::No => {}
            }
        }
        if group.len() >= 2 {
            out.push(group);
        }
    }
    out
}

/// Appends to `out`, in order, what `f` gives for each of `items` it gives something
/// for: on the pool's threads when there are at least `parallel_from` items.
fn extend_filter_map<T: Sync, U: Send>(
    out: &mut Vec<U>,
    items: &[T],
    parallel_from: usize,
    f: impl Fn(&T) -> Option<U> + Sync + Send,
) {
    use rayon::prelude::*;
    if items.len() >= parallel_from {
        out.par_extend(items.par_iter().filter_map(f));
    } else {
        out.extend(items.iter().filter_map(f));
    }
}

/// Necessary conditions for a member to fit a kept occurrence with similarity at least
/// `threshold`. A fitted part `f` with `x` words equal to the kept one's has similarity
/// 2x / (|kept| + |f|), where x ≤ |f| and x ≤ |kept|; so x ≥ `need` and
/// |f| ≤ `longest`. And the `x` equal words of `f` are words of the kept occurrence.
struct FitBound<'k> {
    /// The kept occurrence's words, sorted.
    kept_words: &'k [TokenHash],
    /// The least `x` with 2x ≥ threshold·(|kept| + x).
    need: usize,
    /// The largest |f| with 2·|kept| ≥ threshold·(|kept| + |f|).
    longest: usize,
    /// The [`word_mask`] of the kept words: a word whose bit is not in it is not one.
    kept_mask: WordMask<FINE_WORDS>,
    /// The kept words in a hash table, when there are more than [`SEARCHED_WORDS`]
    /// (a binary search then takes longer than a probe).
    kept_table: Option<WordTable>,
}

/// Most distinct kept words [`FitBound`] finds by binary search.
const SEARCHED_WORDS: usize = 64;

/// A set of words (token hashes) by open addressing: twice as many slots as words or
/// more, a power of two, probed in turn from the word's own.
struct WordTable {
    /// A word's slot holds it widened, and an empty slot `u64::MAX`.
    slots: Vec<u64>,
    /// Bits of a slot index.
    bits: u32,
}

impl WordTable {
    fn new(words: &[TokenHash]) -> WordTable {
        let bits = (2 * words.len())
            .max(2)
            .next_power_of_two()
            .trailing_zeros();
        let mut table = WordTable {
            slots: vec![u64::MAX; 1 << bits],
            bits,
        };
        let mask = table.slots.len() - 1;
        for &w in words {
            let mut at = table.home(w);
            while table.slots[at] != u64::MAX && table.slots[at] != u64::from(w) {
                at = (at + 1) & mask;
            }
            table.slots[at] = u64::from(w);
        }
        table
    }

    /// The slot a word's probe starts at: its hash's top bits, by a multiply.
    fn home(&self, w: TokenHash) -> usize {
        (w.wrapping_mul(0x9E37_79B1) as u64 >> (TokenHash::BITS - self.bits)) as usize
    }

    fn contains(&self, w: TokenHash) -> bool {
        let mask = self.slots.len() - 1;
        let mut at = self.home(w);
        loop {
            match self.slots[at] {
                u64::MAX => return false,
                s if s == u64::from(w) => return true,
                _ => at = (at + 1) & mask,
            }
        }
    }
}

impl<'k> FitBound<'k> {
    fn new(kept_words: &'k [TokenHash], threshold: f64) -> FitBound<'k> {
        let len = kept_words.len();
        let passes = |x: usize, f: usize| 2.0 * x as f64 >= threshold * (len + f) as f64;
        let need = (0..=len).find(|&x| passes(x, x)).unwrap_or(len + 1);
        // The float estimate, corrected by the exact test around it.
        let estimate = ((2.0 - threshold) * len as f64 / threshold) as usize;
        let longest = (estimate.saturating_sub(2)..=estimate + 2)
            .filter(|&f| passes(len, f))
            .max()
            .unwrap_or(len);
        FitBound {
            kept_words,
            need,
            longest,
            kept_mask: word_mask(kept_words),
            kept_table: (kept_words.len() > SEARCHED_WORDS).then(|| WordTable::new(kept_words)),
        }
    }

    /// Whether `w` is one of the kept words.
    fn holds(&self, w: TokenHash) -> bool {
        mask_has(&self.kept_mask, w)
            && match &self.kept_table {
                Some(table) => table.contains(w),
                None => self.kept_words.binary_search(&w).is_ok(),
            }
    }

    /// The smallest range of `seq` that holds every window of `longest` words (or all
    /// of `seq`, if shorter) holding at least `need` words of the kept occurrence, or
    /// `None` when no window does. A fitted part that passes lies inside such a window.
    /// Cost O(|seq| log |kept|).
    fn window_range(&self, seq: &[TokenHash]) -> Option<(usize, usize)> {
        // Most words of a member are not the kept one's, and their bit says so.
        let held = |t: &TokenHash| usize::from(self.holds(*t));
        let width = self.longest.min(seq.len());
        let mut count: usize = seq[..width].iter().map(held).sum();
        let mut range = (count >= self.need).then_some((0, width));
        // The window ending at `end` takes in `seq[end - 1]` and lets go of
        // `seq[end - 1 - width]`.
        let moves = seq[width..].iter().zip(seq);
        for (end, (entering, leaving)) in (width + 1..).zip(moves) {
            count = count + held(entering) - held(leaving);
            if count >= self.need {
                range = Some((range.map_or(end - width, |r| r.0), end));
            }
        }
        range
    }
}

/// The members of a linked set that hold each word.
struct WordIndex {
    /// Distinct words, sorted.
    words: Vec<TokenHash>,
    /// `holders[offsets[i]..offsets[i] + live[i]]` hold `words[i]`, sorted: those
    /// still in play when the list was last read, for a list drops the members out of
    /// play as it is read (a member never comes back into play). In livedoor's largest
    /// linked set, three entries in five were of members out of play.
    offsets: Vec<u32>,
    live: Vec<u32>,
    holders: Vec<u32>,
    /// Per 64 members (bit `m % 64` of entry `m / 64`): those that hold one entry of the
    /// current prefix, and those that hold two or more. Clear between rounds.
    marks: Vec<[u64; 2]>,
    /// Per member, the set of [`word_bit`]s of its words: a quick upper bound on the
    /// words it shares with another sequence.
    masks: Vec<WordMask<FINE_WORDS>>,
    /// The same at a quarter of the width: a weaker bound, tested first because the
    /// masks of a giant linked set stay in cache at this width (livedoor's largest set,
    /// 45,210 members, takes 0.7 MB; the 512-bit masks take 2.9 MB).
    coarse: Vec<WordMask<COARSE_WORDS>>,
    /// [`Self::candidates`] checks at least this many in parallel.
    parallel_from: usize,
}

/// 64-bit words of a member's [`WordIndex::masks`] (512 bits).
const FINE_WORDS: usize = 8;

/// 64-bit words of a member's [`WordIndex::coarse`] masks (128 bits).
const COARSE_WORDS: usize = 2;

/// A set of `64 * N` [`word_bit`]s.
type WordMask<const N: usize> = [u64; N];

/// The bit of a word (a token hash) in a [`WordMask`] of `N` words: the word's top bits,
/// by a multiply-shift (the top 9 bits for 8 words).
fn word_bit<const N: usize>(word: TokenHash) -> usize {
    ((u64::from(word) * (64 * N) as u64) >> TokenHash::BITS) as usize
}

/// The [`WordMask`] of `words`.
fn word_mask<const N: usize>(words: &[TokenHash]) -> WordMask<N> {
    let mut mask = [0u64; N];
    for &w in words {
        let b = word_bit::<N>(w);
        mask[b / 64] |= 1 << (b % 64);
    }
    mask
}

/// Whether the bit of `word` is in `mask`: false only if `word` is none of the words
/// of the mask.
fn mask_has<const N: usize>(mask: &WordMask<N>, word: TokenHash) -> bool {
    let b = word_bit::<N>(word);
    mask[b / 64] >> (b % 64) & 1 != 0
}

/// The [`word_bit`]s of a sequence of words, counted with repeats: the bits that occur
/// once as a mask, the others with their counts.
struct KeptBits<const N: usize> {
    once: WordMask<N>,
    repeated: Vec<(u16, u32)>,
}

impl<const N: usize> KeptBits<N> {
    fn new(words: &[TokenHash]) -> KeptBits<N> {
        let mut bits: Vec<u16> = words.iter().map(|&w| word_bit::<N>(w) as u16).collect();
        bits.sort_unstable();
        let mut kept = KeptBits {
            once: [0; N],
            repeated: Vec::new(),
        };
        for run in bits.chunk_by(|x, y| x == y) {
            let b = usize::from(run[0]);
            if run.len() == 1 {
                kept.once[b / 64] |= 1 << (b % 64);
            } else {
                kept.repeated.push((run[0], run.len() as u32));
            }
        }
        kept
    }
}

/// How many of the words whose bits are `bits` may be in the set `mask`: never fewer
/// than are. A popcount for the bits that occur once, then the repeated ones.
fn mask_bound<const N: usize>(mask: &WordMask<N>, bits: &KeptBits<N>) -> usize {
    let once: u32 = mask
        .iter()
        .zip(&bits.once)
        .map(|(m, k)| (m & k).count_ones())
        .sum();
    let repeated: u32 = bits
        .repeated
        .iter()
        .map(|&(b, n)| ((mask[usize::from(b) / 64] >> (b % 64)) & 1) as u32 * n)
        .sum();
    (once + repeated) as usize
}

impl WordIndex {
    /// `sorted[m]`: the words of member `m`, sorted. Rounds of at least
    /// `parallel_from` candidates are checked in parallel.
    fn new(sorted: &[Vec<TokenHash>], parallel_from: usize) -> WordIndex {
        let mut postings: Vec<(TokenHash, u32)> = Vec::new();
        for (m, words) in sorted.iter().enumerate() {
            let mut distinct = words.clone();
            distinct.dedup();
            postings.extend(distinct.into_iter().map(|w| (w, m as u32)));
        }
        postings.sort_unstable();
        let mut index = WordIndex {
            words: Vec::new(),
            offsets: vec![0],
            live: Vec::new(),
            holders: Vec::with_capacity(postings.len()),
            marks: vec![[0, 0]; sorted.len().div_ceil(64)],
            masks: sorted.iter().map(|words| word_mask(words)).collect(),
            coarse: sorted.iter().map(|words| word_mask(words)).collect(),
            parallel_from,
        };
        for run in postings.chunk_by(|x, y| x.0 == y.0) {
            index.words.push(run[0].0);
            index.holders.extend(run.iter().map(|p| p.1));
            index.offsets.push(index.holders.len() as u32);
            index.live.push(run.len() as u32);
        }
        index
    }

    /// Appends to `out`, sorted, the members in play that hold at least `bound.need` of
    /// the kept occurrence's words (counted along the kept occurrence); returns the
    /// number of index entries read.
    ///
    /// Such a member misses at most |kept| − need of those words, so it holds at least
    /// one of any |kept| − need + 1 of them, and at least two of any |kept| − need + 2:
    /// only the holders of the rarest ones are read (the prefix filter of set-similarity
    /// joins, one entry wider), marked in two bitsets as they are (the members that
    /// hold one entry, and those that hold two), and those marked twice are read back
    /// in order. A bitset of the largest linked set's members fits in the first-level
    /// cache, so a mark costs no cache miss, where a list of members seen cost one.
    fn candidates(
        &mut self,
        bound: &FitBound,
        sorted: &[Vec<TokenHash>],
        kept: usize,
        remaining: &[bool],
        out: &mut Vec<u32>,
    ) -> usize {
        let kept_words = bound.kept_words;
        if bound.need == 0 {
            out.extend(
                (kept + 1..remaining.len())
                    .filter(|&m| remaining[m])
                    .map(|m| m as u32),
            );
            return out.len();
        }
        // Each word of the kept occurrence (repeats too), by its holders in play.
        let mut rarest: Vec<(u32, usize)> = kept_words
            .iter()
            .filter_map(|w| self.words.binary_search(w).ok())
            .map(|i| (self.live[i], i))
            .collect();
        rarest.sort_unstable();
        let prefix = (kept_words.len() + 1).saturating_sub(bound.need);
        // Two marks are needed only if there is an entry past the prefix to read.
        let two = rarest.len() > prefix;
        rarest.truncate(prefix + usize::from(two));
        let mut work = 0;
        for run in rarest.chunk_by(|x, y| x.1 == y.1) {
            let (i, repeats) = (run[0].1, run.len() > 1);
            let from = self.offsets[i] as usize;
            let Some(list) = self.holders.get_mut(from..from + self.live[i] as usize) else {
                continue;
            };
            work += list.len();
            let mut live = 0;
            for j in 0..list.len() {
                let m = list[j] as usize;
                if remaining.get(m).copied().unwrap_or(false) {
                    list[live] = m as u32;
                    live += 1;
                    let bit = 1u64 << (m % 64);
                    if let Some([once, twice]) = self.marks.get_mut(m / 64) {
                        *twice |= if repeats { bit } else { *once & bit };
                        *once |= bit;
                    }
                }
            }
            self.live[i] = live as u32;
        }
        // Read back in order, and cleared for the next round.
        for (w, marks) in self.marks.iter_mut().enumerate() {
            let mut bits = marks[usize::from(two)];
            while bits != 0 {
                out.push((w * 64) as u32 + bits.trailing_zeros());
                bits &= bits - 1;
            }
            *marks = [0, 0];
        }
        // The bit tests reject most candidates that fall short at a fraction of the
        // cost of the exact merge.
        let coarse = KeptBits::new(kept_words);
        let fine = KeptBits::new(kept_words);
        let enough = |&m: &u32| {
            let m = m as usize;
            self.coarse
                .get(m)
                .is_some_and(|mask| mask_bound(mask, &coarse) >= bound.need)
                && self
                    .masks
                    .get(m)
                    .is_some_and(|mask| mask_bound(mask, &fine) >= bound.need)
                && holds_enough(kept_words, &sorted[m], bound.need)
        };
        if out.len() >= self.parallel_from {
            use rayon::prelude::*;
            let kept: Vec<u32> = out.par_iter().copied().filter(enough).collect();
            *out = kept;
        } else {
            out.retain(enough);
        }
        work
    }
}

/// Whether at least `need` of `kept` (sorted, repeats counted) are words of `held`
/// (sorted): a merge of the two lists, or binary searches when `held` is much longer,
/// stopping as soon as the answer is known.
fn holds_enough(kept: &[TokenHash], held: &[TokenHash], need: usize) -> bool {
    if held.len() / 8 > kept.len() {
        let mut found = 0;
        for (i, w) in kept.iter().enumerate() {
            found += usize::from(held.binary_search(w).is_ok());
            if found >= need {
                return true;
            }
            if found + (kept.len() - i - 1) < need {
                return false;
            }
        }
        return found >= need;
    }
    let (mut i, mut j, mut found) = (0, 0, 0);
    while i < kept.len() && j < held.len() {
        if found >= need {
            return true;
        }
        if found + (kept.len() - i) < need {
            return false;
        }
        match kept[i].cmp(&held[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            // `j` stays: the next word of `kept` may be the same.
            std::cmp::Ordering::Equal => {
                found += 1;
                i += 1;
            }
        }
    }
    found >= need
}

/// A passage occurrence: token range `[start, end)` of dense paragraph `para`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    /// Dense paragraph index.
    pub para: u32,
    /// First token.
    pub start: u32,
    /// One past the last token.
    pub end: u32,
}

impl Interval {
    /// Number of tokens.
    pub fn len(&self) -> u32 {
        self.end - self.start
    }

    /// True if the interval holds no token.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// True if the two intervals share a token (same paragraph, ranges intersect).
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.para == other.para && self.start < other.end && other.start < self.end
    }
}

/// Groups passage occurrences into clusters of the same passage.
///
/// Two intervals of one paragraph are the same occurrence ("node") when they overlap by
/// at least half of the longer one: different partners align the same passage with
/// slightly different ends. A node's span is the union of its intervals. Each aligned
/// pair joins its two nodes. Intervals that overlap less stay separate nodes, so a short
/// passage inside a long aligned region is not swallowed by it. Returns each set's node
/// spans, sorted; the caller re-verifies them against the kept one
/// ([`split_by_kept`]) and drops overlapping leftovers ([`drop_overlapping`]).
pub fn passage_groups(pairs: &[(Interval, Interval)]) -> Vec<Vec<Interval>> {
    let (intervals, slots) = distinct_intervals(pairs);
    let mut same = UnionFind::new(intervals.len());
    // Intervals are sorted by (para, start), so the earlier ones that can overlap the
    // current one are those still open at its start.
    let mut open: Vec<usize> = Vec::new();
    for (i, iv) in intervals.iter().enumerate() {
        open.retain(|&j| intervals[j].para == iv.para && intervals[j].end > iv.start);
        for &j in &open {
            let other = intervals[j];
            let overlap = other.end.min(iv.end) - iv.start;
            if 2 * overlap >= other.len().max(iv.len()) {
                same.union(i as u32, j as u32);
            }
        }
        open.push(i);
    }
    let mut linked = UnionFind::new(intervals.len());
    for pair in slots.chunks_exact(2) {
        let (a, b) = (same.find(pair[0]), same.find(pair[1]));
        linked.union(a, b);
    }
    drop(slots);
    // Node spans: the union of each node's intervals, held in place at the node's root.
    // A root is its node's smallest index, so it is read before any other interval of
    // the node widens it, and the intervals that are not roots are never written.
    let mut span = intervals;
    for i in 0..span.len() {
        let root = same.find(i as u32) as usize;
        let iv = span[i];
        span[root].start = span[root].start.min(iv.start);
        span[root].end = span[root].end.max(iv.end);
    }
    linked
        .groups()
        .into_iter()
        .map(|members| {
            let mut nodes: Vec<Interval> = members
                .into_iter()
                .filter(|&m| same.find(m) == m)
                .map(|m| span[m as usize])
                .collect();
            nodes.sort_unstable();
            nodes
        })
        .filter(|nodes| nodes.len() >= 2)
        .collect()
}

/// The distinct intervals of `pairs`, sorted, and the index among them of each pair's
/// sides in turn (`2·pair + side`). Each side is sorted with its number, so that its
/// index is where the sorted run lands: no search.
fn distinct_intervals(pairs: &[(Interval, Interval)]) -> (Vec<Interval>, Vec<u32>) {
    use rayon::prelude::*;
    let mut sides: Vec<(Interval, u32)> = Vec::with_capacity(2 * pairs.len());
    // Side numbers fit in 32 bits: the union-find counts intervals in them too.
    sides.extend(
        pairs
            .iter()
            .zip(0u32..)
            .flat_map(|(&(x, y), i)| [(x, 2 * i), (y, 2 * i + 1)]),
    );
    sides.par_sort_unstable();
    let mut intervals: Vec<Interval> = Vec::new();
    let mut slots = vec![0u32; sides.len()];
    for &(iv, side) in &sides {
        if intervals.last() != Some(&iv) {
            intervals.push(iv);
        }
        slots[side as usize] = (intervals.len() - 1) as u32;
    }
    (intervals, slots)
}

/// Keeps, in each paragraph, only members that do not overlap a better one: the kept
/// occurrence first, then by decreasing similarity. The group stays sorted, kept first;
/// a group left with one member is emptied.
pub fn drop_overlapping(group: Vec<(Interval, f64)>) -> Vec<(Interval, f64)> {
    let mut order: Vec<usize> = (1..group.len()).collect();
    order.sort_by(|&x, &y| group[y].1.total_cmp(&group[x].1).then(x.cmp(&y)));
    // Chosen intervals per paragraph, so each check looks at one paragraph only.
    let mut chosen_in: std::collections::HashMap<u32, Vec<Interval>> =
        std::collections::HashMap::new();
    chosen_in
        .entry(group[0].0.para)
        .or_default()
        .push(group[0].0);
    let mut chosen: Vec<(Interval, f64)> = vec![group[0]];
    for i in order {
        let (iv, _) = group[i];
        let here = chosen_in.entry(iv.para).or_default();
        if !here.iter().any(|c| c.overlaps(&iv)) {
            here.push(iv);
            chosen.push(group[i]);
        }
    }
    chosen[1..].sort_by_key(|x| x.0);
    if chosen.len() < 2 {
        chosen.clear();
    }
    chosen
}

/// Most alignments of one paragraph examined by [`Projections::complete`] for one group: bounds
/// the work on a boilerplate paragraph aligned with thousands of others.
pub const MAX_PROJECTIONS: usize = 4096;

/// The aligned pairs of every paragraph, from either side, indexed once to complete
/// any number of batches of passage groups ([`Projections::complete`]).
pub struct Projections<'p> {
    pairs: &'p [(Interval, Interval)],
    /// Each pair once from each side, as 2·pair + side, ordered by (this side, other):
    /// 4 bytes a side instead of a copy of the pair.
    edges: Edges,
}

/// Edge numbers, 32-bit while they fit.
enum Edges {
    Short(Vec<u32>),
    Long(Vec<u64>),
}

impl<'p> Projections<'p> {
    /// Indexes `pairs`.
    pub fn new(pairs: &'p [(Interval, Interval)]) -> Projections<'p> {
        use rayon::prelude::*;
        let n = 2 * pairs.len() as u64;
        let edge = |e: u64| edge_of(pairs, e);
        let edges = match u32::try_from(n) {
            Ok(n) => {
                // Sorted by a key held in place (the side's paragraph and start) with
                // the edge number, then each run of equal keys by the whole pair: the
                // sort does not chase every compared edge into `pairs`.
                let mut keyed: Vec<(u64, u32)> = (0..n)
                    .into_par_iter()
                    .map(|e| {
                        let (this, _) = edge(e.into());
                        ((u64::from(this.para) << 32) | u64::from(this.start), e)
                    })
                    .collect();
                keyed.par_sort_unstable();
                let mut edges: Vec<u32> = keyed.iter().map(|&(_, e)| e).collect();
                let mut at = 0;
                for run in keyed.chunk_by(|x, y| x.0 == y.0) {
                    if run.len() > 1 {
                        edges[at..at + run.len()].sort_unstable_by_key(|&e| edge(e.into()));
                    }
                    at += run.len();
                }
                Edges::Short(edges)
            }
            Err(_) => {
                let mut edges: Vec<u64> = (0..n).collect();
                edges.par_sort_unstable_by_key(|&e| edge(e));
                Edges::Long(edges)
            }
        };
        Projections { pairs, edges }
    }

    /// The edges from paragraph `para`, in order.
    fn of_paragraph(&self, para: u32) -> Box<dyn Iterator<Item = (Interval, Interval)> + '_> {
        fn from<'a, E: Copy + Into<u64>>(
            pairs: &'a [(Interval, Interval)],
            edges: &'a [E],
            para: u32,
        ) -> impl Iterator<Item = (Interval, Interval)> + 'a {
            let first = edges.partition_point(|&e| edge_of(pairs, e.into()).0.para < para);
            edges[first..]
                .iter()
                .map(move |&e| edge_of(pairs, e.into()))
                .take_while(move |e| e.0.para == para)
        }
        match &self.edges {
            Edges::Short(edges) => Box::new(from(self.pairs, edges, para)),
            Edges::Long(edges) => Box::new(from(self.pairs, edges, para)),
        }
    }

    /// Completes passage groups through alignments that cover more than the passage.
    ///
    /// Seed matches of boilerplate are stars to the first paragraph holding them, so a
    /// passage P of that paragraph K is aligned with each other paragraph on whatever span
    /// the two share, often much more than P. Such an alignment (K ⊇ P ↔ Y) proves that Y
    /// holds P too, at the same offset along the alignment. For each group, every alignment
    /// of the kept occurrence's paragraph whose span covers at least 90 % of the kept
    /// occurrence is projected onto its other side (trying a shift of up to ±2 words, for
    /// copies with insertions or deletions); the projection joins the group when its
    /// `similarity` to the kept occurrence passes `threshold` and it does not overlap a
    /// member already there. Groups stay sorted, the kept occurrence first.
    pub fn complete(
        &self,
        groups: Vec<Vec<(Interval, f64)>>,
        threshold: f64,
        similarity: impl Fn(Interval, Interval) -> f64 + Sync,
    ) -> Vec<Vec<(Interval, f64)>> {
        use rayon::prelude::*;
        groups
            .into_par_iter()
            .map(|mut group| {
                let kept = group[0].0;
                let mut added = Vec::new();
                for (this, other) in self.of_paragraph(kept.para).take(MAX_PROJECTIONS) {
                    let overlap = this
                        .end
                        .min(kept.end)
                        .saturating_sub(this.start.max(kept.start));
                    if 10 * overlap < 9 * kept.len() {
                        continue;
                    }
                    let taken = |iv: Interval| {
                        let overlaps = |m: &(Interval, f64)| m.0.overlaps(&iv);
                        group.iter().any(overlaps) || added.iter().any(overlaps)
                    };
                    let shifts: Vec<Interval> = (-2i64..=2)
                        .filter_map(|shift| project(kept, this, other, shift))
                        .collect();
                    // Whichever shift is best, a projection onto a member's place is
                    // rejected: most projections land on members, so no similarity is
                    // computed for them.
                    if shifts.iter().all(|&iv| taken(iv)) {
                        continue;
                    }
                    // The first best shift wins; nothing beats an exact copy.
                    let mut best: Option<(Interval, f64)> = None;
                    for iv in shifts {
                        let sim = similarity(kept, iv);
                        if best.map_or(true, |b| sim > b.1) {
                            best = Some((iv, sim));
                        }
                        if sim >= 1.0 {
                            break;
                        }
                    }
                    let Some((iv, sim)) = best else {
                        continue;
                    };
                    if sim >= threshold && !taken(iv) {
                        added.push((iv, sim));
                    }
                }
                group.extend(added);
                group[1..].sort_by_key(|x| x.0);
                group
            })
            .collect()
    }
}

/// Side `e % 2` of pair `e / 2` of `pairs`, then its other side.
fn edge_of(pairs: &[(Interval, Interval)], e: u64) -> (Interval, Interval) {
    let (x, y) = pairs[(e / 2) as usize];
    if e % 2 == 0 {
        (x, y)
    } else {
        (y, x)
    }
}

/// `kept` (inside `this`) carried along the alignment `this ↔ other`, shifted by `shift`
/// words and clipped to `other`.
fn project(kept: Interval, this: Interval, other: Interval, shift: i64) -> Option<Interval> {
    let offset = i64::from(other.start) - i64::from(this.start) + shift;
    let start = (i64::from(kept.start) + offset).max(i64::from(other.start));
    let end = (i64::from(kept.end) + offset).min(i64::from(other.end));
    if start >= end {
        return None;
    }
    Some(Interval {
        para: other.para,
        start: start as u32,
        end: end as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_table_holds_the_words_it_was_made_of() {
        let mut rnd = crate::test_rng(17u64);
        for n in [0usize, 1, 2, 3, 64, 65, 100, 1000, 5000] {
            // Few distinct values make repeats; extreme values are words too.
            let spread = if n % 2 == 0 {
                1 << 32
            } else {
                3 * n as u64 + 1
            };
            let mut words: Vec<TokenHash> = (0..n).map(|_| rnd(spread) as TokenHash).collect();
            words.extend([0, TokenHash::MAX].iter().take(n.min(2)));
            words.sort_unstable();
            let table = WordTable::new(&words);
            assert!(table.slots.len() >= 2 * words.len());
            for probe in words
                .iter()
                .copied()
                .chain((0..2000).map(|_| rnd(spread) as TokenHash))
            {
                assert_eq!(
                    table.contains(probe),
                    words.binary_search(&probe).is_ok(),
                    "{n} {probe}"
                );
            }
            let bound = FitBound::new(&words, 0.8);
            assert_eq!(bound.kept_table.is_some(), words.len() > SEARCHED_WORDS);
            for probe in (0..500)
                .map(|_| rnd(spread) as TokenHash)
                .chain(words.iter().copied())
            {
                assert_eq!(bound.holds(probe), words.binary_search(&probe).is_ok());
            }
        }
    }

    #[test]
    fn mask_bound_never_undercounts() {
        let words = |seed: u64, n: u64| -> Vec<TokenHash> {
            let mut v: Vec<TokenHash> = (0..n)
                .map(|i| crate::shingle::finalize(seed.wrapping_mul(31) + i % 40) as TokenHash)
                .collect();
            v.sort_unstable();
            v
        };
        for seed in 0..50 {
            // Past 40 words, kept repeats its words: their bits count several times.
            let kept = words(seed, [30, 70, 600][seed as usize % 3]);
            let held = words(seed + 1, 20 + seed * 7);
            let index = WordIndex::new(std::slice::from_ref(&held), usize::MAX);
            let exact = kept
                .iter()
                .filter(|w| held.binary_search(w).is_ok())
                .count();
            check_bound(&index.masks[0], &kept, exact, seed);
            check_bound(&index.coarse[0], &kept, exact, seed);
        }
    }

    /// `mask_bound` of `kept` in `mask` counts each word of `kept` whose bit is in the
    /// mask, which is never fewer than the `exact` count of shared words.
    fn check_bound<const N: usize>(
        mask: &WordMask<N>,
        kept: &[TokenHash],
        exact: usize,
        seed: u64,
    ) {
        let per_word = kept.iter().filter(|&&w| mask_has(mask, w)).count();
        let bound = mask_bound(mask, &KeptBits::new(kept));
        assert_eq!(bound, per_word, "seed {seed}, {N} words");
        assert!(bound >= exact, "seed {seed}, {N} words");
    }

    #[test]
    fn holds_enough_counts_repeats_of_kept() {
        let brute = |kept: &[TokenHash], held: &[TokenHash], need: usize| {
            kept.iter()
                .filter(|w| held.binary_search(w).is_ok())
                .count()
                >= need
        };
        let cases: &[(&[TokenHash], &[TokenHash])] = &[
            (&[], &[]),
            (&[1, 1, 2, 5], &[1, 3, 5]),
            (&[1, 2, 3], &[]),
            (&[2, 2, 2], &[2]),
            (
                &[4],
                &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
            ),
            (
                &[3, 4, 99],
                &[
                    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                    22, 23, 24,
                ],
            ),
        ];
        for &(kept, held) in cases {
            for need in 0..=kept.len() + 1 {
                assert_eq!(
                    holds_enough(kept, held, need),
                    brute(kept, held, need),
                    "{kept:?} {held:?} {need}"
                );
            }
        }
    }

    #[test]
    fn union_find_roots_are_smallest_members() {
        let mut uf = UnionFind::new(6);
        uf.union(4, 2);
        uf.union(5, 4);
        uf.union(1, 3);
        assert_eq!(uf.find(5), 2);
        assert_eq!(uf.clone().groups(), vec![vec![1, 3], vec![2, 4, 5]]);
        uf.union(0, 6 - 1);
        let sets = uf.into_sets();
        let table: [(usize, Vec<Vec<Vec<u32>>>); 3] = [
            (usize::MAX, vec![vec![vec![0, 2, 4, 5], vec![1, 3]]]),
            (1, vec![vec![vec![0, 2, 4, 5]], vec![vec![1, 3]]]),
            (5, vec![vec![vec![0, 2, 4, 5], vec![1, 3]]]),
        ];
        for (members, want) in table {
            assert_eq!(sets.chunks(members).collect::<Vec<_>>(), want, "{members}");
        }
    }

    #[test]
    fn chained_members_are_split_off() {
        // 0 ~ 1 and 1 ~ 2, but 0 and 2 differ: 2 leaves 0's group, and alone it is dropped.
        let sim = |a: u32, b: u32| if a.abs_diff(b) <= 1 { 0.9 } else { 0.5 };
        let groups = split_by_kept(&[0u32, 1, 2], 0.8, sim);
        assert_eq!(groups, vec![vec![(0, 1.0), (1, 0.9)]]);
        // With a fourth member similar to 2, the two form their own group.
        let groups = split_by_kept(&[0u32, 1, 2, 3], 0.8, sim);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[1], vec![(2, 1.0), (3, 0.9)]);
    }

    /// Occurrences over token sequences, one per paragraph, fitted as the pipeline does:
    /// the part of the region aligned with the kept one, similarity 2·LCS/(la + lb), zero
    /// for a part shorter than 8 words. Indexed past [`SMALL_SET`] members, as
    /// [`split_fitted`] is.
    fn fitted_split(texts: &[Vec<TokenHash>]) -> Vec<Vec<(Interval, f64)>> {
        split_with(texts, texts.len() > SMALL_SET, PARALLEL_CANDIDATES)
    }

    /// One occurrence per text: the whole of it.
    fn whole_members(texts: &[Vec<TokenHash>]) -> Vec<Interval> {
        texts
            .iter()
            .enumerate()
            .map(|(p, t)| Interval {
                para: p as u32,
                start: 0,
                end: t.len() as u32,
            })
            .collect()
    }

    fn span(texts: &[Vec<TokenHash>], iv: Interval) -> &[TokenHash] {
        &texts[iv.para as usize][iv.start as usize..iv.end as usize]
    }

    /// The pipeline's fit of `m` to `kept`, told that only similarities of at least
    /// `min` count.
    fn fit_as_pipeline(
        texts: &[Vec<TokenHash>],
        kept: Interval,
        m: Interval,
        min: f64,
    ) -> (Interval, f64) {
        let (s, e, matches) = crate::passage::fit(span(texts, kept), span(texts, m), min);
        let part = Interval {
            start: m.start + s as u32,
            end: m.start + e as u32,
            ..m
        };
        let sim = if part.len() < 8 {
            0.0
        } else {
            2.0 * matches as f64 / (kept.len() + part.len()) as f64
        };
        (part, sim)
    }

    /// The texts' split through `split_fitted_with(.., indexed, parallel_from)`, fitted as
    /// [`fitted_split`] says.
    fn split_with(
        texts: &[Vec<TokenHash>],
        indexed: bool,
        parallel_from: usize,
    ) -> Vec<Vec<(Interval, f64)>> {
        let members = whole_members(texts);
        split_fitted_with(
            &members,
            |m| span(texts, members[m]),
            0.8,
            |k, m| fit_as_pipeline(texts, k, m, 0.8),
            indexed,
            parallel_from,
        )
    }

    /// `n` variants of one to three random passages of 10 to 39 words, each with fewer
    /// than `edits` edits: a word changed, a word dropped, or the end cut.
    fn variants(rng: &mut impl FnMut(u64) -> u64, n: u64, edits: u64) -> Vec<Vec<TokenHash>> {
        let passages: Vec<Vec<TokenHash>> = (0..1 + rng(3))
            .map(|_| (0..10 + rng(30)).map(|_| rng(60) as TokenHash).collect())
            .collect();
        (0..n)
            .map(|_| {
                let mut t = passages[rng(passages.len() as u64) as usize].clone();
                for _ in 0..rng(edits) {
                    let at = rng(t.len() as u64) as usize;
                    match rng(3) {
                        0 => t[at] = 1_000 + rng(50) as TokenHash,
                        1 if t.len() > 8 => {
                            t.remove(at);
                        }
                        _ => t.truncate(t.len().max(9) - 1),
                    }
                }
                t
            })
            .collect()
    }

    /// Sets of 2 to 24 occurrences cut from variants of a few passages (words changed,
    /// dropped, cut at the end): the groups are the same whether the candidates of
    /// each round come through the word index or are every member in play.
    #[test]
    fn small_sets_split_alike_without_the_index() {
        let mut rng = crate::test_rng(29);
        let mut joined = 0;
        for case in 0..400 {
            let n = 2 + rng(23);
            let texts = variants(&mut rng, n, 4);
            let with_index = split_with(&texts, true, usize::MAX);
            assert_eq!(
                split_with(&texts, false, usize::MAX),
                with_index,
                "case {case}"
            );
            joined += with_index.len();
        }
        assert!(joined > 300, "{joined} groups");
    }

    /// Sets of 100 to 300 occurrences, most of them candidates of the first rounds: the
    /// groups are the same whether each round's candidates are filtered and measured on
    /// one thread or on several, with or without the index.
    #[test]
    fn large_sets_split_alike_in_parallel() {
        let mut rng = crate::test_rng(31);
        let mut large = 0;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("pool");
        for case in 0..12 {
            let n = 100 + rng(200);
            let texts = variants(&mut rng, n, 5);
            let split = |indexed, parallel_from| {
                pool.install(|| split_with(&texts, indexed, parallel_from))
            };
            let one_thread = split(true, usize::MAX);
            large += usize::from(one_thread.iter().any(|g| g.len() > 64));
            assert_eq!(split(true, 1), one_thread, "case {case}");
            assert_eq!(split(false, 1), one_thread, "case {case}");
        }
        assert!(large >= 8, "{large} cases with a group of over 64");
    }

    #[test]
    fn longer_passage_around_boilerplate_gets_its_own_cluster() {
        // 0 is a 10-word clause; 1 and 2 both hold it inside the same 22-word passage.
        // 1 and 2 join 0 with the clause, and stay in play: the passage they share is a
        // cluster of its own. (Splitting off each member whole lost that passage.)
        let clause: Vec<TokenHash> = (100..110).collect();
        let passage: Vec<TokenHash> = (0..12).chain(100..110).collect();
        let groups = fitted_split(&[clause, passage.clone(), passage]);
        let iv = |para, start, end| Interval { para, start, end };
        assert_eq!(
            groups,
            vec![
                vec![
                    (iv(0, 0, 10), 1.0),
                    (iv(1, 12, 22), 1.0),
                    (iv(2, 12, 22), 1.0)
                ],
                vec![(iv(1, 0, 22), 1.0), (iv(2, 0, 22), 1.0)],
            ]
        );
    }

    #[test]
    fn many_unrelated_pairs_in_one_set_are_all_split() {
        // 5,000 pairs of copies, linked into one set (as boilerplate links them): one
        // kept occurrence per pair. A bound of 4,096 rounds lost the last 904 pairs; the
        // indexed split reads a few entries per round.
        let n = 5000u32;
        let text = |i: u32| (0..10).map(|w| i * 10 + w).collect::<Vec<TokenHash>>();
        let texts: Vec<Vec<TokenHash>> = (0..2 * n).map(|p| text(p % n)).collect();
        let groups = fitted_split(&texts);
        assert_eq!(groups.len(), n as usize);
        assert!(groups
            .iter()
            .all(|g| g.len() == 2 && g[1].0.para == g[0].0.para + n));
    }

    /// The split as specified: every member in play is fitted whole to every kept one.
    fn naive_fitted_split(texts: &[Vec<TokenHash>]) -> Vec<Vec<(Interval, f64)>> {
        let whole = |p: usize| Interval {
            para: p as u32,
            start: 0,
            end: texts[p].len() as u32,
        };
        let mut rest: Vec<usize> = (0..texts.len()).collect();
        let mut joined: Vec<Vec<Interval>> = vec![Vec::new(); texts.len()];
        let mut out = Vec::new();
        while rest.len() >= 2 {
            let kept = rest.remove(0);
            let mut group = vec![(whole(kept), 1.0)];
            rest.retain(|&m| {
                let (part, sim) = fit_as_pipeline(texts, whole(kept), whole(m), 0.0);
                let repeats = joined[m].iter().any(|p| {
                    let overlap = p.end.min(part.end).saturating_sub(p.start.max(part.start));
                    overlap as f64 >= 0.8 * p.len().max(part.len()) as f64
                });
                if sim < 0.8 || part.is_empty() || repeats {
                    return true;
                }
                group.push((part, sim));
                joined[m].push(part);
                2 * part.len() < whole(m).len()
            });
            if group.len() >= 2 {
                out.push(group);
            }
        }
        out
    }

    #[test]
    fn indexed_split_agrees_with_fitting_every_member() {
        // Members built from a few base texts by cutting, editing and gluing, so that
        // many pairs are near the threshold; words from a small vocabulary.
        let mut next = crate::test_rng(0x2545_f491_4f6c_dd1du64);
        for _ in 0..300 {
            let bases: Vec<Vec<TokenHash>> = (0..3)
                .map(|_| (0..8 + next(30)).map(|_| next(40) as TokenHash).collect())
                .collect();
            let texts: Vec<Vec<TokenHash>> = (0..2 + next(14))
                .map(|_| {
                    let base = &bases[next(3) as usize];
                    let from = next(base.len() as u64 / 3) as usize;
                    let mut t: Vec<TokenHash> = base[from..].to_vec();
                    for _ in 0..next(4) {
                        let at = next(t.len() as u64) as usize;
                        t[at] = 100 + next(10) as TokenHash;
                    }
                    if next(3) == 0 {
                        t.extend((0..next(20)).map(|_| next(40) as TokenHash));
                    }
                    t
                })
                .collect();
            assert_eq!(
                fitted_split(&texts),
                naive_fitted_split(&texts),
                "{texts:?}"
            );
        }
    }

    /// The bit tests of the index are upper bounds: a member that holds just enough of
    /// the kept occurrence's words to fit it is never left out. Its words have distinct
    /// top bits, so both of its masks count them exactly.
    #[test]
    fn a_member_holding_just_enough_words_joins_through_the_index() {
        let word = |i: usize| ((i as TokenHash) << 25) | 1;
        for len in 12..=60 {
            let kept: Vec<TokenHash> = (0..len).map(word).collect();
            let need = FitBound::new(&kept, 0.8).need;
            for held in [need - 1, need] {
                let mut texts = vec![kept.clone()];
                // Enough members sharing no word with the kept one to be indexed.
                texts.extend(
                    (0..SMALL_SET).map(|f| (0..10).map(|j| word(64 + (f * 11 + j) % 64)).collect()),
                );
                texts.push(kept[..held].to_vec());
                let groups = fitted_split(&texts);
                assert_eq!(
                    groups,
                    naive_fitted_split(&texts),
                    "{len} words, {held} held"
                );
                let last = texts.len() as u32 - 1;
                let joined = groups[0].iter().any(|(iv, _)| iv.para == last);
                assert_eq!(joined, held == need, "{len} words, {held} held");
            }
        }
    }

    #[test]
    fn a_rare_word_held_twice_by_the_kept_one_makes_both_marks() {
        // The kept occurrence's rarest word comes twice; a member that holds it and
        // just enough of the commonest other words holds no other entry of the
        // widened prefix, and must still be a candidate.
        let word = |i: usize| ((i as TokenHash) << 20) | 3;
        let rare = word(1000);
        for len in [12, 20, 30] {
            let others: Vec<TokenHash> = (0..len - 2).map(word).collect();
            let mut kept = vec![rare, rare];
            kept.extend(&others);
            let need = FitBound::new(&kept, 0.8).need;
            let mut texts = vec![kept.clone()];
            // Word i of the others is held by i + 2 members besides the kept one.
            for (i, &w) in others.iter().enumerate() {
                for f in 0..i + 2 {
                    let filler = (0..10).map(|j| word(2000 + (i * 31 + f * 7 + j) % 500));
                    texts.push(std::iter::once(w).chain(filler).collect());
                }
            }
            let mut member = vec![rare, rare];
            member.extend(&others[len - need..]);
            texts.push(member);
            let groups = fitted_split(&texts);
            assert_eq!(groups, naive_fitted_split(&texts), "{len} words");
            let last = texts.len() as u32 - 1;
            let joined = groups[0].iter().any(|(iv, _)| iv.para == last);
            assert!(groups[0][0].0.para == 0 && joined, "{len} words");
        }
    }

    #[test]
    fn overlapping_intervals_join_and_merge() {
        let iv = |para, start, end| Interval { para, start, end };
        // Paragraph 0 holds the passage twice over (0..10 and 2..12): one occurrence.
        let pairs = vec![(iv(0, 0, 10), iv(1, 5, 15)), (iv(0, 2, 12), iv(2, 0, 10))];
        let groups = passage_groups(&pairs);
        assert_eq!(groups, vec![vec![iv(0, 0, 12), iv(1, 5, 15), iv(2, 0, 10)]]);
    }

    #[test]
    fn distinct_passages_stay_apart() {
        let iv = |para, start, end| Interval { para, start, end };
        let pairs = vec![(iv(0, 0, 10), iv(1, 0, 10)), (iv(0, 20, 30), iv(2, 0, 10))];
        let groups = passage_groups(&pairs);
        assert_eq!(groups.len(), 2);
    }
}
