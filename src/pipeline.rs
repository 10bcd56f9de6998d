//! The detection pipeline, from read documents to clusters.
//!
//! ```text
//! documents ──analyze (per file, parallel)──> paragraphs, tokens
//!   ├─ paragraph stage: shingles → MinHash → exact groups + LSH bands → verified pairs
//!   │                   → union-find → star re-verification → paragraph clusters
//!   └─ passage stage (paragraphs not already reported as duplicates):
//!                       winnowed seeds → seed matches → X-drop alignment
//!                       → interval union-find → star re-verification → passage clusters
//! ```
//!
//! Each stage is a function of plain data (token tables, records), parallel inside with
//! rayon, and every parallel result is collected in a fixed order, so the output does
//! not depend on the number of threads.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::cluster::{
    drop_overlapping, passage_groups, split_by_kept, split_fitted, Interval, Projections, UnionFind,
};
use crate::config::Config;
use crate::corpus::{Batching, Document, InputFile, InputRead, Warning};
use crate::error::Result;
use crate::filter::reduce_repeated;
use crate::jsonl;
use crate::lsh::{
    band_keys, choose_bands, concat_freeing, distinct_pairs, partition_pairs, weighted_runs,
};
use crate::normalize::{token_hashes, tokenize, Token, TokenHash};
use crate::passage::{
    align_match_parts, fit, repeated_seed_match_parts, similarity_at_least, Alignment,
    PassageParams, TokenSource, TokenTable,
};
use crate::records::BandRecord;
use crate::report::DocSource;
use crate::segment::{self, Paragraph};
use crate::shingle::{jaccard, shingle_set};
use crate::sketch::MinHasher;
use crate::spill::ReadFn;
use crate::texts::{FileStamp, FileTexts, Held, Record, SpanTexts, TextStore};

/// One file after segmentation and tokenization.
///
/// Only token hashes are kept, not their spans (a span costs twice a hash): the spans
/// of the few paragraphs that are reported are recomputed by [`Self::paragraph_tokens`],
/// which runs the same deterministic tokenizer again.
#[derive(Clone, Debug, Default)]
pub struct DocAnalysis {
    /// Paragraphs in file order.
    pub paragraphs: Vec<Paragraph>,
    /// Token hashes of all paragraphs, in order. Emptied by [`take_token_table`].
    pub hashes: Vec<TokenHash>,
    /// Number of tokens of each paragraph.
    pub token_counts: Vec<u32>,
}

impl DocAnalysis {
    /// The tokens (hash and original byte span) of paragraph `ordinal` of `text`, the
    /// text this analysis was made from.
    pub fn paragraph_tokens(&self, text: &str, ordinal: usize) -> Vec<Token> {
        let mut tokens = Vec::new();
        if let Some(p) = self.paragraphs.get(ordinal) {
            let slice = text.get(p.start as usize..p.end as usize).unwrap_or("");
            tokenize(slice, p.start, &mut tokens);
        }
        tokens
    }
}

/// Splits one document into paragraphs and tokenizes each.
///
/// A part of a text file ([`Document::part`]) is split in the mode resolved for its
/// whole file; its paragraphs' offsets and lines are the part's own.
pub fn analyze(doc: &Document, config: &Config) -> DocAnalysis {
    let mode = doc.part.map_or(config.paragraph_mode, |p| p.mode);
    let paragraphs = segment::paragraphs(&doc.text, mode);
    let (hashes, token_counts) = if doc.text.len() > PARALLEL_DOC_BYTES {
        // One large document (a corpus in one text file) is tokenized by runs of
        // paragraphs in parallel, joined in order: the same hashes and counts.
        let parts: Vec<(Vec<TokenHash>, Vec<u32>)> = parallel_runs(&paragraphs)
            .into_par_iter()
            .map(|ps| paragraph_hashes(&doc.text, ps))
            .collect();
        let mut hashes = Vec::with_capacity(parts.iter().map(|(h, _)| h.len()).sum());
        let mut counts = Vec::with_capacity(paragraphs.len());
        for (h, c) in parts {
            hashes.extend(h);
            counts.extend(c);
        }
        (hashes, counts)
    } else {
        paragraph_hashes(&doc.text, &paragraphs)
    };
    DocAnalysis {
        paragraphs,
        hashes,
        token_counts,
    }
}

/// `paragraphs` cut into runs for one task each of [`analyze`]: at most
/// [`PARALLEL_PARAGRAPHS`] paragraphs and about [`PARALLEL_RUN_BYTES`] of text (a
/// line of many megabytes is cut into paragraphs of up to 64 KiB).
fn parallel_runs(paragraphs: &[Paragraph]) -> Vec<&[Paragraph]> {
    let bytes = paragraphs
        .iter()
        .map(|p| p.end.saturating_sub(p.start) as usize);
    weighted_runs(bytes, PARALLEL_PARAGRAPHS, PARALLEL_RUN_BYTES)
        .into_iter()
        .map(|r| &paragraphs[r])
        .collect()
}

/// The token hashes of `paragraphs` of `text`, and the number of each one's tokens.
/// The hashes are kept for the whole run: they are made in a buffer each thread reuses,
/// then copied once into a vector of their exact size.
fn paragraph_hashes(text: &str, paragraphs: &[Paragraph]) -> (Vec<TokenHash>, Vec<u32>) {
    thread_local! {
        static SCRATCH: RefCell<Vec<TokenHash>> = const { RefCell::new(Vec::new()) };
    }
    let mut counts = Vec::with_capacity(paragraphs.len());
    let hashes = SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        for p in paragraphs {
            let before = scratch.len();
            let slice = text.get(p.start as usize..p.end as usize).unwrap_or("");
            token_hashes(slice, scratch);
            counts.push((scratch.len() - before) as u32);
        }
        let hashes = scratch.to_vec();
        if scratch.capacity() > SCRATCH_KEPT {
            *scratch = Vec::new();
        }
        hashes
    });
    (hashes, counts)
}

/// Most files one parallel task of the read stage reads in turn.
const FILES_PER_TASK: usize = 8;

/// Most linked sets one parallel task splits in turn: their sizes vary by thousands.
const SETS_PER_TASK: usize = 16;

/// Documents larger than this are tokenized in parallel (see [`analyze`]).
const PARALLEL_DOC_BYTES: usize = 1 << 20;

/// Paragraphs per parallel task in one large document.
const PARALLEL_PARAGRAPHS: usize = 1024;

/// Bytes of text per parallel task in one large document.
const PARALLEL_RUN_BYTES: usize = 256 << 10;

/// Token hashes [`analyze`]'s buffer keeps room for between documents (2 MiB).
const SCRATCH_KEPT: usize = 1 << 18;

/// Text bytes of records an in-memory run reads before it analyzes them (and drops
/// those it can read again).
const ANALYZE_BATCH_BYTES: u64 = 16 << 20;

