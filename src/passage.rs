//! Repeated passages: seeds, seed matches, and aligned spans between paragraphs.
//!
//! 1. **Seeds.** Each paragraph's word k-grams (k = 4 by default) are winnowed with a
//!    window of w = 3 (Schleimer, Wilkerson, Aiken 2003): in every run of w consecutive
//!    k-gram hashes the minimum is kept. Two texts sharing an exact run of k + w − 1 = 6
//!    words are guaranteed to share a seed; the density is about 2/(w+1) = 0.5 seeds per
//!    word. A seed is a [`SeedPosting`].
//! 2. **Matches.** Postings are grouped by hash, one partition at a time. A posting list
//!    of n ≤ [`ALL_PAIRS_MAX`] entries gives all its pairs; a longer one (boilerplate) a
//!    star to its first entry, so the work stays linear in the number of postings.
//! 3. **Alignment.** Matches are grouped by paragraph pair. From each match not already
//!    inside an aligned region, a banded X-drop extension (Zhang et al. 2000) runs
//!    forward and backward over the two paragraphs' normalized tokens. The extension
//!    crosses substitutions, insertions and deletions and stops where the texts part,
//!    so consecutive seeds of one passage chain into a single span. A span is kept when
//!    both sides have at least `min_words` words and its similarity 2M/(la+lb) (M =
//!    aligned equal words) is at least the passage threshold.
//!
//! Everything here works on plain token-hash sequences indexed by dense paragraph
//! index: no text, no I/O.

use std::borrow::Cow;

use rayon::prelude::*;

use crate::filter::reduce_repeated;
use crate::lsh::{concat_freeing, reduce_partitions, ALL_PAIRS_MAX};
use crate::normalize::TokenHash;
use crate::records::SeedPosting;
use crate::shingle::kgrams;

/// Token-hash sequences of all paragraphs, by dense paragraph index.
///
/// The hashes are held in chunks, one per document appended with [`Self::push_chunk`],
/// so a document's hashes are moved in, never copied: the table of a whole corpus is
/// never held twice.
#[derive(Clone, Debug, Default)]
pub struct TokenTable {
    chunks: Vec<Vec<TokenHash>>,
    /// Per paragraph: its chunk and its token range in that chunk.
    index: Vec<ChunkSpan>,
    n_tokens: usize,
}

/// Where one paragraph's hashes are in a [`TokenTable`].
#[derive(Clone, Copy, Debug, Default)]
struct ChunkSpan {
    chunk: u32,
    start: u32,
    end: u32,
}

impl TokenTable {
    /// An empty table.
    pub fn new() -> TokenTable {
        TokenTable::default()
    }

    /// Appends the next paragraph's token hashes.
    pub fn push(&mut self, tokens: impl IntoIterator<Item = TokenHash>) {
        // Offsets in a chunk are `u32`. The length of `tokens` is not known before it is
        // read, so a chunk takes no more once it is half full: no paragraph has 2^31
        // tokens (a file is under 4 GiB).
        let room = self
            .chunks
            .last()
            .is_some_and(|c| c.len() < u32::MAX as usize / 2);
        if !room {
            self.chunks.push(Vec::new());
        }
        let chunk = self.chunks.len() - 1;
        if let Some(hashes) = self.chunks.last_mut() {
            let start = hashes.len();
            hashes.extend(tokens);
            self.n_tokens += hashes.len() - start;
            self.index.push(ChunkSpan {
                chunk: chunk as u32,
                start: start as u32,
                end: hashes.len() as u32,
            });
        }
    }

    /// Makes room for `documents` more chunks of `paragraphs` paragraphs in all, so
    /// that the table is built without copying its index as it grows.
    pub fn reserve(&mut self, documents: usize, paragraphs: usize) {
        self.chunks.reserve(documents);
        self.index.reserve(paragraphs);
    }

    /// Appends the paragraphs of one document: `hashes` are all their token hashes in
    /// order and `counts[i]` is the number of tokens of paragraph `i`. The hashes are
    /// moved into the table. Counts that overrun `hashes` are cut at its end.
    pub fn push_chunk(&mut self, hashes: Vec<TokenHash>, counts: &[u32]) {
        let chunk = self.chunks.len() as u32;
        let mut at = 0usize;
        for &n in counts {
            let end = (at + n as usize).min(hashes.len());
            self.index.push(ChunkSpan {
                chunk,
                start: at as u32,
                end: end as u32,
            });
            at = end;
        }
        self.n_tokens += hashes.len();
        self.chunks.push(hashes);
    }

    /// Number of paragraphs.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Number of tokens in all paragraphs.
    pub fn n_tokens(&self) -> usize {
        self.n_tokens
    }

    /// True if there are no paragraphs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Token hashes of paragraph `p`.
    pub fn get(&self, p: usize) -> &[TokenHash] {
        self.index
            .get(p)
            .and_then(|s| {
                self.chunks
                    .get(s.chunk as usize)?
                    .get(s.start as usize..s.end as usize)
            })
            .unwrap_or(&[])
    }
}

/// Read access to the token hashes of paragraphs by dense index: a [`TokenTable`] in
/// memory, or a table spilled to disk ([`crate::spill`]).
pub trait TokenSource: Sync {
    /// Token hashes of paragraph `p` (empty if there is no such paragraph).
    fn tokens(&self, p: u32) -> Cow<'_, [TokenHash]>;

    /// How many token hashes paragraph `p` has, without reading them where that costs.
    fn token_count(&self, p: u32) -> usize {
        self.tokens(p).len()
    }

    /// Asks the CPU to start loading token `pos` of paragraph `p`, which will be read
    /// soon. A hint: it does nothing by default.
    fn prefetch(&self, p: u32, pos: u32) {
        let _ = (p, pos);
    }
}

impl TokenSource for TokenTable {
    fn tokens(&self, p: u32) -> Cow<'_, [TokenHash]> {
        Cow::Borrowed(self.get(p as usize))
    }

    fn token_count(&self, p: u32) -> usize {
        self.get(p as usize).len()
    }

    fn prefetch(&self, p: u32, pos: u32) {
        if let Some(token) = self.get(p as usize).get(pos as usize) {
            crate::prefetch(token);
        }
    }
}

/// Parameters of the passage stage.
#[derive(Clone, Copy, Debug)]
pub struct PassageParams {
    /// Seed k-gram size in words.
    pub k: usize,
    /// Winnowing window in k-grams.
    pub window: usize,
    /// Shortest span reported, in words, on both sides.
    pub min_words: usize,
    /// Minimum similarity 2M/(la+lb) of an aligned span pair.
    pub min_similarity: f64,
}

/// An aligned passage pair: token ranges `[a_start, a_end)` of paragraph `a` and
/// `[b_start, b_end)` of paragraph `b` (dense indices, a ≤ b).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alignment {
    /// First paragraph.
    pub a: u32,
    /// Token range in `a`.
    pub a_start: u32,
    /// End (exclusive) of the token range in `a`.
    pub a_end: u32,
    /// Second paragraph.
    pub b: u32,
    /// Token range in `b`.
    pub b_start: u32,
    /// End (exclusive) of the token range in `b`.
    pub b_end: u32,
    /// Aligned equal words.
    pub matches: u32,
}

impl Alignment {
    /// 2M / (la + lb).
    pub fn similarity(&self) -> f64 {
        let total = (self.a_end - self.a_start) + (self.b_end - self.b_start);
        if total == 0 {
            0.0
        } else {
            2.0 * f64::from(self.matches) / f64::from(total)
        }
    }
}

/// Winnowed seeds of one token sequence: (k-gram hash, token position), in position order.
pub fn winnow(tokens: &[TokenHash], k: usize, window: usize, out: &mut Vec<(u64, u32)>) {
    winnow_into(tokens, k, window, &mut Vec::new(), out);
}

/// [`winnow`] with a caller-provided buffer for the k-gram hashes.
fn winnow_into(
    tokens: &[TokenHash],
    k: usize,
    window: usize,
    grams: &mut Vec<u64>,
    out: &mut Vec<(u64, u32)>,
) {
    grams.clear();
    kgrams(tokens, k, grams);
    if grams.is_empty() {
        return;
    }
    let w = window.max(1).min(grams.len());
    if w <= SCANNED_WINDOW {
        winnow_scanning(grams, w, out);
        return;
    }
    // The rightmost minimum of each window, as in the winnowing paper: a run of equal
    // hashes then keeps moving the selection, so repeated text still leaves seeds. While
    // the last selection stays in the window, only the hash that enters can replace it;
    // the window is scanned again only when the selection leaves it (about one window
    // in w on random hashes).
    let rightmost_min = |from: usize| {
        (from + 1..from + w).fold(
            from,
            |best, i| if grams[i] <= grams[best] { i } else { best },
        )
    };
    let mut best = rightmost_min(0);
    out.push((grams[best], best as u32));
    for start in 1..=grams.len() - w {
        let entering = start + w - 1;
        let next = if best < start {
            rightmost_min(start)
        } else if grams[entering] <= grams[best] {
            entering
        } else {
            best
        };
        if next != best {
            out.push((grams[next], next as u32));
            best = next;
        }
    }
}

