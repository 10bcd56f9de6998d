//! The cleaned text: each file with its repeated material removed, first occurrence kept.
//!
//! * A non-kept `paragraph` occurrence removes the whole paragraph with its line.
//! * A non-kept `passage` occurrence removes each sentence of its paragraph that the
//!   passage (almost) wholly covers: at least [`SENTENCE_COVERAGE`] of the sentence's
//!   words. A passage that is only a fragment of a longer sentence stays (it is
//!   reported, not cut), so no half sentence is ever left behind. A paragraph whose
//!   sentences are all removed goes with its line.
//!
//! Removals take the whitespace on one side of what they remove, so no double space and
//! no empty line is left behind; everything not removed stays byte-identical.

use std::ops::{ControlFlow, Range};

use crate::corpus::{self, Document};
use crate::error::{Error, Result};
use crate::normalize::Token;
use crate::pipeline::{Cluster, DocAnalysis, Findings, Kind};
use crate::report::DocSource;
use crate::results::Clusters;
use crate::segment::{paragraphs, sentences, Paragraph, ParagraphMode};

/// Share of a sentence's words a passage must cover for the sentence to be removed.
pub const SENTENCE_COVERAGE: f64 = 0.9;

/// What the findings remove from one document: the ordinals of its dropped paragraphs,
/// and the (paragraph, start, end) spans of its non-kept passages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Paragraphs that are non-kept members of paragraph clusters.
    pub paragraphs: Vec<u32>,
    /// Non-kept passage occurrences: paragraph ordinal and byte span.
    pub passages: Vec<(u32, u32, u32)>,
}

/// What the findings remove from each of `n_docs` documents (indexed by document id).
pub fn removed_units(findings: &Findings, n_docs: usize) -> Vec<Removed> {
    let mut per_doc = vec![Removed::default(); n_docs];
    add_removed(&mut per_doc, &findings.clusters);
    per_doc
}

/// What the non-kept occurrences of a run remove, asked for one document at a time,
/// documents in increasing order ([`Clusters::removals`]).
pub trait RemovalSource {
    /// What is removed from document `doc`.
    fn take(&mut self, doc: u32) -> Result<Removed>;
}

/// The removals of clusters held in memory, made at once.
pub struct HeldRemovals(Vec<Removed>);

impl HeldRemovals {
    /// The removals of `clusters` from each of `n_docs` documents.
    pub fn of<C: Clusters + ?Sized>(clusters: &C, n_docs: usize) -> Result<HeldRemovals> {
        let mut per_doc = vec![Removed::default(); n_docs];
        clusters.for_each_run(&mut |run| {
            add_removed(&mut per_doc, run);
            Ok(())
        })?;
        Ok(HeldRemovals(per_doc))
    }
}

impl RemovalSource for HeldRemovals {
    fn take(&mut self, doc: u32) -> Result<Removed> {
        Ok(self
            .0
            .get_mut(doc as usize)
            .map(std::mem::take)
            .unwrap_or_default())
    }
}

/// Adds what the non-kept occurrences of `clusters` remove to `per_doc`.
fn add_removed(per_doc: &mut [Removed], clusters: &[Cluster]) {
    for cluster in clusters {
        for occ in cluster.occurrences.get(1..).unwrap_or_default() {
            let Some(removed) = per_doc.get_mut(occ.doc as usize) else {
                continue;
            };
            match cluster.kind {
                Kind::Paragraph => removed.paragraphs.push(occ.paragraph),
                Kind::Passage => removed.passages.push((occ.paragraph, occ.start, occ.end)),
            }
        }
    }
}

/// Byte ranges to remove from each document (indexed by document id), sorted and disjoint.
pub fn removals(findings: &Findings, docs: &[Document]) -> Vec<Vec<Range<usize>>> {
    removed_units(findings, docs.len())
        .into_iter()
        .zip(docs)
        .enumerate()
        .map(|(d, (removed, doc))| match findings.analyses.get(d) {
            Some(an) => doc_removals(doc, an, removed),
            None => Vec::new(),
        })
        .collect()
}