/// Hands the memory freed by a stage back to the system. glibc keeps freed blocks in
/// its arenas (one per worker thread), so without this the peak of the map would stay
/// resident through the reduces.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory at the top of the heaps and the
    // free pages inside them; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Peak resident memory of this process so far, in bytes (`VmHWM`; Linux only).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Whether a cluster is of whole paragraphs or of passages inside paragraphs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Whole paragraphs that are near-duplicates of the kept one.
    Paragraph,
    /// A span repeated inside paragraphs.
    Passage,
}

impl Kind {
    /// The name used in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Paragraph => "paragraph",
            Kind::Passage => "passage",
        }
    }
}

/// One occurrence of a duplicated unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Occurrence {
    /// Position of the document in the slice given to [`find_duplicates`].
    pub doc: u32,
    /// 0-based paragraph position in the file.
    pub paragraph: u32,
    /// Byte span in the file, end exclusive.
    pub start: u32,
    /// End of the byte span.
    pub end: u32,
    /// 1-based line on which the span starts.
    pub line: u32,
    /// Number of tokens (normalized words) in the span.
    pub words: u32,
    /// Similarity to the cluster's kept occurrence: word 5-gram Jaccard for paragraphs,
    /// 2·LCS/(la+lb) over words for passages; 1 for the kept occurrence itself.
    pub similarity: f64,
}

/// A set of occurrences of the same text. The first occurrence is the kept one.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    /// Paragraph or passage.
    pub kind: Kind,
    /// Occurrences in input order; the first is kept.
    pub occurrences: Vec<Occurrence>,
}

/// Counts and stage timings of one run, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Each stage in order: its name, wall time, and the process's peak resident
    /// memory when it ended (where the system says: Linux).
    pub timings: Vec<(&'static str, std::time::Duration, Option<u64>)>,
    /// Paragraphs in all documents.
    pub paragraphs: usize,
    /// Tokens in all paragraphs.
    pub tokens: usize,
    /// Paragraph pairs proposed by LSH and verified.
    pub candidates_verified: usize,
    /// Paragraph pairs that passed verification.
    pub pairs_accepted: usize,
    /// Passage seed postings.
    pub seed_postings: usize,
    /// Passage seed matches between paragraphs.
    pub seed_matches: usize,
    /// Aligned passage pairs accepted.
    pub alignments: usize,
}

/// Everything a run found.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    /// Clusters ordered by their kept occurrence (file, then offset).
    pub clusters: Vec<Cluster>,
    /// Per document, its paragraphs and tokens (used by the report and the cleaner).
    pub analyses: Vec<DocAnalysis>,
    /// Counts.
    pub stats: Stats,
    /// Bytes of passages the assemble stage kept for the report to quote
    /// ([`crate::texts::WithSpanTexts`]).
    pub span_texts: SpanTexts,
}

impl Findings {
    /// Bytes covered by non-kept occurrences (overlaps counted once).
    pub fn duplicate_bytes(&self) -> u64 {
        crate::results::Clusters::duplicate_bytes(self.clusters.as_slice())
    }
}

/// Where each dense paragraph index comes from.
#[derive(Clone, Copy, Debug)]
struct ParaRef {
    doc: u32,
    ordinal: u32,
}

/// The token-hash sequences of every paragraph of `analyses`, in document then paragraph
/// order: the dense paragraph index used by the stages.
pub fn token_table(analyses: &[DocAnalysis]) -> TokenTable {
    let mut table = TokenTable::new();
    for an in analyses {
        table.push_chunk(an.hashes.clone(), &an.token_counts);
    }
    table
}

/// [`token_table`], moving the hashes out of `analyses`, so they are never held twice.
pub fn take_token_table(analyses: &mut [DocAnalysis]) -> TokenTable {
    let mut table = TokenTable::new();
    let paragraphs = analyses.iter().map(|an| an.token_counts.len()).sum();
    table.reserve(analyses.len(), paragraphs);
    for an in analyses.iter_mut() {
        table.push_chunk(std::mem::take(&mut an.hashes), &an.token_counts);
    }
    table
}

/// Runs the whole pipeline over `docs`, given in input order. In the findings, a
/// document is named by its position in `docs`.
pub fn find_duplicates(docs: &[Document], config: &Config) -> Findings {
    find_duplicates_observed(docs, config, &|_| {})
}