/// Widest window that [`winnow_scanning`] takes.
const SCANNED_WINDOW: usize = 8;

/// The winnowing of `winnow_into` for a small window `w` (at most the number of
/// grams): each window is scanned whole, its rightmost minimum kept by selects rather
/// than branches, and each selection is written whether or not it is new, the length
/// moving on only when it is. On hashes, which of the three branches of the incremental
/// scan is taken is random: about 0.7 mispredicted branches a gram at the default
/// window of 3, which cost more than the compares of the whole window.
fn winnow_scanning(grams: &[u64], w: usize, out: &mut Vec<(u64, u32)>) {
    let first = out.len();
    out.resize(first + grams.len() + 1 - w, (0, 0));
    let slots = &mut out[first..];
    let mut written = 0;
    let mut last = usize::MAX;
    for (start, window) in grams.windows(w).enumerate() {
        let (mut best, mut min) = (0, window[0]);
        for (i, &g) in window.iter().enumerate().skip(1) {
            let take = g <= min;
            best = if take { i } else { best };
            min = if take { g } else { min };
        }
        let at = start + best;
        // `written` ≤ `start`, and there is a slot for every window.
        if let Some(slot) = slots.get_mut(written) {
            *slot = (min, at as u32);
        }
        written += usize::from(at != last);
        last = at;
    }
    out.truncate(first + written);
}

/// One seed match between two paragraph positions, ordered so that (a, pos_a) < (b, pos_b):
/// 12 bytes. A paragraph is at most 64 KiB (`segment::MAX_PARAGRAPH_BYTES`), so it has at
/// most 65,536 tokens, and a position fits in 16 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeedMatch {
    /// First paragraph.
    pub a: u32,
    /// Second paragraph.
    pub b: u32,
    /// Seed position in `a`.
    pub pos_a: u16,
    /// Seed position in `b`.
    pub pos_b: u16,
}

/// The map of the seed stage: postings of the given paragraphs, naming paragraph `p`
/// by its dense index.
pub fn seed_postings(
    table: &TokenTable,
    participants: &[u32],
    params: &PassageParams,
) -> Vec<SeedPosting> {
    concat_freeing(seed_postings_in_chunks(table, participants, params))
}

/// The seed matches of `participants` from their seeds that may occur more than once,
/// as the unjoined parts the partitions gave ([`raw_seed_match_parts`] of their
/// postings). Each chunk of paragraphs is winnowed once and groups its seeds by
/// partition; [`reduce_repeated`] then runs each partition's seeds through a filter of
/// its own and makes postings of those that passed only. The matches are the same as
/// from all postings (a seed seen once matches nothing); the postings held are a small
/// fraction, and only one partition's at a time. The seeds are held between the two
/// steps (10 bytes a seed: the hash, with the paragraph's index in its chunk in place
/// of its partition bits, and the position in 16 bits). For one machine's memory:
/// spilled batches cannot see each other's seeds and write every posting. Also returns
/// the number of seeds made, kept or not.
pub fn repeated_seed_match_parts(
    table: &TokenTable,
    participants: &[u32],
    params: &PassageParams,
) -> (Vec<Vec<SeedMatch>>, usize) {
    reduce_repeated(
        participants,
        |chunk, out| {
            for_each_seeds(table, chunk, params, |_, seeds| {
                // Held in 16 bits, as a match holds them (see `SeedMatch`).
                for &(hash, pos) in seeds.iter() {
                    if let Ok(pos) = u16::try_from(pos) {
                        out.push(hash, pos);
                    }
                }
                out.end_item();
            });
        },
        |para, hash, pos: u16| SeedPosting {
            hash,
            para: u64::from(para),
            pos: pos.into(),
        },
        |part| partition_matches(part, params.min_words),
    )
}

/// Paragraphs handed to one parallel task by the seed map.
const PARALLEL_CHUNK: usize = 256;

/// One paragraph's winnowed seeds: (k-gram hash, token position).
type Seeds = Vec<(u64, u32)>;

/// The postings of `participants`, in the order of `participants`, a chunk of
/// paragraphs at a time.
fn seed_postings_in_chunks(
    table: &TokenTable,
    participants: &[u32],
    params: &PassageParams,
) -> Vec<Vec<SeedPosting>> {
    participants
        .par_chunks(PARALLEL_CHUNK)
        .with_max_len(4)
        .map(|chunk| {
            let mut out = Vec::new();
            for_each_seeds(table, chunk, params, |p, seeds| {
                out.extend(seeds.iter().map(|&(hash, pos)| SeedPosting {
                    hash,
                    para: u64::from(p),
                    pos,
                }));
            });
            out
        })
        .collect()
}

/// Calls `each` with every paragraph of `chunk` and its winnowed seeds, in order,
/// reusing one pair of buffers.
fn for_each_seeds(
    table: &TokenTable,
    chunk: &[u32],
    params: &PassageParams,
    mut each: impl FnMut(u32, &mut Seeds),
) {
    let (mut grams, mut seeds) = (Vec::new(), Vec::new());
    for &p in chunk {
        seeds.clear();
        winnow_into(
            table.get(p as usize),
            params.k,
            params.window,
            &mut grams,
            &mut seeds,
        );
        each(p, &mut seeds);
    }
}

/// The reduce of the seed stage: seed matches from postings (given in chunks), sorted by
/// paragraph pair.
/// A self match inside one paragraph is kept only when its two seeds are at least
/// `min_words` apart, since the two copies of a repeat may not overlap.
pub fn seed_matches(postings: Vec<Vec<SeedPosting>>, min_words: usize) -> Vec<SeedMatch> {
    let mut matches = raw_seed_matches(postings, min_words);
    matches.par_sort_unstable();
    matches.dedup();
    matches
}

/// [`seed_matches`] before they are sorted and deduplicated: what a spilled run
/// shuffles to its pair buckets. The postings are freed before the partial results
/// are joined.
pub fn raw_seed_matches(postings: Vec<Vec<SeedPosting>>, min_words: usize) -> Vec<SeedMatch> {
    concat_freeing(raw_seed_match_parts(postings, min_words))
}

/// [`raw_seed_matches`] as the parts the partitions of postings gave, not joined (the
/// input of [`align_match_parts`]).
pub fn raw_seed_match_parts(
    postings: Vec<Vec<SeedPosting>>,
    min_words: usize,
) -> Vec<Vec<SeedMatch>> {
    reduce_partitions(
        postings,
        |p| p.hash,
        |part| partition_matches(part, min_words),
    )
}

/// [`align_all`] over [`seed_matches`], from the unjoined parts of raw matches of
/// paragraphs `0..paragraphs`: the matches are cut again by ranges of their first
/// paragraph (a partition key in the order of [`SeedMatch`]), and each range is
/// gathered from all parts, sorted, deduplicated and aligned on its own, so the raw
/// matches are never joined, sorted whole or held twice. The alignments come out in the
/// same order as from `align_all`. Also returns the number of distinct matches.
pub fn align_match_parts<T: TokenSource + ?Sized>(
    table: &T,
    parts: Vec<Vec<SeedMatch>>,
    paragraphs: usize,
    params: &PassageParams,
) -> (Vec<Alignment>, usize) {
    // Monotone in (a, b), and so in the order of the matches; spread over the full
    // range (a multiply, where a division per match cost 2-3 % of the stage on ant).
    // By b as well as a: the matches of a boilerplate paragraph that comes first in its
    // runs of seeds (livedoor: 12 % of all in one range of a) spread over partitions.
    let n = paragraphs.max(1) as u64;
    // n ≤ 2^32, so a·n + b < n² ≤ 2^64, and (a·n + b)·step < 2^64.
    let step = u64::MAX / n.saturating_mul(n);
    let key = |m: &SeedMatch| {
        (u64::from(m.a).saturating_mul(n))
            .saturating_add(u64::from(m.b))
            .saturating_mul(step)
    };
    let aligned = reduce_partitions(parts, key, |range| {
        // A raw match repeats only if a paragraph's seeds did; copied only then.
        if range.windows(2).all(|w| w[0] != w[1]) {
            return (align_all(table, range, params), range.len());
        }
        let mut distinct = range.to_vec();
        distinct.dedup();
        (align_all(table, &distinct, params), distinct.len())
    });
    let matches = aligned.iter().map(|(_, n)| n).sum();
    let alignments = concat_freeing(aligned.into_iter().map(|(a, _)| a).collect());
    (alignments, matches)
}