/// Byte ranges to remove from `doc`, analyzed as `an`, sorted and disjoint.
pub fn doc_removals(doc: &Document, an: &DocAnalysis, removed: Removed) -> Vec<Range<usize>> {
    let Removed {
        paragraphs: mut whole,
        passages: mut spans,
    } = removed;
    whole.sort_unstable();
    let n_dropped = whole.len();
    let mut partial: Vec<Range<usize>> = Vec::new();
    spans.sort_unstable();
    for run in spans.chunk_by(|x, y| x.0 == y.0) {
        let ordinal = run[0].0;
        if whole[..n_dropped].binary_search(&ordinal).is_ok() {
            continue;
        }
        let covered: Vec<(u32, u32)> = run.iter().map(|&(_, s, e)| (s, e)).collect();
        match sentence_removals(&doc.text, an, ordinal as usize, &covered) {
            SentenceCut::All => whole.push(ordinal),
            SentenceCut::Some(ranges) => partial.extend(ranges),
            SentenceCut::None => {}
        }
    }
    whole.sort_unstable();
    whole.dedup();
    let mut ranges: Vec<Range<usize>> = whole
        .iter()
        .map(|&o| paragraph_removal(&doc.text, &an.paragraphs, o as usize))
        .collect();
    ranges.extend(partial);
    merge(ranges)
}

enum SentenceCut {
    None,
    Some(Vec<Range<usize>>),
    All,
}