/// [`find_duplicates`], calling `on_stage` with the name of each stage as it starts
/// (for a progress display).
pub fn find_duplicates_observed(
    docs: &[Document],
    config: &Config,
    on_stage: &(dyn Fn(&'static str) + Sync),
) -> Findings {
    let mut clock = StageClock::start("segment+normalize", config, on_stage);
    let analyses: Vec<DocAnalysis> = docs.par_iter().map(|d| analyze(d, config)).collect();
    // Documents in memory are never missing, so quoting them cannot fail.
    run_stages(analyses, docs, config, &mut clock).unwrap_or_default()
}

/// Runs the whole pipeline over the listed `files`, read one at a time by `read`, as
/// [`find_duplicates_observed`] does over their documents. Each file is analyzed as
/// soon as it is read, and a text file's bytes are then dropped: the returned texts read
/// them again for the spans they quote ([`crate::texts`]). The texts of compressed JSON
/// Lines records go to a [`TextStore`] in `store_dir` (held in memory if `None`, or if
/// no store can be made there). Fails only when a file the stages must quote changed or
/// vanished during the run.
pub fn find_duplicates_read<'f>(
    files: &'f [InputFile],
    read: &ReadFn<'_>,
    config: &Config,
    store_dir: Option<&Path>,
    on_stage: &(dyn Fn(&'static str) + Sync),
) -> Result<(Findings, FileTexts<'f>, Vec<Warning>)> {
    let mut clock = StageClock::start("read+segment+normalize", config, on_stage);
    let compressed = |format: Option<jsonl::Compression>| {
        matches!(
            format,
            Some(jsonl::Compression::Gzip | jsonl::Compression::Zstd)
        )
    };
    let any_compressed = files.iter().any(|f| compressed(jsonl::format_of(f.path())));
    let (store, store_warning) = match store_dir.filter(|_| any_compressed) {
        None => (None, None),
        Some(dir) => match TextStore::new(dir) {
            Ok(store) => (Some(store), None),
            Err(e) => {
                let warning = Warning {
                    path: dir.to_path_buf(),
                    message: format!(
                        "cannot make a temporary file here ({e}); the texts of compressed \
                         JSON Lines records are held in memory"
                    ),
                    skipped: false,
                };
                (None, Some(warning))
            }
        },
    };
    let per_file: Vec<(Vec<DocAnalysis>, Held, u64, Vec<Warning>)> = files
        .par_iter()
        // Tasks of a few files: rayon otherwise splits the list into a few long runs, and
        // the stage ended with one thread reading the rest of its run while the other
        // had nothing to steal (ant: 20 ms of 60).
        .with_max_len(FILES_PER_TASK)
        .map(|file| {
            // The records of an uncompressed JSON Lines file are analyzed a batch at a
            // time as they are read, and those that can be decoded again from the file
            // are then dropped, so that one large file is never held whole. They are
            // checked against a stamp taken before the read: a change made after it
            // is seen when they are read again.
            let format = jsonl::format_of(file.path());
            let records_stamp = (format == Some(jsonl::Compression::None))
                .then(|| FileStamp::read(file.path()).ok())
                .flatten();
            let mut analyses = Vec::new();
            let mut bytes = 0u64;
            let mut kept = Vec::new();
            let mut records = Vec::new();
            let mut stored = Vec::new();
            let store = store.as_ref().filter(|_| compressed(format));
            let InputRead {
                warnings, stamp, ..
            } = read(file, Batching::records(ANALYZE_BATCH_BYTES), &mut |docs| {
                bytes += docs.iter().map(|d| d.bytes().len() as u64).sum::<u64>();
                // Records in parallel too: one large file would otherwise keep a single
                // thread busy. (A nested parallel map for each one-document file
                // raises the peak memory, and gains nothing.)
                let batch: Vec<DocAnalysis> = if docs.len() > 1 {
                    docs.par_iter()
                        .with_min_len(64)
                        .map(|d| analyze(d, config))
                        .collect()
                } else {
                    docs.iter().map(|d| analyze(d, config)).collect()
                };
                // Collected at their exact size: a vector per file is held until all
                // are read, and most files are one document.
                if analyses.is_empty() {
                    analyses = batch;
                } else {
                    analyses.extend(batch);
                }
                match (records_stamp, store) {
                    (Some(s), _) => {
                        records.extend(docs.into_iter().map(|d| Record::of(d, s.size())))
                    }
                    (None, Some(store)) => stored.extend(store.store(docs)),
                    (None, None) => kept.extend(docs),
                }
                ControlFlow::Continue(())
            });
            // Stamped before the read: a change made after it is seen when read again.
            let held = match (records_stamp, store) {
                (Some(s), _) => Held::Records(s, records),
                (None, Some(_)) => Held::Stored(stored),
                (None, None) => Held::new(file, stamp, kept),
            };
            (analyses, held, bytes, warnings)
        })
        .collect();
    let mut texts = FileTexts::new(files);
    if let Some(store) = store {
        texts.set_store(store);
    }
    let mut analyses = Vec::new();
    let mut warnings: Vec<Warning> = store_warning.into_iter().collect();
    for (i, (file_analyses, held, bytes, file_warnings)) in per_file.into_iter().enumerate() {
        analyses.extend(file_analyses);
        texts.push(i as u32, held, bytes);
        warnings.extend(file_warnings);
    }
    let findings = run_stages(analyses, &texts, config, &mut clock)?;
    Ok((findings, texts, warnings))
}

/// Times the stages of a run and announces each as it starts.
struct StageClock<'a> {
    current: &'static str,
    started: std::time::Instant,
    timings: Vec<(&'static str, std::time::Duration, Option<u64>)>,
    passages: bool,
    on_stage: &'a (dyn Fn(&'static str) + Sync),
}

impl<'a> StageClock<'a> {
    /// The stages after the first (which reads or analyzes), in order.
    const LATER: [&'static str; 3] = ["paragraphs", "passages", "assemble"];

    fn start(
        first: &'static str,
        config: &Config,
        on_stage: &'a (dyn Fn(&'static str) + Sync),
    ) -> StageClock<'a> {
        on_stage(first);
        StageClock {
            current: first,
            started: std::time::Instant::now(),
            timings: Vec::new(),
            passages: config.passages,
            on_stage,
        }
    }

    /// Ends the current stage and announces the next one that runs.
    fn lap(&mut self) {
        let now = std::time::Instant::now();
        self.timings
            .push((self.current, now - self.started, peak_rss()));
        self.started = now;
        let after = Self::LATER
            .iter()
            .position(|&s| s == self.current)
            .map_or(0, |i| i + 1);
        let next = Self::LATER[after..]
            .iter()
            .find(|&&s| s != "passages" || self.passages);
        if let Some(&next) = next {
            self.current = next;
            (self.on_stage)(next);
        }
    }
}

/// The stages after analysis, over `analyses` (one per document of `texts`, in order).
fn run_stages<S: DocSource + Sync + ?Sized>(
    mut analyses: Vec<DocAnalysis>,
    texts: &S,
    config: &Config,
    clock: &mut StageClock<'_>,
) -> Result<Findings> {
    let table = take_token_table(&mut analyses);
    release_free_memory();
    let refs: Vec<ParaRef> = analyses
        .iter()
        .enumerate()
        .flat_map(|(d, an)| {
            (0..an.paragraphs.len() as u32).map(move |o| ParaRef {
                doc: d as u32,
                ordinal: o,
            })
        })
        .collect();
    clock.lap();
    let mut stats = Stats {
        paragraphs: refs.len(),
        tokens: table.n_tokens(),
        ..Stats::default()
    };

    let para_groups = paragraph_clusters(&table, config, &mut stats);
    clock.lap();
    let passage_groups = if config.passages {
        let reported = reported_paragraphs(refs.len(), &para_groups);
        let groups = passage_clusters(&table, &reported, config, &mut stats);
        clock.lap();
        groups
    } else {
        Vec::new()
    };
    // The token hashes are done with: the assemble stage reads the holders' bytes. They,
    // and what the passage stage freed (its seeds and matches), go back to the system
    // before the assemble stage and the report allocate theirs: glibc keeps freed
    // memory in its heaps otherwise, and livedoor's report started at 100 MB resident.
    drop(table);
    release_free_memory();
    let layout = MemoryLayout {
        refs: &refs,
        analyses: &analyses,
        texts,
    };
    // At most half the text's bytes. They are held once the token hashes are dropped,
    // and below the peak of the stages before (BENCHMARKS.md, stop 14).
    let keep_bytes = analyses
        .iter()
        .flat_map(|an| &an.paragraphs)
        .map(|p| p.end.saturating_sub(p.start) as usize)
        .sum::<usize>()
        / 2;
    let (clusters, span_texts) = assemble(&para_groups, passage_groups, &layout, keep_bytes)?;
    // And what the assemble stage freed, before the report reads its windows of text.
    release_free_memory();
    clock.lap();
    stats.timings = std::mem::take(&mut clock.timings);
    Ok(Findings {
        clusters,
        analyses,
        stats,
        span_texts,
    })
}

/// Where paragraph `p` of the dense index is (see [`Layout::paragraph`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    /// Its document.
    pub doc: u32,
    /// Its 0-based position in the document.
    pub ordinal: u32,
    /// Its byte span in the document.
    pub start: u32,
    /// End of the span (exclusive).
    pub end: u32,
    /// The 1-based line on which it starts.
    pub line: u32,
}