/// The seed matches of one partition of postings, sorted by hash (the reduce of one
/// partition; matches are not yet sorted or deduplicated).
pub fn partition_matches(part: &[SeedPosting], min_words: usize) -> Vec<SeedMatch> {
    let mut out = Vec::new();
    for run in part.chunk_by(|x, y| x.hash == y.hash) {
        run_matches(run, min_words, &mut out);
    }
    // Held until every partition is reduced: not with up to twice the room it needs.
    out.shrink_to_fit();
    out
}

fn run_matches(run: &[SeedPosting], min_words: usize, out: &mut Vec<SeedMatch>) {
    if run.len() < 2 {
        return;
    }
    let mut push = |x: &SeedPosting, y: &SeedPosting| {
        if x.para == y.para && (y.pos as usize) < x.pos as usize + min_words {
            return;
        }
        // Positions past 16 bits cannot occur (see `SeedMatch`).
        let (Ok(pos_a), Ok(pos_b)) = (u16::try_from(x.pos), u16::try_from(y.pos)) else {
            return;
        };
        out.push(SeedMatch {
            a: x.para as u32,
            b: y.para as u32,
            pos_a,
            pos_b,
        });
    };
    if run.len() <= ALL_PAIRS_MAX {
        for (i, x) in run.iter().enumerate() {
            for y in &run[i + 1..] {
                push(x, y);
            }
        }
    } else {
        for y in &run[1..] {
            push(&run[0], y);
        }
    }
}

/// At most this many extensions per paragraph pair: bounds the work on pathological
/// pairs (a paragraph made of one word repeated), where every seed matches every other.
pub const MAX_EXTENSIONS_PER_PAIR: usize = 256;

/// Paragraph pairs aligned in turn by one parallel task of [`align_all`].
const PREFETCHED_RUN: usize = 64;