/// Which sentences of paragraph `ordinal` the passages `covered` remove.
fn sentence_removals(
    text: &str,
    an: &DocAnalysis,
    ordinal: usize,
    covered: &[(u32, u32)],
) -> SentenceCut {
    let Some(p) = an.paragraphs.get(ordinal) else {
        return SentenceCut::None;
    };
    let tokens = an.paragraph_tokens(text, ordinal);
    let hit = covered_tokens(&tokens, covered);
    let sents = sentences(text, p.start as usize, p.end as usize);
    // Tokens and sentences are both in text order: one sweep counts, per sentence, the
    // tokens inside it and those of them a passage covers.
    let mut next = 0;
    let drop: Vec<bool> = sents
        .iter()
        .map(|s| {
            while next < tokens.len() && (tokens[next].start as usize) < s.start {
                next += 1;
            }
            let (mut inside, mut covered) = (0usize, 0usize);
            while next < tokens.len() && (tokens[next].start as usize) < s.end {
                if tokens[next].end as usize <= s.end {
                    inside += 1;
                    covered += usize::from(hit[next]);
                }
                next += 1;
            }
            inside > 0 && covered as f64 >= SENTENCE_COVERAGE * inside as f64
        })
        .collect();
    if !drop.iter().any(|&d| d) {
        return SentenceCut::None;
    }
    if drop.iter().all(|&d| d) {
        return SentenceCut::All;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < sents.len() {
        if !drop[i] {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < sents.len() && drop[j + 1] {
            j += 1;
        }
        // A run followed by a kept sentence takes its trailing whitespace; a final run
        // takes the whitespace before it instead.
        if j + 1 < sents.len() {
            out.push(sents[i].start..sents[j + 1].start);
        } else if i > 0 {
            out.push(sents[i - 1].end..sents[j].end);
        }
        i = j + 1;
    }
    SentenceCut::Some(out)
}

/// For each token (in text order), whether one of the `covered` spans holds it whole.
/// A sweep: a token is held iff some span starting at or before it ends at or after it.
fn covered_tokens(tokens: &[Token], covered: &[(u32, u32)]) -> Vec<bool> {
    let mut spans = covered.to_vec();
    spans.sort_unstable();
    let mut next = 0;
    let mut reach = None;
    tokens
        .iter()
        .map(|t| {
            while next < spans.len() && spans[next].0 <= t.start {
                reach = reach.max(Some(spans[next].1));
                next += 1;
            }
            reach.is_some_and(|end| end >= t.end)
        })
        .collect()
}

/// The bytes that remove paragraph `ordinal` with its line: from the start of its first
/// line to the start of the next paragraph's line, or, for the last paragraph, from the
/// end of the previous paragraph's line to the end of its own.
///
/// A piece of a long line (`segment::MAX_PARAGRAPH_BYTES`) shares its line with the
/// pieces around it: it goes with the whitespace up to the next piece, or, the line's
/// last piece, from the end of the piece before it to the end of the line's text. The
/// line and its terminator stay.
fn paragraph_removal(text: &str, paras: &[Paragraph], ordinal: usize) -> Range<usize> {
    let Some(p) = paras.get(ordinal) else {
        return 0..0;
    };
    let bytes = text.as_bytes();
    let unbroken = |from: u32, to: u32| {
        let gap = bytes.get(from as usize..to as usize).unwrap_or_default();
        memchr::memchr2(b'\n', b'\r', gap).is_none()
    };
    if let Some(next) = paras.get(ordinal + 1).filter(|n| unbroken(p.end, n.start)) {
        return p.start as usize..next.start as usize;
    }
    let prev = ordinal.checked_sub(1).and_then(|o| paras.get(o));
    if let Some(prev) = prev.filter(|prev| unbroken(prev.end, p.start)) {
        let rest = bytes.get(p.end as usize..).unwrap_or_default();
        let line_end = p.end as usize + memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        return prev.end as usize..line_end;
    }
    let line_start = |at: usize| memchr::memrchr2(b'\n', b'\r', &bytes[..at]).map_or(0, |i| i + 1);
    let after_line = |at: usize| {
        let mut i = at;
        while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'\r' {
            i += 1;
            if i < bytes.len() && bytes[i] == b'\n' {
                i += 1;
            }
        } else if i < bytes.len() {
            i += 1;
        }
        i
    };
    let start = line_start(p.start as usize);
    if let Some(next) = paras.get(ordinal + 1) {
        return start..line_start(next.start as usize);
    }
    let end = after_line(p.end as usize);
    match ordinal.checked_sub(1).and_then(|o| paras.get(o)) {
        Some(prev) => after_line(prev.end as usize).min(start)..end,
        None => start..end,
    }
}

/// [`doc_removals`] for document `doc` of `source`, `len` bytes long, without holding
/// it: the same ranges, found a window of about `window_bytes` at a time.
///
/// The document is read in parts cut at paragraph breaks of `mode` (resolved over the
/// whole document first, when it is `Auto`), as a spilled run reads a large text file
/// (`corpus::for_each_part`), and split into its paragraphs. A window's removals are
/// those of its paragraphs, each of which needs only the paragraph before it and the
/// one after it: the window is read with the last paragraph of the window before it
/// and the first of the one after it.
pub fn removals_in_windows(
    source: &dyn DocSource,
    doc: u32,
    len: u64,
    mode: ParagraphMode,
    removed: Removed,
    window_bytes: usize,
) -> Result<Vec<Range<usize>>> {
    let io = |err: std::io::Error| Error::io(source.name(doc).as_ref(), err);
    // A document with a NUL byte is never read (the file is skipped), so the check
    // only resolves the mode.
    let mode = if mode == ParagraphMode::Auto {
        corpus::check_text(&mut DocReader::new(source, doc, len), len, mode)
            .map_err(io)?
            .unwrap_or(ParagraphMode::Line)
    } else {
        mode
    };
    let Removed {
        paragraphs: mut whole,
        passages: mut spans,
    } = removed;
    whole.sort_unstable();
    spans.sort_unstable();
    let window = Window {
        source,
        doc,
        len,
        whole: &whole,
        spans: &spans,
    };
    // Paragraphs read and not yet done, the first (`context`) the last one done.
    let mut held: Vec<Paragraph> = Vec::new();
    let (mut first, mut context) = (0u32, false);
    let mut ranges = Vec::new();
    let mut failed = None;
    let mut reader = DocReader::new(source, doc, len);
    corpus::for_each_part(&mut reader, mode, window_bytes, &mut |part| {
        let text = corpus::decoded(&part.bytes);
        let at = u32::try_from(part.offset).unwrap_or(u32::MAX);
        held.extend(paragraphs(&text, mode).into_iter().map(|p| Paragraph {
            start: p.start + at,
            end: p.end + at,
            line: p.line + part.lines,
        }));
        let from = usize::from(context);
        let span = |h: &[Paragraph]| h.last().map_or(0, |l| l.end).saturating_sub(h[0].start);
        if held.len() >= from + 2 && span(&held) as usize > window_bytes {
            match window.removals(&held, first, from..held.len() - 1, true) {
                Ok(found) => ranges.extend(found),
                Err(err) => {
                    failed = Some(err);
                    return ControlFlow::Break(());
                }
            }
            let done = held.len() - 2;
            held.drain(..done);
            first += done as u32;
            context = true;
        }
        ControlFlow::Continue(())
    })
    .map_err(io)?;
    if let Some(err) = failed {
        return Err(err);
    }
    if held.len() > usize::from(context) {
        let core = usize::from(context)..held.len();
        ranges.extend(window.removals(&held, first, core, false)?);
    }
    Ok(merge(ranges))
}

/// A document cleaned a window at a time ([`removals_in_windows`]), and what is
/// removed from it, sorted.
struct Window<'a> {
    source: &'a dyn DocSource,
    doc: u32,
    len: u64,
    whole: &'a [u32],
    spans: &'a [(u32, u32, u32)],
}

impl Window<'_> {
    /// The removals of paragraphs `core` of `held`, whose first is paragraph `first` of
    /// the document. The one before `core`, if any, and the one after it (if `next`)
    /// are read with it; without one after, the window runs to the document's end.
    fn removals(
        &self,
        held: &[Paragraph],
        first: u32,
        core: Range<usize>,
        next: bool,
    ) -> Result<Vec<Range<usize>>> {
        let from = if core.start > 0 { held[0].start } else { 0 };
        let to = match held.last() {
            Some(last) if next => last.end,
            _ => u32::try_from(self.len).unwrap_or(u32::MAX),
        };
        let bytes = self.source.slice(self.doc, from, to)?;
        let text = Document::from_bytes(self.doc, String::new(), bytes.into_owned());
        let an = DocAnalysis {
            paragraphs: held
                .iter()
                .map(|p| Paragraph {
                    start: p.start - from,
                    end: p.end - from,
                    line: p.line,
                })
                .collect(),
            hashes: Vec::new(),
            token_counts: Vec::new(),
        };
        let (lo, hi) = (first + core.start as u32, first + core.end as u32);
        let whole = &self.whole[self.whole.partition_point(|&o| o < lo)..];
        let spans = &self.spans[self.spans.partition_point(|s| s.0 < lo)..];
        let removed = Removed {
            paragraphs: whole
                .iter()
                .take_while(|&&o| o < hi)
                .map(|&o| o - first)
                .collect(),
            passages: spans
                .iter()
                .take_while(|s| s.0 < hi)
                .map(|&(o, s, e)| (o - first, s.saturating_sub(from), e.saturating_sub(from)))
                .collect(),
        };
        let shift = from as usize;
        Ok(doc_removals(&text, &an, removed)
            .into_iter()
            .map(|r| r.start + shift..r.end + shift)
            .collect())
    }
}