/// Where the paragraphs of the dense index are: what turns clusters of dense paragraph
/// indices and token intervals into byte spans of documents.
pub trait Layout: Sync {
    /// Where paragraph `p` is.
    fn paragraph(&self, p: u32) -> Placed;
    /// Number of tokens of paragraph `p`.
    fn words(&self, p: u32) -> u32;
    /// The original bytes of each paragraph of `ps`, in order.
    fn texts(&self, ps: &[u32]) -> Result<Vec<Cow<'_, [u8]>>>;
}

/// The [`Layout`] of documents analyzed in memory, their bytes read from `texts`.
struct MemoryLayout<'a, S: ?Sized> {
    refs: &'a [ParaRef],
    analyses: &'a [DocAnalysis],
    texts: &'a S,
}

impl<S: DocSource + Sync + ?Sized> Layout for MemoryLayout<'_, S> {
    fn paragraph(&self, p: u32) -> Placed {
        let r = self.refs[p as usize];
        let para = self.analyses[r.doc as usize].paragraphs[r.ordinal as usize];
        Placed {
            doc: r.doc,
            ordinal: r.ordinal,
            start: para.start,
            end: para.end,
            line: para.line,
        }
    }

    fn words(&self, p: u32) -> u32 {
        let r = self.refs[p as usize];
        self.analyses[r.doc as usize].token_counts[r.ordinal as usize]
    }

    fn texts(&self, ps: &[u32]) -> Result<Vec<Cow<'_, [u8]>>> {
        let wanted: Vec<(u32, u32, u32)> = ps
            .iter()
            .map(|&p| {
                let at = self.paragraph(p);
                (at.doc, at.start, at.end)
            })
            .collect();
        self.texts.slices(&wanted)
    }
}

/// Which paragraphs (of `n`) are reported as non-kept members of paragraph clusters:
/// the passage stage leaves them out.
pub fn reported_paragraphs(n: usize, para_groups: &[Vec<(u32, f64)>]) -> Vec<bool> {
    let mut reported = vec![false; n];
    mark_reported(&mut reported, para_groups);
    reported
}

/// Marks in `reported` the non-kept members of `para_groups`.
pub fn mark_reported(reported: &mut [bool], para_groups: &[Vec<(u32, f64)>]) {
    for g in para_groups {
        for &(p, _) in g.get(1..).unwrap_or_default() {
            if let Some(r) = reported.get_mut(p as usize) {
                *r = true;
            }
        }
    }
}

/// An occurrence as [`Resolved`] holds it: (group in the chunk, index in the group, the
/// occurrence, span of its bytes in [`Resolved::bytes`] if captured).
type ResolvedOccurrence = (u32, u32, Occurrence, Option<Range<usize>>);

/// The occurrences of one run of paragraphs that hold passages, made by one task of
/// [`passage_clusters_of`], with the bytes of those it captured.
#[derive(Default)]
struct Resolved {
    /// Its occurrences, in paragraph order.
    occurrences: Vec<ResolvedOccurrence>,
    bytes: Vec<u8>,
}

impl Resolved {
    /// The occurrences of `wants` ((paragraph, group, index in group), sorted by
    /// paragraph), whose intervals are in `chunk`: each paragraph's bytes are read and
    /// tokenized once, and its intervals turned into byte spans (and their bytes copied,
    /// if `capture`).
    fn of<L: Layout + ?Sized>(
        layout: &L,
        chunk: &[PassageGroup],
        wants: &[(u32, u32, u32)],
        capture: bool,
    ) -> Result<Resolved> {
        let mut ps: Vec<u32> = wants.iter().map(|w| w.0).collect();
        ps.dedup();
        let texts = layout.texts(&ps)?;
        let mut out = Resolved::default();
        let mut tokens = Vec::new();
        let mut rest = wants;
        for (&p, bytes) in ps.iter().zip(&texts) {
            let n = rest.iter().take_while(|w| w.0 == p).count();
            let (mine, later) = rest.split_at(n);
            rest = later;
            let at = layout.paragraph(p);
            tokens.clear();
            tokens.reserve(layout.words(p) as usize);
            tokenize(&crate::corpus::decoded(bytes), at.start, &mut tokens);
            for &(_, g, k) in mine {
                let Some(&(iv, similarity)) = chunk.get(g as usize).and_then(|g| g.get(k as usize))
                else {
                    continue;
                };
                let start = tokens.get(iv.start as usize).map_or(0, |t| t.start);
                let end = tokens
                    .get((iv.end as usize).saturating_sub(1))
                    .map_or(0, |t| t.end);
                let local = |offset: u32| offset.saturating_sub(at.start) as usize;
                let before = bytes.get(..local(start)).unwrap_or(&[]);
                let o = Occurrence {
                    doc: at.doc,
                    paragraph: at.ordinal,
                    start,
                    end,
                    line: at.line + segment::line_breaks(before),
                    words: iv.end - iv.start,
                    similarity,
                };
                let span = capture.then(|| {
                    let text = bytes.get(local(start)..local(end).max(local(start)));
                    let from = out.bytes.len();
                    out.bytes.extend_from_slice(text.unwrap_or_default());
                    from..out.bytes.len()
                });
                out.occurrences.push((g, k, o, span));
            }
        }
        Ok(out)
    }
}

/// Turns the groups of both stages into clusters of byte spans, ordered by their kept
/// occurrence. Fails only if the bytes of a paragraph holding a passage cannot be read.
///
/// The passages' bytes are kept, whole clusters in order until the first that would
/// bring them past `keep_bytes`, for the report to quote without reading their files
/// again.
pub fn assemble<L: Layout + ?Sized>(
    para_groups: &[Vec<(u32, f64)>],
    passage_groups: Vec<Vec<(Interval, f64)>>,
    layout: &L,
    keep_bytes: usize,
) -> Result<(Vec<Cluster>, SpanTexts)> {
    let mut clusters = paragraph_clusters_of(para_groups, layout);
    let mut kept = Vec::new();
    passage_clusters_of(
        passage_groups,
        layout,
        keep_bytes,
        HOLDER_BYTES,
        &mut |done, texts| {
            clusters.extend(done);
            kept.push(texts);
            Ok(())
        },
    )?;
    let kept = SpanTexts::concat(kept);
    // By content alone, so that a spilled run, which makes them in another order,
    // reports them in the same one.
    clusters.par_sort_by(crate::results::cmp_report_order);
    Ok((clusters, kept))
}

/// The clusters of the paragraph stage's groups, in the groups' order.
pub fn paragraph_clusters_of<L: Layout + ?Sized>(
    para_groups: &[Vec<(u32, f64)>],
    layout: &L,
) -> Vec<Cluster> {
    para_groups
        .par_iter()
        .map(|g| Cluster {
            kind: Kind::Paragraph,
            occurrences: g
                .iter()
                .map(|&(p, sim)| {
                    let at = layout.paragraph(p);
                    Occurrence {
                        doc: at.doc,
                        paragraph: at.ordinal,
                        start: at.start,
                        end: at.end,
                        line: at.line,
                        words: layout.words(p),
                        similarity: sim,
                    }
                })
                .collect(),
        })
        .collect()
}