/// Aligns every paragraph pair that shares seeds; returns the accepted spans, in
/// paragraph-pair order.
pub fn align_all<T: TokenSource + ?Sized>(
    table: &T,
    matches: &[SeedMatch],
    params: &PassageParams,
) -> Vec<Alignment> {
    let groups: Vec<&[SeedMatch]> = matches.chunk_by(|x, y| (x.a, x.b) == (y.a, y.b)).collect();
    // Pairs are aligned in runs, the words of the next pair's first seed loaded while
    // the current one is aligned: the paragraphs lie anywhere in the table, and each
    // pair's first read of them misses the caches.
    groups
        .par_chunks(PREFETCHED_RUN)
        // Short tasks, so that the stage does not end on one thread (see `reduce_repeated`).
        .with_max_len(4)
        .flat_map_iter(|run| {
            // One buffer of covered regions for the run: most pairs extend one seed
            // and accept nothing, and a buffer per pair was an allocation per pair.
            let (mut covered, mut accepted) = (Vec::new(), Vec::new());
            // The pairs are in order of their first paragraph, whose words are read
            // once for all its pairs in the run (a read from disk in a spilled run).
            let mut first: Option<(u32, Cow<'_, [TokenHash]>)> = None;
            for (i, group) in run.iter().enumerate() {
                if let Some(m) = run.get(i + 1).and_then(|next| next.first()) {
                    table.prefetch(m.a, m.pos_a.into());
                    table.prefetch(m.b, m.pos_b.into());
                }
                let Some(a) = group.first().map(|m| m.a) else {
                    continue;
                };
                if first.as_ref().map(|(p, _)| *p) != Some(a) {
                    first = Some((a, table.tokens(a)));
                }
                if let Some((_, words)) = &first {
                    align_pair_into(table, group, words, params, &mut covered, &mut accepted);
                }
            }
            accepted
        })
        .collect()
}

/// Aligns one paragraph pair from its seed matches (all with the same a and b).
pub fn align_pair<T: TokenSource + ?Sized>(
    table: &T,
    group: &[SeedMatch],
    params: &PassageParams,
) -> Vec<Alignment> {
    let mut accepted = Vec::new();
    if let Some(first) = group.first() {
        let a = table.tokens(first.a);
        align_pair_into(table, group, &a, params, &mut Vec::new(), &mut accepted);
    }
    accepted
}

/// [`align_pair`] given the words `a` of the first paragraph, appending to `accepted`,
/// with `covered` as scratch.
fn align_pair_into<T: TokenSource + ?Sized>(
    table: &T,
    group: &[SeedMatch],
    a: &[TokenHash],
    params: &PassageParams,
    covered: &mut Vec<Alignment>,
    accepted: &mut Vec<Alignment>,
) {
    let Some(first) = group.first() else {
        return;
    };
    let self_pair = first.a == first.b;
    let read_b;
    let b = if self_pair {
        a
    } else {
        read_b = table.tokens(first.b);
        read_b.as_ref()
    };
    covered.clear();
    let mut extensions = 0;
    for m in group {
        let (ia, ib) = (m.pos_a as usize, m.pos_b as usize);
        // Matches come in order of pos_a: a region ending before ia covers no later one.
        covered.retain(|c| c.a_end as usize > ia);
        if covered.iter().any(|c| {
            (c.a_start as usize..c.a_end as usize).contains(&ia)
                && (c.b_start as usize..c.b_end as usize).contains(&ib)
        }) {
            continue;
        }
        if extensions == MAX_EXTENSIONS_PER_PAIR {
            break;
        }
        extensions += 1;
        let Some(al) = extend(a, b, ia, ib, self_pair) else {
            continue;
        };
        let al = Alignment {
            a: first.a,
            b: first.b,
            ..al
        };
        covered.push(al);
        let la = (al.a_end - al.a_start) as usize;
        let lb = (al.b_end - al.b_start) as usize;
        if la >= params.min_words
            && lb >= params.min_words
            && al.similarity() >= params.min_similarity
        {
            accepted.push(al);
        }
    }
}

/// Scores of the extension: +1 for equal words, −2 for a substitution or a gap. A
/// region keeps extending while it has more than two equal words per edit.
const MATCH: i32 = 1;
const MISMATCH: i32 = -2;
const GAP: i32 = -2;
/// The extension stops when the score falls this far below the best seen: three
/// consecutive edits.
const X_DROP: i32 = 6;
/// Widest drift between the two sides (net insertions) followed by the extension.
const BAND: usize = 16;

/// Extends the seed at (ia, ib) backward and forward. For a pair of one paragraph with
/// itself (ia < ib), the two copies are kept from overlapping.
fn extend(
    a: &[TokenHash],
    b: &[TokenHash],
    ia: usize,
    ib: usize,
    self_pair: bool,
) -> Option<Alignment> {
    if ia >= a.len() || ib >= b.len() || a[ia] != b[ib] {
        return None;
    }
    let a_fwd_limit = if self_pair { ib - ia } else { a.len() - ia };
    // The leading runs of equal words, walked over the slices (most repeats are exact).
    let (fwd_a, fwd_b) = (&a[ia..ia + a_fwd_limit], &b[ib..]);
    let run = equal_run(fwd_a.iter(), fwd_b.iter());
    let fwd = xdrop(run, fwd_a.len(), fwd_b.len(), |i| a[ia + i], |j| b[ib + j]);
    let a_end = ia + fwd.la;
    let b_back_limit = if self_pair { ib - a_end } else { ib };
    let (back_a, back_b) = (&a[..ia], &b[ib - b_back_limit..ib]);
    let run = equal_run(back_a.iter().rev(), back_b.iter().rev());
    let back = xdrop(run, ia, b_back_limit, |i| a[ia - 1 - i], |j| b[ib - 1 - j]);
    Some(Alignment {
        a: 0,
        a_start: (ia - back.la) as u32,
        a_end: a_end as u32,
        b: 0,
        b_start: (ib - back.lb) as u32,
        b_end: (ib + fwd.lb) as u32,
        matches: (fwd.matches + back.matches) as u32,
    })
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Extension {
    la: usize,
    lb: usize,
    matches: usize,
}

/// How many words the two sequences have equal before their first difference.
fn equal_run<'t>(
    a: impl Iterator<Item = &'t TokenHash>,
    b: impl Iterator<Item = &'t TokenHash>,
) -> usize {
    a.zip(b).take_while(|(x, y)| x == y).count()
}

/// X-drop alignment from (0, 0): the best-scoring end point over prefixes of lengths
/// ≤ `len_a`, ≤ `len_b`, where `word_a(i)` and `word_b(j)` are word i of one side and
/// word j of the other, and the first `run` words of both sides are equal and as many
/// as can be (the caller walks that run: most repeats are exact, so the dynamic
/// programming only runs where the copies differ). The dynamic programming only runs
/// where it can find more ([`can_extend`]).
fn xdrop(
    run: usize,
    len_a: usize,
    len_b: usize,
    word_a: impl Fn(usize) -> TokenHash,
    word_b: impl Fn(usize) -> TokenHash,
) -> Extension {
    let eq = |i: usize, j: usize| word_a(i) == word_b(j);
    let (rest_a, rest_b) = (len_a - run, len_b - run);
    if !can_extend(rest_a, rest_b, |i| word_a(run + i), |j| word_b(run + j)) {
        return Extension {
            la: run,
            lb: run,
            matches: run,
        };
    }
    let tail = xdrop_dp(rest_a, rest_b, |i, j| eq(run + i, run + j));
    Extension {
        la: run + tail.la,
        lb: run + tail.lb,
        matches: run + tail.matches,
    }
}

/// Edits an extension survives before its first equal pair of words: each costs at
/// least 2, and a cell falls out X = 6 below the best, which is the start until a word
/// matches.
const REACH: usize = (X_DROP / -(if MISMATCH > GAP { MISMATCH } else { GAP })) as usize;
const _: () = assert!(REACH == 3 && MATCH > 0);

/// Whether [`xdrop_dp`] from (0, 0) can find an end point better than (0, 0). Its first
/// improvement needs a hit, a diagonal move from a cell (i, j) with `eq(i, j)`, and that
/// cell must be alive: reached in at most [`REACH`] moves, none of them a hit yet, so
/// with i, j ≤ `REACH`. Without such a pair every path only loses score, and the
/// dynamic programming returns (0, 0) after a few rows: this compares at most 4 words
/// of one side with 4 of the other instead. On Japanese boilerplate most seed matches
/// are short chance repeats, and their extensions end here.
fn can_extend(
    len_a: usize,
    len_b: usize,
    word_a: impl Fn(usize) -> TokenHash,
    word_b: impl Fn(usize) -> TokenHash,
) -> bool {
    let (na, nb) = (len_a.min(REACH + 1), len_b.min(REACH + 1));
    let mut near_b = [0; REACH + 1];
    for (j, w) in near_b.iter_mut().enumerate().take(nb) {
        *w = word_b(j);
    }
    let near_b = &near_b[..nb];
    (0..na).any(|i| near_b.contains(&word_a(i)))
}

/// A cell of [`xdrop_dp`]: its score in the high 32 bits and its count of equal words
/// in the low 32, so that comparing two cells as integers compares their scores and
/// then, between equal scores, their matches: the better of two cells is their maximum.
type Packed = i64;

/// `score` and `matches` as a [`Packed`] cell.
const fn packed(score: i32, matches: u32) -> Packed {
    ((score as i64) << 32) | matches as i64
}

/// A cell out of the X-drop: below every live cell, and still far below them after
/// the one or two additions of a move (which cannot overflow from here).
const DEAD: Packed = packed(i32::MIN / 2, 0);

/// The dynamic programming of [`xdrop`], in a band of ±[`BAND`] diagonals, computing
/// only the cells still within [`X_DROP`] of the best score (a few per row). Cost:
/// O(extent × live cells per row).
///
/// Every cell of a row outside its live range is [`DEAD`], so a cell takes the best of
/// its three moves with no test of which neighbours are alive: a move from a dead
/// cell stays far below any live one, and a cell with only such moves falls out of
/// the X-drop. A cell is a [`Packed`] integer, so the best move is a maximum.
fn xdrop_dp(len_a: usize, len_b: usize, eq: impl Fn(usize, usize) -> bool) -> Extension {
    const WIDTH: usize = 2 * BAND + 1;
    const GAP_MOVE: Packed = packed(GAP, 0);
    const HIT: Packed = packed(MATCH, 1);
    const MISS: Packed = packed(MISMATCH, 0);
    // Row i holds cells j = i + d − BAND for d in 0..WIDTH; only d in lo..=hi are alive.
    // One cell more, always dead, for the up move of the last diagonal. Two rows on the
    // stack: an extension is short, and there is one per seed match.
    let (mut prev_row, mut cur_row) = ([DEAD; WIDTH + 1], [DEAD; WIDTH + 1]);
    let (mut prev, mut cur) = (&mut prev_row, &mut cur_row);
    prev[BAND] = packed(0, 0);
    let mut hi = BAND;
    // Row 0: gaps in a.
    while hi + 1 < WIDTH && hi + 1 - BAND <= len_b {
        let cell = prev[hi] + GAP_MOVE;
        if cell < packed(-X_DROP, 0) {
            break;
        }
        hi += 1;
        prev[hi] = cell;
    }
    let mut lo = BAND;
    let mut best = Extension::default();
    let mut best_cell = packed(0, 0);
    // Cells below this are dropped: X below the best cell's score, rising with it.
    let mut floor = packed(-X_DROP, 0);
    for i in 1..=len_a {
        // Cells of this row: j from max(0, ...) and d from lo − 1 on (an up move from
        // prev[lo]); to the right, until left moves can no longer stay alive.
        let d_min = lo.saturating_sub(1).max(BAND.saturating_sub(i));
        let d_max = (len_b + BAND).saturating_sub(i).min(WIDTH - 1);
        // The cells this row does not reach must be dead when it is the previous row.
        *cur = [DEAD; WIDTH + 1];
        let (mut new_lo, mut new_hi) = (usize::MAX, 0);
        let mut left = DEAD;
        let mut d = d_min;
        while d <= d_max {
            let j = i + d - BAND;
            // j = 0 only on the first cell of a row, where the diagonal and left moves
            // come from outside the matrix: cells that are dead.
            let hit = j >= 1 && eq(i - 1, j - 1);
            let diagonal = prev[d] + if hit { HIT } else { MISS };
            let mut cell = diagonal.max(left + GAP_MOVE).max(prev[d + 1] + GAP_MOVE);
            if cell < floor {
                cell = DEAD;
            }
            cur[d] = cell;
            left = cell;
            if cell != DEAD {
                new_lo = new_lo.min(d);
                new_hi = d;
                if cell > best_cell {
                    best_cell = cell;
                    floor = packed((cell >> 32) as i32 - X_DROP, 0);
                    best = Extension {
                        la: i,
                        lb: j,
                        matches: (cell & 0xFFFF_FFFF) as usize,
                    };
                }
            } else if d > hi + 1 {
                // Past the previous row's live cells only left moves reach here.
                break;
            }
            d += 1;
        }
        if new_lo == usize::MAX {
            break;
        }
        lo = new_lo;
        hi = new_hi;
        std::mem::swap(&mut prev, &mut cur);
    }
    best
}

/// Similarity 2·LCS/(la+lb) of two token sequences, the measure reported for every
/// non-kept passage against its kept one. The LCS is computed in a diagonal band wide
/// enough for the length difference plus a tenth of the length (at most
/// [`MAX_SIM_BAND`]), so it never underestimates a pair that passes the threshold by a
/// wide margin and never costs more than O(n × band).
pub fn similarity(a: &[TokenHash], b: &[TokenHash]) -> f64 {
    similarity_at_least(a, b, 0.0)
}

/// [`similarity`] where the caller only needs to know more when it reaches `min`: the
/// same value when that is at least `min`, and otherwise some value below `min`. A pair
/// that cannot reach it is measured only until that is known.
pub fn similarity_at_least(a: &[TokenHash], b: &[TokenHash], min: f64) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a.len() == b.len() { 1.0 } else { 0.0 };
    }
    if a == b {
        return 1.0;
    }
    let total = a.len() + b.len();
    2.0 * lcs_at_least(a, b, least_lcs(total, min)) as f64 / total as f64
}