/// A document of a [`DocSource`] read as a stream, a megabyte at most at a time.
struct DocReader<'a> {
    source: &'a dyn DocSource,
    doc: u32,
    at: u64,
    len: u64,
}

impl<'a> DocReader<'a> {
    fn new(source: &'a dyn DocSource, doc: u32, len: u64) -> DocReader<'a> {
        DocReader {
            source,
            doc,
            at: 0,
            len,
        }
    }
}

impl std::io::Read for DocReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.len - self.at).min(1 << 20);
        if n == 0 {
            return Ok(0);
        }
        let to = |x: u64| u32::try_from(x).unwrap_or(u32::MAX);
        let bytes = self
            .source
            .slice(self.doc, to(self.at), to(self.at + n))
            .map_err(std::io::Error::other)?;
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        self.at += n as u64;
        Ok(n)
    }
}

fn merge(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The file's original bytes without `ranges`.
pub fn apply(bytes: &[u8], ranges: &[Range<usize>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for kept in kept(ranges, bytes.len()) {
        out.extend_from_slice(&bytes[kept]);
    }
    out
}

/// The spans of a text of `len` bytes that [`apply`] keeps when it drops `ranges`
/// (sorted), in order, none empty but the last.
pub fn kept(ranges: &[Range<usize>], len: usize) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    let mut at = 0;
    for r in ranges {
        let start = r.start.min(len);
        if start > at {
            out.push(at..start);
        }
        at = at.max(r.end.min(len));
    }
    out.push(at.min(len)..len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{paragraphs, ParagraphMode};

    /// Cleaned a window at a time, a document loses the same bytes as cleaned whole,
    /// whatever the windows, the mode and what is removed.
    #[test]
    fn removals_in_windows_are_the_whole_document_s() {
        use proptest::prelude::*;
        let pieces = [
            "The council met today. ",
            "It said so! ",
            "word ",
            "mot ",
            "\n",
            "\n\n",
            "\r\n",
            "\r",
            "  ",
            "漢字。",
            "قال الوزير ",
            "e\u{301} ",
            "Dr. Smith came. ",
        ];
        let texts = proptest::collection::vec(proptest::sample::select(pieces.to_vec()), 0..80)
            .prop_map(|v| v.concat());
        let modes = proptest::sample::select(vec![
            ParagraphMode::Line,
            ParagraphMode::Blank,
            ParagraphMode::Auto,
        ]);
        let picks = proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0), 0..12);
        proptest!(ProptestConfig::with_cases(300), |(text in texts, mode in modes, picks in picks, window in 1usize..200, n_whole in 0usize..4)| {
            let docs = vec![Document::from_bytes(0, "d".into(), text.clone().into_bytes())];
            let paras = paragraphs(&text, mode);
            let mut removed = Removed::default();
            if !paras.is_empty() {
                for (i, &(o, a, b)) in picks.iter().enumerate() {
                    let ordinal = ((o * paras.len() as f64) as usize).min(paras.len() - 1);
                    if i < n_whole {
                        removed.paragraphs.push(ordinal as u32);
                        continue;
                    }
                    // A span inside the paragraph, on char boundaries.
                    let p = paras[ordinal];
                    let at = |f: f64| {
                        let mut x = p.start as usize + ((p.end - p.start) as f64 * f) as usize;
                        while !text.is_char_boundary(x) {
                            x -= 1;
                        }
                        x as u32
                    };
                    let (s, e) = (at(a.min(b)), at(a.max(b)));
                    removed.passages.push((ordinal as u32, s, e));
                }
            }
            let an = DocAnalysis { paragraphs: paras, hashes: Vec::new(), token_counts: Vec::new() };
            let want = doc_removals(&docs[0], &an, removed.clone());
            let got = removals_in_windows(&docs, 0, text.len() as u64, mode, removed, window)
                .unwrap();
            prop_assert_eq!(got, want, "{:?}", text);
        });
    }

    #[test]
    fn paragraph_removal_leaves_no_empty_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("a\nb\nc\n", 1, "a\nc\n"),
            ("a\nb\nc\n", 2, "a\nb\n"),
            ("a\nb\nc", 2, "a\nb\n"),
            ("a\r\nb\r\nc\r\n", 1, "a\r\nc\r\n"),
            ("a\n\nb\n\nc\n", 1, "a\n\nc\n"),
            ("a\n\nb\n\nc\n", 2, "a\n\nb\n"),
            ("a\nb\n", 0, "b\n"),
        ];
        for &(text, ordinal, want) in cases {
            let mode = if text.contains("\n\n") {
                ParagraphMode::Blank
            } else {
                ParagraphMode::Line
            };
            let paras = paragraphs(text, mode);
            let r = paragraph_removal(text, &paras, ordinal);
            let got = apply(text.as_bytes(), &[r]);
            assert_eq!(
                String::from_utf8_lossy(&got),
                want,
                "{text:?} without {ordinal}"
            );
        }
    }

    #[test]
    fn pieces_of_a_long_line_are_removed_alone() {
        // Pieces of one line, made by hand as `segment` cuts a line past its limit.
        let text = "one two. three four. five six.\nnext line\n";
        let piece = |start: u32, end: u32, line: u32| Paragraph { start, end, line };
        let paras = [
            piece(0, 8, 1),
            piece(9, 20, 1),
            piece(21, 30, 1),
            piece(31, 40, 2),
        ];
        let cases: &[(usize, &str)] = &[
            (0, "three four. five six.\nnext line\n"),
            (1, "one two. five six.\nnext line\n"),
            (2, "one two. three four.\nnext line\n"),
            (3, "one two. three four. five six.\n"),
        ];
        for &(ordinal, want) in cases {
            let r = paragraph_removal(text, &paras, ordinal);
            let got = apply(text.as_bytes(), &[r]);
            assert_eq!(String::from_utf8_lossy(&got), want, "without {ordinal}");
        }
        // All the pieces of the line: the line's terminator stays.
        let all: Vec<_> = (0..3).map(|o| paragraph_removal(text, &paras, o)).collect();
        let got = apply(text.as_bytes(), &merge(all));
        assert_eq!(String::from_utf8_lossy(&got), "\nnext line\n");
    }

    #[test]
    fn apply_and_merge() {
        let ranges = merge(vec![4..6, 0..2, 1..3, 9..9]);
        assert_eq!(ranges, vec![0..3, 4..6]);
        assert_eq!(apply(b"abcdefgh", &ranges), b"dgh");
    }
}