/// Bytes an occurrence of a passage is counted for while its cluster is made
/// ([`passage_clusters_of`]), 152 on 64-bit targets: it is held three times at the
/// peak, as its task made it, back in its group's order, and in its cluster. Its bytes,
/// when they are captured, are counted apart ([`CAPTURED_BYTES_PER_WORD`] a word).
pub const OCCURRENCE_BYTES: usize = std::mem::size_of::<ResolvedOccurrence>()
    + std::mem::size_of::<(u32, u32, Occurrence, &[u8])>()
    + std::mem::size_of::<Occurrence>();

/// Bytes a word of a captured passage is counted for (a CJK char is 3, an Arabic or
/// English word 6 to 8 with its space).
pub const CAPTURED_BYTES_PER_WORD: usize = 12;

/// Bytes of one chunk of [`passage_clusters_of`] in a run in memory.
pub const HOLDER_BYTES: usize = 64 << 20;

/// Words of the paragraphs that hold passages that one task of [`passage_clusters_of`]
/// reads and tokenizes at a time (at most 256 paragraphs): about 4 MB of text and
/// tokens.
const HOLDER_WORDS_PER_TASK: usize = 1 << 18;

/// The clusters of the passage stage's groups, handed to `each` a chunk at a time in
/// the groups' order. A chunk is cut before the group that would bring its occurrences
/// past `holder_bytes` ([`OCCURRENCE_BYTES`] each, and [`CAPTURED_BYTES_PER_WORD`] a
/// word while passages are kept; a chunk has at least one group). The paragraphs that
/// hold a chunk's occurrences are read and tokenized once for the chunk, in runs of
/// paragraphs, each run by one task that keeps only its occurrences' spans (and their
/// bytes): a paragraph that holds many passages (a long one, cut from a line of many
/// megabytes) is not read again for each chunk of groups it has a part in. Each chunk
/// comes with the bytes of its passages ([`assemble`] says which, given `keep_bytes`).
pub fn passage_clusters_of<L: Layout + ?Sized>(
    passage_groups: Vec<PassageGroup>,
    layout: &L,
    keep_bytes: usize,
    holder_bytes: usize,
    each: &mut dyn FnMut(Vec<Cluster>, SpanTexts) -> Result<()>,
) -> Result<()> {
    const CHUNK: usize = 1 << 14;
    let mut groups = passage_groups.into_iter().peekable();
    // Bytes kept so far; `None` once the budget is spent.
    let mut kept = Some(0);
    loop {
        let capture = kept.is_some();
        let per_word = if capture { CAPTURED_BYTES_PER_WORD } else { 0 };
        let mut chunk: Vec<PassageGroup> = Vec::new();
        let mut held = 0usize;
        while let Some(g) = groups.peek() {
            let words: usize = g.iter().map(|(iv, _)| iv.len() as usize).sum();
            held = held.saturating_add(g.len() * OCCURRENCE_BYTES + words * per_word);
            if !chunk.is_empty() && (held > holder_bytes || chunk.len() == CHUNK) {
                break;
            }
            chunk.extend(groups.next());
        }
        if chunk.is_empty() {
            return Ok(());
        }
        // Every occurrence as (paragraph, group, index in the group), by paragraph, so
        // that a document's paragraphs are read together.
        let mut wants: Vec<(u32, u32, u32)> = chunk
            .iter()
            .enumerate()
            .flat_map(|(g, group)| {
                (0..group.len()).map(move |k| (group[k].0.para, g as u32, k as u32))
            })
            .collect();
        wants.par_sort_unstable();
        let runs = holder_runs(&wants, layout);
        let resolved: Vec<Resolved> = runs
            .par_iter()
            .with_max_len(1)
            .map(|r| Resolved::of(layout, &chunk, &wants[r.clone()], capture))
            .collect::<Result<_>>()?;
        drop(wants);
        // Back in the groups' order.
        let mut placed: Vec<(u32, u32, Occurrence, &[u8])> = resolved
            .iter()
            .flat_map(|r| {
                r.occurrences.iter().map(|(g, k, o, span)| {
                    let text = span.clone().and_then(|s| r.bytes.get(s));
                    (*g, *k, *o, text.unwrap_or_default())
                })
            })
            .collect();
        placed.par_sort_unstable_by_key(|&(g, k, _, _)| (g, k));
        drop(chunk);
        let made: Vec<(Cluster, Vec<&[u8]>)> = placed
            .chunk_by(|x, y| x.0 == y.0)
            .map(|run| {
                let cluster = Cluster {
                    kind: Kind::Passage,
                    occurrences: run.iter().map(|x| x.2).collect(),
                };
                let texts = if capture {
                    run.iter().map(|x| x.3).collect()
                } else {
                    Vec::new()
                };
                (cluster, texts)
            })
            .collect();
        drop(placed);
        // Whole clusters, in order, until the first that would pass the budget.
        let mut spans = Vec::new();
        if capture {
            for (c, t) in &made {
                let bytes: usize = t.iter().map(|t| t.len()).sum();
                kept = kept.map(|k| k + bytes).filter(|&k| k <= keep_bytes);
                if kept.is_none() {
                    break;
                }
                let places = c.occurrences.iter().map(|o| (o.doc, o.start, o.end));
                spans.extend(places.zip(t.iter().copied()));
            }
        }
        let texts = SpanTexts::new(spans);
        let clusters = made.into_iter().map(|(c, _)| c).collect();
        drop(resolved);
        each(clusters, texts)?;
    }
}

/// Cuts `wants` (sorted by paragraph) into runs for one task each: whole paragraphs,
/// at most 256 of them and [`HOLDER_WORDS_PER_TASK`] words (a longer paragraph is a
/// run of its own).
fn holder_runs<L: Layout + ?Sized>(wants: &[(u32, u32, u32)], layout: &L) -> Vec<Range<usize>> {
    // Where each paragraph's wants start, and the end.
    let mut starts: Vec<usize> = (0..wants.len())
        .filter(|&i| i == 0 || wants[i - 1].0 != wants[i].0)
        .collect();
    let words = starts.iter().map(|&i| layout.words(wants[i].0) as usize);
    let runs = weighted_runs(words, 256, HOLDER_WORDS_PER_TASK);
    starts.push(wants.len());
    runs.into_iter()
        .map(|r| starts[r.start]..starts[r.end])
        .collect()
}