/// The LCS [`similarity`] measures, when it is at least `need`; otherwise some count
/// below `need`.
fn lcs_at_least(a: &[TokenHash], b: &[TokenHash], need: usize) -> usize {
    let band = (a.len().abs_diff(b.len()) + 8 + a.len().max(b.len()) / 10).min(MAX_SIM_BAND);
    // Near copies, the common case, differ by a few words: their LCS comes from a diff
    // in time linear in their length. A pair more edits apart than reaching `need`
    // allows is below it.
    let allowed = (a.len() + b.len()).saturating_sub(2 * need);
    let limit = band.min(allowed);
    let quick = limit.min(QUICK_EDITS);
    if let Some(lcs) = diff_lcs(a, b, quick) {
        return lcs;
    }
    if quick == allowed {
        return need.saturating_sub(1);
    }
    // Further apart: before the diff spends more rounds or the band fills, the bound of
    // one pass turns away a pair shifted beyond the band (long pieces of one-line
    // copies).
    let bound = band_matches_bound(a, b, band);
    if bound < need {
        return bound;
    }
    if quick < limit {
        if let Some(lcs) = diff_lcs(a, b, limit) {
            return lcs;
        }
        if limit == allowed {
            return need.saturating_sub(1);
        }
    }
    banded_lcs(a, b, band, need)
}

/// Edits [`lcs_at_least`] allows its first diff, before it bounds the pair.
const QUICK_EDITS: usize = 32;

/// A bound on [`banded_lcs`] in one pass over the words: the words of `a` whose word
/// may be in `b` within `band` places of theirs. A match in the band is such a word, and
/// a path has at most one match a word of `a`. "May be" is a count per slot of a small
/// table of hashes of the window of `b`, so a slot shared by another word only loosens
/// the bound.
///
/// Copies shifted by more than the band, as in long one-line texts cut at different
/// places, share most words but few within the band: this tells them apart at a
/// fraction of the band's cost.
fn band_matches_bound(a: &[TokenHash], b: &[TokenHash], band: usize) -> usize {
    const SLOTS: usize = 1 << 13;
    let slot = |w: TokenHash| (w.wrapping_mul(0x9E37_79B1) >> 19) as usize % SLOTS;
    let mut window = vec![0u16; SLOTS];
    // Word i of `a` (from 0) meets b[i − band ..= i + band].
    let mut end = 0;
    let mut bound = 0;
    for (i, &word) in a.iter().enumerate() {
        let hi = (i + band + 1).min(b.len());
        while end < hi {
            window[slot(b[end])] += 1;
            end += 1;
        }
        if i > band && i - band - 1 < b.len() {
            window[slot(b[i - band - 1])] -= 1;
        }
        bound += usize::from(window[slot(word)] > 0);
    }
    bound
}

/// The least LCS of two sequences of `total` words in all whose similarity 2·LCS/total,
/// computed as [`similarity`] computes it, is at least `min`.
fn least_lcs(total: usize, min: f64) -> usize {
    if total == 0 || min.is_nan() || min <= 0.0 {
        return 0;
    }
    let reaches = |lcs: usize| 2.0 * lcs as f64 / total as f64 >= min;
    let mut lcs = ((min * total as f64 / 2.0).ceil() as usize).min(total);
    while lcs > 0 && reaches(lcs - 1) {
        lcs -= 1;
    }
    while lcs <= total && !reaches(lcs) {
        lcs += 1;
    }
    lcs
}