/// What the paragraph stage compared, before clustering.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParagraphPairs {
    /// Groups (≥ 2, sorted) of paragraphs with identical token sequences.
    pub exact: Vec<Vec<u32>>,
    /// Candidate pairs proposed by LSH among distinct paragraphs (a < b, sorted).
    pub candidates: Vec<(u32, u32)>,
    /// The candidates whose exact Jaccard passed the threshold.
    pub verified: Vec<(u32, u32)>,
}

/// Paragraphs long enough to be reported (at least `min_words` tokens).
pub fn eligible_paragraphs(table: &TokenTable, config: &Config) -> Vec<u32> {
    (0..table.len() as u32)
        .filter(|&p| table.get(p as usize).len() >= config.min_words)
        .collect()
}

/// The shingle set of paragraph `p`.
pub fn paragraph_shingles<T: TokenSource + ?Sized>(table: &T, config: &Config, p: u32) -> Vec<u64> {
    let mut s = Vec::new();
    shingle_set(&table.tokens(p), config.shingle_size, &mut s);
    s
}

/// The first half of the paragraph stage: exact-duplicate groups, then MinHash + LSH
/// candidates among distinct paragraphs, each verified by exact Jaccard.
pub fn paragraph_pairs(table: &TokenTable, config: &Config) -> ParagraphPairs {
    // Exact duplicates first: identical token sequences need no sketch.
    let mut keyed: Vec<(u64, u32)> = eligible_paragraphs(table, config)
        .par_iter()
        .map(|&p| (sequence_key(table.get(p as usize)), p))
        .collect();
    keyed.par_sort_unstable();
    let mut exact = Vec::new();
    let mut distinct = Vec::new();
    for run in keyed.chunk_by(|x, y| x.0 == y.0) {
        distinct.push(run[0].1);
        if run.len() > 1 {
            exact.push(run.iter().map(|&(_, p)| p).collect::<Vec<u32>>());
        }
    }
    distinct.sort_unstable();

    let candidates: Vec<(u32, u32)> = repeated_band_pairs(table, &distinct, config)
        .into_iter()
        .map(|(a, b)| (a as u32, b as u32))
        .collect();
    let verified = verify_candidates(table, &candidates, config);
    ParagraphPairs {
        exact,
        candidates,
        verified,
    }
}

/// The map of the paragraph stage: the LSH band records of paragraphs `paras` of
/// `table`, the record of paragraph `p` naming it `base + p`. Signatures are consumed
/// as soon as their band keys are made: only the 16-byte records stay.
pub fn band_records(
    table: &TokenTable,
    paras: &[u32],
    config: &Config,
    base: u64,
) -> Vec<BandRecord> {
    concat_freeing(band_records_in_chunks(table, paras, config, base))
}

/// The candidate pairs (sorted, distinct) of paragraphs `paras`, from their band keys
/// that may occur more than once. Each chunk of paragraphs makes its keys and groups
/// them by partition; [`reduce_repeated`] then runs each partition's keys through a
/// filter of its own and makes records of those that passed only. The pairs are the
/// same as from all records (a key seen once makes no pair); the records held are a
/// small fraction, and only one partition's at a time. Each signature is made once:
/// the keys are held between the two steps (8 bytes a band, the paragraph's index in
/// its chunk in place of the key's partition bits). For one machine's memory: spilled
/// batches cannot see each other's keys and write every record.
pub fn repeated_band_pairs(table: &TokenTable, paras: &[u32], config: &Config) -> Vec<(u64, u64)> {
    let keyer = BandKeyer::new(config);
    let (parts, _) = reduce_repeated(
        paras,
        |chunk, out| {
            keyer.for_each_keys(table, chunk, |_, keys| {
                keys.iter().for_each(|&k| out.push(k, ()));
                out.end_item();
            });
        },
        |para, key, ()| BandRecord {
            key,
            para: u64::from(para),
        },
        partition_pairs,
    );
    distinct_pairs(parts)
}

/// The band records of `paras`, in the order of `paras`, a chunk of paragraphs at a time.
fn band_records_in_chunks(
    table: &TokenTable,
    paras: &[u32],
    config: &Config,
    base: u64,
) -> Vec<Vec<BandRecord>> {
    let keyer = BandKeyer::new(config);
    paras
        .par_chunks(PARALLEL_CHUNK)
        .with_max_len(4)
        .map(|chunk| {
            let mut out = Vec::with_capacity(chunk.len() * keyer.bands);
            keyer.for_each_keys(table, chunk, |p, keys| {
                out.extend(keys.iter().map(|&key| BandRecord {
                    key,
                    para: base + u64::from(p),
                }));
            });
            out
        })
        .collect()
}

/// Paragraphs handed to one parallel task by the keyed maps.
const PARALLEL_CHUNK: usize = 256;

/// Makes the band keys of paragraphs: shingles, MinHash signature, bands.
struct BandKeyer {
    hasher: MinHasher,
    bands: usize,
    rows: usize,
    shingle_size: usize,
}

impl BandKeyer {
    fn new(config: &Config) -> BandKeyer {
        let (bands, rows) = choose_bands(config.threshold, config.num_perm);
        BandKeyer {
            hasher: MinHasher::new(config.num_perm),
            bands,
            rows,
            shingle_size: config.shingle_size,
        }
    }

    /// Calls `each` with every paragraph of `chunk` and its band keys, in order, made in
    /// one scratch.
    fn for_each_keys(&self, table: &TokenTable, chunk: &[u32], mut each: impl FnMut(u32, &[u64])) {
        let mut scratch = KeyScratch::default();
        for &p in chunk {
            each(p, self.keys(table.get(p as usize), &mut scratch));
        }
    }

    /// The band keys of a paragraph of `tokens`, made in `scratch`.
    fn keys<'s>(&self, tokens: &[TokenHash], scratch: &'s mut KeyScratch) -> &'s mut Vec<u64> {
        let KeyScratch {
            shingles,
            signature,
            keys,
        } = scratch;
        crate::shingle::shingles(tokens, self.shingle_size, shingles);
        self.hasher.sign(shingles, signature);
        keys.clear();
        keys.extend(band_keys(signature, self.bands, self.rows));
        keys
    }
}

/// The buffers [`BandKeyer::keys`] reuses from one paragraph to the next.
#[derive(Default)]
struct KeyScratch {
    shingles: Vec<u64>,
    signature: Vec<u32>,
    keys: Vec<u64>,
}

/// The paragraph stage: groups of near-duplicate paragraphs (dense indices, sorted, the
/// kept one first) with each member's exact Jaccard to the kept one.
pub fn paragraph_clusters(
    table: &TokenTable,
    config: &Config,
    stats: &mut Stats,
) -> Vec<Vec<(u32, f64)>> {
    let pairs = paragraph_pairs(table, config);
    stats.candidates_verified = pairs.candidates.len();
    stats.pairs_accepted = pairs.verified.len();
    cluster_paragraphs(table, table.len(), &pairs.exact, &pairs.verified, config)
}

/// The candidate pairs whose exact Jaccard passes the threshold, in order.
///
/// A paragraph is a candidate with every other member of its cluster, so its shingle
/// set is made once for a run of candidates: the run's paragraphs are shingled in
/// parallel, then its pairs compared. A run holds at most [`VERIFY_SHINGLES`] tokens
/// of distinct paragraphs (and at least one pair).
pub fn verify_candidates<T: TokenSource + ?Sized>(
    table: &T,
    candidates: &[(u32, u32)],
    config: &Config,
) -> Vec<(u32, u32)> {
    verify_in_runs(table, candidates, config, VERIFY_SHINGLES)
}

/// [`verify_candidates`] in runs of at most `budget` tokens.
fn verify_in_runs<T: TokenSource + ?Sized>(
    table: &T,
    candidates: &[(u32, u32)],
    config: &Config,
    budget: usize,
) -> Vec<(u32, u32)> {
    let mut verified = Vec::new();
    let mut slots: HashMap<u32, usize> = HashMap::new();
    let mut run: Vec<u32> = Vec::new();
    let mut rest = candidates;
    while !rest.is_empty() {
        slots.clear();
        run.clear();
        let mut tokens = 0;
        let mut taken = 0;
        for &(a, b) in rest {
            let new = |p: u32| {
                if slots.contains_key(&p) {
                    0
                } else {
                    table.token_count(p)
                }
            };
            let more = new(a) + if a == b { 0 } else { new(b) };
            if taken > 0 && tokens + more > budget {
                break;
            }
            tokens += more;
            taken += 1;
            for p in [a, b] {
                slots.entry(p).or_insert_with(|| {
                    run.push(p);
                    run.len() - 1
                });
            }
        }
        let sets: Vec<Vec<u64>> = run
            .par_iter()
            .map(|&p| paragraph_shingles(table, config, p))
            .collect();
        let set = |p: u32| {
            slots
                .get(&p)
                .and_then(|&i| sets.get(i))
                .map_or(&[][..], |s| s)
        };
        let (now, later) = rest.split_at(taken);
        verified.par_extend(
            now.par_iter()
                .copied()
                .filter(|&(a, b)| jaccard(set(a), set(b)) >= config.threshold),
        );
        rest = later;
    }
    verified
}

/// Most tokens whose paragraphs' shingle sets [`verify_candidates`] holds at once: 8
/// bytes a shingle, so 8 MiB.
pub const VERIFY_SHINGLES: usize = 1 << 20;

/// The reduce of the paragraph stage over `n` paragraphs: exact groups and verified
/// pairs joined by union-find, then each linked set split into groups whose members
/// all pass the threshold against the group's kept paragraph.
pub fn cluster_paragraphs<T: TokenSource + ?Sized>(
    table: &T,
    n: usize,
    exact: &[Vec<u32>],
    verified: &[(u32, u32)],
    config: &Config,
) -> Vec<Vec<(u32, f64)>> {
    let mut uf = UnionFind::new(n);
    for group in exact {
        for &p in &group[1..] {
            uf.union(group[0], p);
        }
    }
    for &(a, b) in verified {
        uf.union(a, b);
    }
    split_paragraph_sets(table, &uf.groups(), config)
}

/// Splits linked sets of paragraphs into groups whose members all pass the threshold
/// against the group's kept paragraph (see [`split_by_kept`]), in the sets' order.
pub fn split_paragraph_sets<T: TokenSource + ?Sized>(
    table: &T,
    sets: &[Vec<u32>],
    config: &Config,
) -> Vec<Vec<(u32, f64)>> {
    let shingles = |p: u32| paragraph_shingles(table, config, p);
    sets.par_iter()
        .with_max_len(SETS_PER_TASK)
        .flat_map_iter(|members| {
            // Every member is compared with the first kept one, and those left with the
            // next kept one, round after round: each member's shingles are made once,
            // when first needed, for the members (in order) whose tokens fit
            // [`VERIFY_SHINGLES`]; the others' each time.
            let mut tokens = 0;
            let held = members
                .iter()
                .take_while(|&&p| {
                    tokens += table.token_count(p);
                    tokens <= VERIFY_SHINGLES
                })
                .count()
                .max(1);
            let sets: Vec<OnceLock<Vec<u64>>> = (0..held).map(|_| OnceLock::new()).collect();
            let set = |p: u32| -> Cow<'_, [u64]> {
                // Members are sorted.
                match members.binary_search(&p).ok().and_then(|i| sets.get(i)) {
                    Some(cell) => Cow::Borrowed(cell.get_or_init(|| shingles(p))),
                    None => Cow::Owned(shingles(p)),
                }
            };
            split_by_kept(members, config.threshold, |kept, m| {
                if table.tokens(kept) == table.tokens(m) {
                    1.0
                } else {
                    jaccard(&set(kept), &set(m))
                }
            })
        })
        .collect()
}

/// Key of a token sequence for exact-duplicate grouping.
pub fn sequence_key(tokens: &[TokenHash]) -> u64 {
    // Collisions only cost a failed verification: groups are re-checked against their
    // kept member.
    crate::shingle::mix(tokens)
}

/// The passage stage over paragraphs not already `reported` as duplicate paragraphs:
/// groups of occurrences of one passage (sorted, the kept one first) with each one's
/// similarity to the kept one.
pub fn passage_clusters(
    table: &TokenTable,
    reported: &[bool],
    config: &Config,
    stats: &mut Stats,
) -> Vec<Vec<(Interval, f64)>> {
    let params = passage_params(config);
    let participants: Vec<u32> = (0..table.len() as u32)
        .filter(|&p| !reported[p as usize] && table.get(p as usize).len() >= config.min_words)
        .collect();
    let (parts, made) = repeated_seed_match_parts(table, &participants, &params);
    stats.seed_postings = made;
    let (alignments, matches) = align_match_parts(table, parts, table.len(), &params);
    stats.seed_matches = matches;
    stats.alignments = alignments.len();
    let pairs = aligned_pairs(&alignments);
    drop(alignments);
    group_passages(table, pairs, config)
}

/// The two spans of each alignment, in the alignments' order.
pub fn aligned_pairs(alignments: &[Alignment]) -> Vec<(Interval, Interval)> {
    alignments
        .iter()
        .map(|al| {
            (
                Interval {
                    para: al.a,
                    start: al.a_start,
                    end: al.a_end,
                },
                Interval {
                    para: al.b,
                    start: al.b_start,
                    end: al.b_end,
                },
            )
        })
        .collect()
}

/// The passage parameters of `config`.
pub fn passage_params(config: &Config) -> PassageParams {
    PassageParams {
        k: config.seed_k,
        window: config.seed_window,
        min_words: config.min_words,
        min_similarity: config.passage_similarity,
    }
}