/// Where `pattern` best fits inside `region`: the sub-range of `region` that aligns with
/// the whole of `pattern` with the fewest word edits (insertions, deletions,
/// substitutions; leading and trailing words of `region` are free), ties broken by more
/// equal words. Returns (start, end, equal words). Cost O(|pattern| × |region|); for
/// pairs beyond [`MAX_FIT_CELLS`] the whole region is taken, and its equal words are
/// what [`similarity_at_least`] counts with `min`: a pair that cannot reach `min` may
/// be given fewer.
pub fn fit(pattern: &[TokenHash], region: &[TokenHash], min: f64) -> (usize, usize, usize) {
    let (m, n) = (pattern.len(), region.len());
    // The common case, an exact copy inside the region, needs no alignment. A window
    // is compared whole only where its first word is the pattern's.
    if let Some((&first, rest)) = pattern.split_first() {
        if m <= n {
            let exact = (0..=n - m).find(|&s| {
                region[s] == first && region.get(s + 1..s + m).is_some_and(|w| w == rest)
            });
            if let Some(s) = exact {
                return (s, s + m, m);
            }
        }
    }
    if m == 0 || n == 0 || m.saturating_mul(n) > MAX_FIT_CELLS {
        let lcs = if m == 0 || n == 0 {
            0
        } else {
            lcs_at_least(pattern, region, least_lcs(m + n, min))
        };
        return (0, n, lcs);
    }
    // A cell is (edits, −matches, start in region), compared lexicographically, packed
    // into one integer so that the comparison is one `min`: edits from bit 42, then
    // `FIELD − matches` from bit 21, then the start. Within MAX_FIT_CELLS, m and n are at
    // most 2^18, so edits (≤ m + n), matches and the start all fit their fields.
    const EDIT: u64 = 1 << 42;
    const MATCH: u64 = 1 << 21;
    const FIELD: u64 = MATCH - 1;
    let mut prev: Vec<u64> = (0..=n as u64).map(|j| (FIELD << 21) | j).collect();
    let mut cur: Vec<u64> = vec![0; n + 1];
    for (i, &word) in pattern.iter().enumerate() {
        // Cell j from the cells above (`prev[j]`), above left (`prev[j - 1]`) and left
        // (`left`, the cell just made), by iterators: no bounds check in the loop.
        let mut left = (i as u64 + 1) * EDIT + (FIELD << 21);
        cur[0] = left;
        let above = prev.iter().zip(&prev[1..]);
        for ((cell, (&diagonal, &up)), &r) in cur[1..].iter_mut().zip(above).zip(region) {
            let diag = if word == r {
                diagonal - MATCH
            } else {
                diagonal + EDIT
            };
            left = diag.min(up + EDIT).min(left + EDIT);
            *cell = left;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    // The best end: fewest edits, then most matches, then the leftmost end.
    let (end, best) = prev
        .iter()
        .enumerate()
        .skip(1)
        .min_by_key(|&(j, &c)| (c >> 21, j))
        .map_or((n, FIELD << 21), |(j, &c)| (j, c));
    let matches = FIELD - ((best >> 21) & FIELD);
    ((best & FIELD) as usize, end, matches as usize)
}

/// Largest |pattern| × |region| that [`fit`] aligns exactly.
pub const MAX_FIT_CELLS: usize = 1 << 18;

/// Widest band of [`similarity`].
pub const MAX_SIM_BAND: usize = 256;

/// The LCS of `a` and `b` if they are at most `max_edits` insertions and deletions
/// apart, else `None`: Myers' greedy O((n + m) · D) diff ("An O(ND) Difference Algorithm
/// and Its Variations", 1986), which follows each diagonal of the edit graph as far as
/// the words are equal.
///
/// Where it answers, it answers what [`banded_lcs`] does with a band of `max_edits`:
/// a path of D ≤ `max_edits` insertions and deletions never strays more than D
/// diagonals from the main one, so the band holds an optimal path, and the banded LCS
/// is the whole LCS. Its cost is D rounds over at most 2D + 1 diagonals, plus the runs
/// of equal words, each diagonal's run only moving forward: never more than the
/// band's cells, and for near copies close to one pass over the words.
fn diff_lcs(a: &[TokenHash], b: &[TokenHash], max_edits: usize) -> Option<usize> {
    let (n, m) = (a.len(), b.len());
    // Diagonal k = x − y (x in a, y in b) is held at index k + offset; x = −1 marks a
    // diagonal no path of this many edits reaches inside the graph.
    let offset = max_edits as isize + 1;
    let mut reach = vec![-1isize; 2 * max_edits + 3];
    let (n_i, m_i) = (n as isize, m as isize);
    for d in 0..=max_edits as isize {
        for k in (-d..=d).step_by(2) {
            let at = (k + offset) as usize;
            // One more deletion (right, from diagonal k − 1) or insertion (down, from
            // k + 1), whichever reaches further and stays in the graph.
            let right = if k > -d && reach[at - 1] >= 0 && reach[at - 1] < n_i {
                reach[at - 1] + 1
            } else {
                -1
            };
            let down = if k < d && reach[at + 1] >= 0 && reach[at + 1] - k <= m_i {
                reach[at + 1]
            } else {
                -1
            };
            let mut x = if d == 0 { 0 } else { right.max(down) };
            if x < 0 {
                reach[at] = -1;
                continue;
            }
            // A move right keeps the row of a point in the graph, a move down adds one:
            // y is never negative.
            let y = x - k;
            debug_assert!(y >= 0);
            let run = a[x as usize..]
                .iter()
                .zip(&b[y as usize..])
                .take_while(|(p, q)| p == q)
                .count();
            x += run as isize;
            reach[at] = x;
            if x == n_i && x - k == m_i {
                return Some((n + m - d as usize) / 2);
            }
        }
    }
    None
}

/// The LCS of `a` and `b` over the paths that stay within `band` diagonals of the main
/// one (cells outside count as unreachable: 0 is a safe lower bound for an LCS). Rows
/// whose best cell, plus one for each row left, is below `need` end the count: that
/// bound is then returned.
fn banded_lcs(a: &[TokenHash], b: &[TokenHash], band: usize, need: usize) -> usize {
    let width = 2 * band + 1;
    // Index d + 1 for offset d = j − i + band, with sentinels at 0 and width + 1.
    let mut prev = vec![0u32; width + 2];
    let mut cur = vec![0u32; width + 2];
    for (i, &word) in (1..=a.len()).zip(a) {
        // Row i covers j = i + d − band in [1, |b|].
        cur.fill(0);
        let lo = (band + 1).saturating_sub(i);
        let hi = (b.len() + band).saturating_sub(i).min(width - 1);
        let mut best = 0;
        if lo <= hi && b.len() + band >= i {
            let cells = hi - lo + 1;
            let from = i + lo - band - 1;
            let columns = b.get(from..from + cells).unwrap_or(&[]);
            let diagonal = &prev[lo + 1..lo + 1 + cells];
            let above = &prev[lo + 2..lo + 2 + cells];
            let mut left = 0u32;
            for (((cell, &other), &diag), &up) in cur[lo + 1..lo + 1 + cells]
                .iter_mut()
                .zip(columns)
                .zip(diagonal)
                .zip(above)
            {
                left = (diag + u32::from(word == other)).max(up).max(left);
                *cell = left;
            }
            // A row never decreases to the right: its last cell is its best.
            best = left as usize;
        }
        std::mem::swap(&mut prev, &mut cur);
        let bound = best + (a.len() - i);
        if bound < need {
            return bound;
        }
    }
    let last = a.len();
    let d = b.len() as isize - last as isize + band as isize;
    if d < 0 || d as usize >= width {
        // b's end is outside the band of a's end: fall back to the best cell of the row.
        return prev.iter().copied().max().unwrap_or(0) as usize;
    }
    prev[d as usize + 1] as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<TokenHash> {
        s.split_whitespace()
            .map(|w| crate::normalize::token_hash(w.as_bytes()))
            .collect()
    }

    fn params() -> PassageParams {
        PassageParams {
            k: 4,
            window: 3,
            min_words: 8,
            min_similarity: 0.8,
        }
    }

    fn table(paras: &[&str]) -> TokenTable {
        let mut t = TokenTable::new();
        for p in paras {
            t.push(words(p));
        }
        t
    }

    fn find(paras: &[&str]) -> Vec<Alignment> {
        let t = table(paras);
        let ids: Vec<u32> = (0..paras.len() as u32).collect();
        let postings = seed_postings(&t, &ids, &params());
        let matches = seed_matches(vec![postings], params().min_words);
        align_all(&t, &matches, &params())
    }

    #[test]
    fn winnowing_guarantees_a_seed_in_every_window() {
        let toks = words("a b c d e f g h i j k l m n o p q r s t");
        let mut seeds = Vec::new();
        winnow(&toks, 4, 3, &mut seeds);
        let positions: Vec<u32> = seeds.iter().map(|s| s.1).collect();
        // 17 k-grams; every window of 3 consecutive k-grams holds a selected one.
        for start in 0..=14u32 {
            assert!(
                positions.iter().any(|&p| p >= start && p < start + 3),
                "{start}"
            );
        }
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
    }

    /// Winnowing by scanning every window whole, for the incremental one to agree with.
    fn winnow_reference(tokens: &[TokenHash], k: usize, window: usize) -> Vec<(u64, u32)> {
        let mut grams = Vec::new();
        crate::shingle::kgrams(tokens, k, &mut grams);
        let mut out: Vec<(u64, u32)> = Vec::new();
        if grams.is_empty() {
            return out;
        }
        let w = window.max(1).min(grams.len());
        for start in 0..=grams.len() - w {
            let mut best = start;
            for i in start..start + w {
                if grams[i] <= grams[best] {
                    best = i;
                }
            }
            if out.last().map(|s| s.1) != Some(best as u32) {
                out.push((grams[best], best as u32));
            }
        }
        out
    }

    #[test]
    fn incremental_winnowing_agrees_with_scanning_each_window() {
        // Few distinct tokens make runs of equal k-gram hashes and ties in windows.
        let mut next = crate::test_rng(0x2545_F491_4F6C_DD1D);
        for case in 0..2_000usize {
            let len = case % 60;
            let distinct = 1 + (case % 5) as u64 * (case % 7) as u64;
            let tokens: Vec<TokenHash> = (0..len).map(|_| next(distinct) as TokenHash).collect();
            for (k, window) in [(1, 1), (2, 3), (4, 3), (4, 8), (2, 9), (3, 1), (5, 100)] {
                let mut got = Vec::new();
                winnow(&tokens, k, window, &mut got);
                assert_eq!(
                    got,
                    winnow_reference(&tokens, k, window),
                    "{tokens:?} k={k} w={window}"
                );
            }
        }
    }

    #[test]
    fn passage_at_the_tail_of_a_run_on_sentence() {
        let shared = "he added that the conference which washington and moscow seek to hold is a step toward this political solution";
        let a = format!(
            "lavrov said after meeting kerry that experts would meet to prepare for it {shared}"
        );
        let b = format!("kerry stressed that differences must not hinder cooperation between the two countries {shared}");
        let found = find(&[&a, &b]);
        assert_eq!(found.len(), 1, "{found:?}");
        let al = found[0];
        let n = shared.split_whitespace().count() as u32;
        assert_eq!(al.a_end - al.a_start, n);
        assert_eq!(al.b_end - al.b_start, n);
        assert_eq!(al.similarity(), 1.0);
    }

    #[test]
    fn one_substituted_word_is_crossed() {
        let a = "x1 x2 x3 the final answer is the negotiated political solution and the geneva conference is a step toward that solution y1 y2";
        let b = "z1 z2 the final answer is the negotiated political solution but the geneva conference is a step toward that solution z3";
        let found = find(&[a, b]);
        assert_eq!(found.len(), 1, "{found:?}");
        let al = found[0];
        assert_eq!(al.a_end - al.a_start, 18);
        assert_eq!(al.matches, 17);
    }

    #[test]
    fn one_shared_phrase_is_not_a_passage() {
        let a = "one two three four five six seven eight nine ten eleven";
        let b = "alpha beta three four five six gamma delta epsilon zeta eta";
        assert!(find(&[a, b]).is_empty());
    }

    #[test]
    fn repeat_inside_one_paragraph() {
        let rep = "the minister said the talks would resume next week in vienna";
        let p = format!("{rep} and then some other words follow here {rep}");
        let found = find(&[&p]);
        assert_eq!(found.len(), 1, "{found:?}");
        let al = found[0];
        assert_eq!((al.a, al.b), (0, 0));
        assert!(al.a_end <= al.b_start);
        assert_eq!(al.a_end - al.a_start, 11);
    }

    #[derive(Clone, Copy)]
    struct Cell {
        score: i32,
        matches: u32,
    }

    const DEAD: Cell = Cell {
        score: i32::MIN / 2,
        matches: 0,
    };

    fn better(x: Cell, y: Cell) -> Cell {
        if y.score > x.score || (y.score == x.score && y.matches > x.matches) {
            y
        } else {
            x
        }
    }

    /// [`xdrop`] of two whole sequences, their leading run walked as [`extend`] walks it.
    fn xdrop_walked(a: &[TokenHash], b: &[TokenHash]) -> Extension {
        xdrop(
            equal_run(a.iter(), b.iter()),
            a.len(),
            b.len(),
            |i| a[i],
            |j| b[j],
        )
    }

    // The plain banded X-drop (every cell of the band, no exact-run walk, cells as
    // structs): the oracle for the live-range version.
    fn xdrop_reference(len_a: usize, len_b: usize, eq: impl Fn(usize, usize) -> bool) -> Extension {
        let width = 2 * BAND + 1;
        // Row i holds cells j = i + d − BAND for d in 0..width.
        let mut prev = vec![DEAD; width];
        let mut cur = vec![DEAD; width];
        prev[BAND] = Cell {
            score: 0,
            matches: 0,
        };
        // Row 0: gaps in a.
        for d in BAND + 1..width {
            let j = d - BAND;
            if j > len_b {
                break;
            }
            let score = prev[d - 1].score + GAP;
            if score >= -X_DROP {
                prev[d] = Cell { score, matches: 0 };
            }
        }
        let mut best = Extension::default();
        let mut best_score = 0;
        for i in 1..=len_a {
            let mut alive = false;
            for d in 0..width {
                cur[d] = DEAD;
                let Some(j) = (i + d).checked_sub(BAND) else {
                    continue;
                };
                if j > len_b {
                    continue;
                }
                let mut cell = DEAD;
                if j >= 1 {
                    // Diagonal: same d in the previous row.
                    let p = prev[d];
                    if p.score > DEAD.score {
                        let hit = eq(i - 1, j - 1);
                        let c = Cell {
                            score: p.score + if hit { MATCH } else { MISMATCH },
                            matches: p.matches + u32::from(hit),
                        };
                        cell = better(cell, c);
                    }
                    // Left: same row, d − 1.
                    if d >= 1 && cur[d - 1].score > DEAD.score {
                        let p = cur[d - 1];
                        cell = better(
                            cell,
                            Cell {
                                score: p.score + GAP,
                                matches: p.matches,
                            },
                        );
                    }
                }
                // Up: previous row, d + 1.
                if d + 1 < width && prev[d + 1].score > DEAD.score {
                    let p = prev[d + 1];
                    cell = better(
                        cell,
                        Cell {
                            score: p.score + GAP,
                            matches: p.matches,
                        },
                    );
                }
                if cell.score < best_score - X_DROP {
                    continue;
                }
                cur[d] = cell;
                alive = true;
                if cell.score > best_score
                    || (cell.score == best_score && cell.matches as usize > best.matches)
                {
                    best_score = cell.score;
                    best = Extension {
                        la: i,
                        lb: j,
                        matches: cell.matches as usize,
                    };
                }
            }
            if !alive {
                break;
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        best
    }

    #[test]
    fn xdrop_matches_the_full_band_reference() {
        let mut rnd = crate::test_rng(11u64);
        for _ in 0..3000 {
            let n = 1 + rnd(50) as usize;
            let a: Vec<TokenHash> = (0..n).map(|_| rnd(4) as TokenHash).collect();
            let edits = rnd(6);
            let b = edited(&mut rnd, &a, edits, 9, 8);
            let eq = |i: usize, j: usize| a[i] == b[j];
            let got = xdrop_walked(&a, &b);
            let want = xdrop_reference(a.len(), b.len(), eq);
            assert_eq!(got, want, "{a:?} {b:?}");
        }
    }

    /// Copies that differ after a common start, over alphabets from 2 to 64 words: with
    /// the larger ones most extensions meet no equal pair early, and end in
    /// [`can_extend`] without the dynamic programming; the result must not change.
    #[test]
    fn xdrop_without_a_near_hit_matches_the_reference() {
        let mut rnd = crate::test_rng(12u64);
        let mut skipped = 0;
        for round in 0..6000 {
            let alphabet = [2, 5, 16, 64][round % 4];
            let shared = rnd(6) as usize;
            let word = |rnd: &mut dyn FnMut(u64) -> u64| rnd(alphabet) as TokenHash;
            let start: Vec<TokenHash> = (0..shared).map(|_| word(&mut rnd)).collect();
            let mut a = start.clone();
            let mut b = start;
            a.extend((0..rnd(12)).map(|_| word(&mut rnd)));
            b.extend((0..rnd(12)).map(|_| word(&mut rnd)));
            let eq = |i: usize, j: usize| a[i] == b[j];
            let got = xdrop_walked(&a, &b);
            assert_eq!(got, xdrop_reference(a.len(), b.len(), eq), "{a:?} {b:?}");
            let run = (0..a.len().min(b.len()))
                .take_while(|&i| a[i] == b[i])
                .count();
            let (rest_a, rest_b) = (a.len() - run, b.len() - run);
            if !can_extend(rest_a, rest_b, |i| a[run + i], |j| b[run + j]) {
                skipped += 1;
            }
        }
        // The shortcut is taken often enough for the comparison to test it.
        assert!(skipped > 1000, "{skipped}");
    }

    /// [`fit`]'s alignment with unpacked cells.
    fn fit_reference(pattern: &[TokenHash], region: &[TokenHash]) -> (usize, usize, usize) {
        let (m, n) = (pattern.len(), region.len());
        type Cell = (u32, i32, u32);
        let mut prev: Vec<Cell> = (0..=n as u32).map(|j| (0, 0, j)).collect();
        let mut cur: Vec<Cell> = vec![(0, 0, 0); n + 1];
        for i in 1..=m {
            cur[0] = (i as u32, 0, 0);
            for j in 1..=n {
                let d = prev[j - 1];
                let diag = if pattern[i - 1] == region[j - 1] {
                    (d.0, d.1 - 1, d.2)
                } else {
                    (d.0 + 1, d.1, d.2)
                };
                let up = (prev[j].0 + 1, prev[j].1, prev[j].2);
                let left = (cur[j - 1].0 + 1, cur[j - 1].1, cur[j - 1].2);
                cur[j] = diag.min(up).min(left);
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        let (end, best) = prev
            .iter()
            .enumerate()
            .skip(1)
            .min_by_key(|&(j, c)| (c.0, c.1, j))
            .map_or((n, (0, 0, 0)), |(j, &c)| (j, c));
        (best.2 as usize, end, (-best.1) as usize)
    }

    /// An exact copy of the pattern in the region is its fit: the first one.
    #[test]
    fn an_exact_copy_fits_where_it_first_occurs() {
        let mut next = crate::test_rng(0x51ed_270b_2735_82a1u64);
        let mut exact = 0;
        for _ in 0..4000 {
            let alphabet = 2 + next(3);
            let pattern: Vec<TokenHash> = (0..1 + next(4))
                .map(|_| next(alphabet) as TokenHash)
                .collect();
            let region: Vec<TokenHash> =
                (0..next(30)).map(|_| next(alphabet) as TokenHash).collect();
            let first = region.windows(pattern.len()).position(|w| w == pattern);
            if let Some(s) = first {
                exact += 1;
                let m = pattern.len();
                assert_eq!(
                    fit(&pattern, &region, 0.0),
                    (s, s + m, m),
                    "{pattern:?} {region:?}"
                );
            }
        }
        assert!(exact > 1000, "{exact}");
    }

    #[test]
    fn packed_fit_agrees_with_unpacked_cells() {
        let mut next = crate::test_rng(0x9e37_79b9_7f4a_7c15u64);
        for _ in 0..2000 {
            let alphabet = 2 + next(6);
            let pattern: Vec<TokenHash> = (0..1 + next(20))
                .map(|_| next(alphabet) as TokenHash)
                .collect();
            let region: Vec<TokenHash> = (0..1 + next(40))
                .map(|_| next(alphabet) as TokenHash)
                .collect();
            if region.windows(pattern.len()).any(|w| w == pattern) {
                continue;
            }
            let want = fit_reference(&pattern, &region);
            assert_eq!(fit(&pattern, &region, 0.0), want, "{pattern:?} {region:?}");
        }
        // The largest sizes allowed, where the fields are widest.
        let pattern: Vec<TokenHash> = (0..512).map(|i| i % 7).collect();
        let region: Vec<TokenHash> = (0..512).map(|i| i % 5).collect();
        assert_eq!(
            fit(&pattern, &region, 0.0),
            fit_reference(&pattern, &region)
        );
        let region: Vec<TokenHash> = (0..MAX_FIT_CELLS as TokenHash).map(|i| i % 3).collect();
        assert_eq!(fit(&[9], &region, 0.0), fit_reference(&[9], &region));
    }

    #[test]
    fn fit_finds_the_passage_inside_a_longer_region() {
        let p = words("the final answer is the political solution");
        let r = words("x y the final answer is the political solution z w");
        assert_eq!(fit(&p, &r, 0.0), (2, 9, 7));
        // One word changed inside: still placed, one fewer equal word.
        let r = words("a the final answer was the political solution b");
        assert_eq!(fit(&p, &r, 0.0), (1, 8, 6));
        // A region shorter than the pattern is used whole.
        let r = words("final answer is");
        assert_eq!(fit(&p, &r, 0.0), (0, 3, 3));
    }

    #[test]
    fn similarity_is_two_lcs_over_lengths() {
        let a = words("a b c d e f g h i j");
        let b = words("a b c x e f g h i j");
        assert!((similarity(&a, &b) - 0.9).abs() < 1e-9);
        let c = words("a b c d e f g h i j k l");
        assert!((similarity(&a, &c) - 20.0 / 22.0).abs() < 1e-9);
        assert_eq!(similarity(&a, &a), 1.0);
        assert_eq!(similarity(&a, &[]), 0.0);
    }

    use crate::lcs_by_table as full_lcs;

    /// `words` with up to `edits` random edits: a word changed to `changed`, a word
    /// dropped, or `inserted` put in.
    fn edited(
        rnd: &mut impl FnMut(u64) -> u64,
        words: &[TokenHash],
        edits: u64,
        changed: TokenHash,
        inserted: TokenHash,
    ) -> Vec<TokenHash> {
        let mut out = words.to_vec();
        for _ in 0..edits {
            let at = rnd(out.len() as u64 + 1) as usize;
            match rnd(3) {
                0 if at < out.len() => out[at] = changed,
                1 if at < out.len() => {
                    out.remove(at);
                }
                _ => out.insert(at, inserted),
            }
        }
        out
    }

    #[test]
    fn diff_lcs_answers_within_its_edits_and_agrees_with_the_band() {
        let mut rnd = crate::test_rng(11u64);
        let (mut answered, mut declined) = (0, 0);
        for case in 0..3000 {
            // Small alphabets make long runs of equal words and many equal LCSs; edits
            // from none to many make pairs on both sides of the limit.
            let alphabet = 2 + rnd(6);
            let n = rnd(40) as usize;
            let a: Vec<TokenHash> = (0..n).map(|_| rnd(alphabet) as TokenHash).collect();
            let start: Vec<TokenHash> = if case % 5 == 0 {
                (0..rnd(40)).map(|_| rnd(alphabet) as TokenHash).collect()
            } else {
                a.clone()
            };
            let edits = rnd(8);
            let b = edited(&mut rnd, &start, edits, 99, 98);
            let lcs = full_lcs(&a, &b);
            let edits = a.len() + b.len() - 2 * lcs;
            let max_edits = rnd(12) as usize;
            let got = diff_lcs(&a, &b, max_edits);
            if edits <= max_edits {
                assert_eq!(got, Some(lcs), "{a:?} {b:?} {max_edits}");
                assert_eq!(banded_lcs(&a, &b, max_edits, 0), lcs, "{a:?} {b:?}");
                answered += 1;
            } else {
                assert_eq!(got, None, "{a:?} {b:?} {max_edits}");
                declined += 1;
            }
        }
        assert!(answered > 500 && declined > 500, "{answered} {declined}");
    }

    #[test]
    fn similarity_of_long_near_copies_is_their_lcs() {
        // Beyond the band's cap, and with edits both within and beyond it.
        let mut rnd = crate::test_rng(5u64);
        let a: Vec<TokenHash> = (0..3000).map(|_| rnd(50) as TokenHash).collect();
        for edits in [0, 3, 40, 200, 400] {
            let mut b = a.clone();
            for _ in 0..edits {
                let at = rnd(b.len() as u64) as usize;
                if rnd(2) == 0 {
                    b.remove(at);
                } else {
                    b.insert(at, 1000);
                }
            }
            let band =
                (a.len().abs_diff(b.len()) + 8 + a.len().max(b.len()) / 10).min(MAX_SIM_BAND);
            let want = 2.0 * banded_lcs(&a, &b, band, 0) as f64 / (a.len() + b.len()) as f64;
            assert_eq!(similarity(&a, &b), want, "{edits} edits");
            if edits <= 100 {
                let exact = 2.0 * full_lcs(&a, &b) as f64 / (a.len() + b.len()) as f64;
                assert_eq!(similarity(&a, &b), exact, "{edits} edits");
            }
        }
    }

    #[test]
    fn least_lcs_is_the_least_count_reaching_the_similarity() {
        for (total, min, want) in [
            (10, 0.0, 0),
            (10, 0.8, 4),
            (10, 0.81, 5),
            (11, 0.8, 5),
            (7, 1.0, 4),
            (7, 1.5, 6),
            (0, 0.8, 0),
        ] {
            assert_eq!(least_lcs(total, min), want, "{total} {min}");
        }
        for total in 1..200usize {
            for min in [0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0] {
                let need = least_lcs(total, min);
                let sim = |l: usize| 2.0 * l as f64 / total as f64;
                assert!(need > total || sim(need) >= min, "{total} {min}");
                assert!(need == 0 || sim(need - 1) < min, "{total} {min}");
            }
        }
    }

    #[test]
    fn a_similarity_below_its_minimum_is_only_known_to_be_below() {
        // Long pairs (beyond the band's cap and the fit's exact table): near copies,
        // shifted copies and unrelated text, each measured with and without a minimum.
        let mut rnd = crate::test_rng(23u64);
        let text: Vec<TokenHash> = (0..4000).map(|_| rnd(300) as TokenHash).collect();
        let mut pairs = Vec::new();
        for edits in [0, 5, 60, 300, 900] {
            let b = edited(&mut rnd, &text[..2000], edits, 1000, 1001);
            pairs.push((text[..2000].to_vec(), b));
        }
        for shift in [100, 240, 300, 1000] {
            pairs.push((text[..2000].to_vec(), text[shift..shift + 2000].to_vec()));
        }
        pairs.push((text[..2000].to_vec(), text[2000..].to_vec()));
        pairs.push((text[..700].to_vec(), text[..2000].to_vec()));
        for (a, b) in &pairs {
            let exact = similarity(a, b);
            let (start, end, equal) = fit(a, b, 0.0);
            for min in [0.0, 0.5, 0.8, 0.9, 1.0] {
                let got = similarity_at_least(a, b, min);
                if exact >= min {
                    assert_eq!(got, exact, "{min}");
                } else {
                    assert!(got < min, "{got} {exact} {min}");
                }
                let (s, e, eq) = fit(a, b, min);
                let total = (a.len() + e - s) as f64;
                if 2.0 * equal as f64 / (a.len() + end - start) as f64 >= min {
                    assert_eq!((s, e, eq), (start, end, equal), "{min}");
                } else {
                    assert!(2.0 * eq as f64 / total < min, "{min}");
                }
            }
        }
    }

    #[test]
    fn band_matches_bound_banded_lcs() {
        let mut rnd = crate::test_rng(31u64);
        let mut tight = 0;
        for case in 0..400 {
            let alphabet = 2 + rnd(if case % 2 == 0 { 8 } else { 5000 });
            let text: Vec<TokenHash> = (0..600).map(|_| rnd(alphabet) as TokenHash).collect();
            let (n, m) = (rnd(300) as usize, rnd(300) as usize);
            let shift = rnd(300) as usize;
            let a = &text[..n];
            let b = &text[shift..shift + m];
            let band = rnd(40) as usize;
            let bound = band_matches_bound(a, b, band);
            let lcs = banded_lcs(a, b, band, 0);
            assert!(lcs <= bound, "{lcs} {bound} {band} {shift}");
            if 2 * bound < a.len() && n > 100 {
                tight += 1;
            }
        }
        // Shifted copies of text of many words are told apart.
        assert!(tight > 50, "{tight}");
    }

    #[test]
    fn banded_lcs_agrees_with_full_lcs_on_near_copies() {
        let full = full_lcs;
        let mut rnd = crate::test_rng(7u64);
        for _ in 0..200 {
            let n = 5 + rnd(60) as usize;
            let a: Vec<TokenHash> = (0..n).map(|_| rnd(6) as TokenHash).collect();
            let mut b = a.clone();
            for _ in 0..rnd(4) {
                let at = rnd(b.len() as u64) as usize;
                match rnd(3) {
                    0 => b[at] = 99,
                    1 => {
                        b.remove(at);
                    }
                    _ => b.insert(at, 98),
                }
            }
            let band = a.len().abs_diff(b.len()) + 8 + a.len().max(b.len()) / 10;
            assert_eq!(banded_lcs(&a, &b, band, 0), full(&a, &b), "{a:?} {b:?}");
        }
    }
}