/// The reduce of the passage stage: aligned spans ([`aligned_pairs`], in any order: the
/// result does not depend on it) joined into
/// linked sets of intervals, each split into groups fitted to their kept occurrence,
/// completed through longer alignments, with overlapping members dropped.
pub fn group_passages<T: TokenSource + ?Sized>(
    table: &T,
    pairs: Vec<(Interval, Interval)>,
    config: &Config,
) -> Vec<PassageGroup> {
    let mut all = Vec::new();
    // Collecting cannot fail.
    let _ = group_passages_into(table, pairs, config, &mut |groups| {
        all.extend(groups);
        Ok(())
    });
    all
}

/// The occurrences of one passage, the kept one first, each with its similarity to it.
pub type PassageGroup = Vec<(Interval, f64)>;

/// [`group_passages`], whose groups are handed to `each` a batch at a time, in order, so
/// that they need not be held all at once.
pub fn group_passages_into<T: TokenSource + ?Sized>(
    table: &T,
    pairs: Vec<(Interval, Interval)>,
    config: &Config,
    each: &mut dyn FnMut(Vec<PassageGroup>) -> Result<()>,
) -> Result<()> {
    // Linked sets of nodes split, completed and handed on at a time.
    const BATCH: usize = 1 << 16;
    let span = |iv: Interval| -> Cow<'_, [TokenHash]> {
        match table.tokens(iv.para) {
            Cow::Borrowed(t) => {
                Cow::Borrowed(t.get(iv.start as usize..iv.end as usize).unwrap_or(&[]))
            }
            Cow::Owned(t) => Cow::Owned(
                t.get(iv.start as usize..iv.end as usize)
                    .unwrap_or(&[])
                    .to_vec(),
            ),
        }
    };
    // A node's span is the union of what its partners aligned, often more than the
    // passage; each member is therefore fitted to the kept occurrence, and its row is
    // the part of it that aligns with the kept one.
    let fitted = |kept: Interval, m: Interval| {
        let (s, e, matches) = fit(&span(kept), &span(m), config.passage_similarity);
        let iv = Interval {
            para: m.para,
            start: m.start + s as u32,
            end: m.start + e as u32,
        };
        let total = kept.len() + iv.len();
        let sim = if total == 0 || (iv.len() as usize) < config.min_words {
            0.0
        } else {
            2.0 * matches as f64 / total as f64
        };
        (iv, sim)
    };
    let nodes = passage_groups(&pairs);
    let projections = Projections::new(&pairs);
    for batch in nodes.chunks(BATCH) {
        let groups: Vec<PassageGroup> = batch
            .par_iter()
            .with_max_len(SETS_PER_TASK)
            .flat_map_iter(|occ| {
                // Each member's words, read once for the whole split.
                let words: Vec<Cow<'_, [TokenHash]>> = occ.iter().map(|&iv| span(iv)).collect();
                let tokens = |m: usize| words.get(m).map_or(&[][..], |w| w.as_ref());
                split_fitted(occ, tokens, config.passage_similarity, fitted)
            })
            .collect();
        let done = projections
            .complete(groups, config.passage_similarity, |kept, m| {
                similarity_at_least(&span(kept), &span(m), config.passage_similarity)
            })
            .into_iter()
            .map(drop_overlapping)
            .filter(|g| !g.is_empty())
            .collect();
        each(done)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::ParagraphMode;

    /// Candidates verified in runs of any size are those whose shingle sets, made for
    /// each pair alone, pass the threshold, in order.
    #[test]
    fn candidates_verified_in_runs_are_the_pairs_that_pass() {
        let mut rnd = crate::test_rng(3u64);
        let mut table = TokenTable::default();
        let base: Vec<TokenHash> = (0..60).map(|_| rnd(1000) as TokenHash).collect();
        let mut paragraphs = Vec::new();
        for _ in 0..40 {
            let mut p = base[..52 + rnd(8) as usize].to_vec();
            for _ in 0..rnd(3) {
                let at = rnd(p.len() as u64) as usize;
                p[at] = rnd(1000) as TokenHash;
            }
            paragraphs.push(p);
        }
        let counts: Vec<u32> = paragraphs.iter().map(|p| p.len() as u32).collect();
        table.push_chunk(paragraphs.concat(), &counts);
        let config = Config::default();
        let mut candidates: Vec<(u32, u32)> = (0..300)
            .map(|_| (rnd(40) as u32, rnd(40) as u32))
            .filter(|(a, b)| a < b)
            .collect();
        candidates.push((7, 7));
        let want: Vec<(u32, u32)> = candidates
            .iter()
            .copied()
            .filter(|&(a, b)| {
                let (sa, sb) = (
                    paragraph_shingles(&table, &config, a),
                    paragraph_shingles(&table, &config, b),
                );
                jaccard(&sa, &sb) >= config.threshold
            })
            .collect();
        assert!(
            want.len() > 10 && want.len() + 10 < candidates.len(),
            "{}",
            want.len()
        );
        for budget in [0, 1, 59, 100, 1000, usize::MAX] {
            let got = verify_in_runs(&table, &candidates, &config, budget);
            assert_eq!(got, want, "{budget}");
        }
    }

    /// A large document is tokenized in parallel runs of paragraphs: the hashes and
    /// counts are those of tokenizing each paragraph in turn.
    #[test]
    fn a_large_document_gives_the_hashes_of_its_paragraphs_in_order() {
        let lines = [
            "وأضاف كيري أن مؤتمر جنيف-2 سيعقد في موعده",
            "The council met on Monday and said the budget would hold.",
            "東京都は月曜日に新しい予算を発表した",
            "",
            "Совет собрался в понедельник",
            "ประเทศไทยมีฝนตกหนัก",
        ];
        for mode in [ParagraphMode::Line, ParagraphMode::Blank] {
            let config = Config::builder().paragraph_mode(mode).build().unwrap();
            let mut text = String::new();
            let mut i = 0;
            while text.len() <= PARALLEL_DOC_BYTES * 2 {
                let line = lines[i % lines.len()];
                if !line.is_empty() {
                    text.push_str(&format!("{line} {i}"));
                }
                text.push('\n');
                i += 1;
            }
            let doc = Document::from_bytes(0, "big.txt".to_string(), text.into_bytes());
            let an = analyze(&doc, &config);
            let mut want_hashes = Vec::new();
            let mut want_counts = Vec::new();
            let mut tokens = Vec::new();
            for p in &an.paragraphs {
                tokens.clear();
                tokenize(
                    &doc.text[p.start as usize..p.end as usize],
                    p.start,
                    &mut tokens,
                );
                want_hashes.extend(tokens.iter().map(|t| t.hash));
                want_counts.push(tokens.len() as u32);
            }
            assert!(an.paragraphs.len() > PARALLEL_PARAGRAPHS, "{mode:?}");
            assert_eq!(an.token_counts, want_counts, "{mode:?}");
            assert_eq!(an.hashes, want_hashes, "{mode:?}");
        }
    }
}
