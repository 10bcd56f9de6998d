//! Property tests over arbitrary input: the normalizer, the segmenter, the passage
//! aligner and the report never panic and keep their invariants.
//!
//! Inputs are arbitrary bytes (decoded with `Document::from_bytes`, which keeps
//! offsets) mixed with fragments chosen to hit the special cases: invalid UTF-8, BOM,
//! every line terminator, combining marks, Arabic, CJK and Thai, HTML entities, digits of
//! several scripts, format characters.
//!
//! Runs are deterministic (fixed seed) and short by default. For a longer run:
//! `PROPTEST_CASES=20000 cargo test --release --test fuzz`, and `PROPTEST_RNG_SEED=N`
//! for other inputs.

use std::ops::ControlFlow;
use std::path::PathBuf;

use neardup::corpus::{read_input_batched, read_input_observed, Batching, InputRead};
use neardup::lsh::candidate_pairs;
use neardup::normalize::{normalized_words, token_hash, tokenize, Token, TokenHash};
use neardup::passage::{
    align_all, align_match_parts, raw_seed_match_parts, repeated_seed_match_parts, seed_matches,
    seed_postings, similarity, PassageParams, TokenTable,
};
use neardup::pipeline::{
    aligned_pairs, band_records, find_duplicates_read, group_passages, repeated_band_pairs,
};
use neardup::results::Clusters;
use neardup::segment::{paragraphs, sentences, ParagraphMode};
use neardup::spill::{find_duplicates_spilled, SpillOptions};
use neardup::texts::WithSpanTexts;
use neardup::{find_duplicates, report, Config, Document, InputFile, Kind};
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, RngSeed, TestRng};

/// `default_cases` cases unless PROPTEST_CASES says otherwise; a fixed seed unless
/// PROPTEST_RNG_SEED says otherwise; no regression files.
fn config(default_cases: u32) -> PtConfig {
    let base = PtConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        base.cases
    } else {
        default_cases
    };
    let rng_seed = if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
        base.rng_seed
    } else {
        RngSeed::Fixed(0x006e_6561_7264_7570)
    };
    PtConfig {
        cases,
        rng_seed,
        failure_persistence: None,
        ..base
    }
}

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

const FRAGMENTS: &[&str] = &[
    // Latin, with the cases the rules single out.
    "the",
    "minister",
    "said",
    "talks",
    "bridge",
    "Don't",
    "rock'n'roll",
    "U.S.",
    "3.5",
    "e.g.",
    "Mr.",
    "example.com",
    "ﬁne",
    "Straße",
    "İstanbul",
    "ǅemal",
    "ΣΑΣ",
    "ς",
    "Æ",
    "naïve",
    "e\u{301}",
    "\u{301}",
    "a\u{338}",
    "ŉ",
    "ﬀ",
    "Ⅻ",
    "½",
    "²",
    "x²",
    "Ｆｕｌｌ",
    // Arabic: hamza seats, teh marbuta, tatweel, harakat, digits, presentation forms.
    "وأضاف",
    "الوزير",
    "الأمريكي",
    "مسؤولية",
    "مسوولية",
    "هيئة",
    "جنيف-2",
    "ـــ",
    "\u{64e}",
    "\u{651}\u{64f}",
    "٣٤",
    "۴۵",
    "ﷺ",
    "ﻻ",
    "ﷲ",
    "؟",
    "،",
    "۔",
    "؛",
    "\u{600}",
    // CJK, Thai, Korean, emoji and format characters.
    "漢字",
    "かな",
    "カタカナ",
    "ภาษาไทย",
    "한국어",
    "👨\u{200d}👩\u{200d}👧",
    "🇫🇷",
    "\u{200d}",
    "\u{200c}",
    "\u{feff}",
    "\u{200b}",
    "\u{2060}",
    "\u{ad}",
    "\u{1a}",
    "\u{fffd}",
    "\u{10ffff}",
    "\u{e000}",
    "\0",
    "\u{7f}",
    "\u{85}",
    // Whitespace and line ends.
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    "\r\r",
    "\n \n",
    "\u{2029}",
    "\u{2028}",
    "\u{a0}",
    "\u{3000}",
    "\u{b}",
    "\u{c}",
    // Punctuation that sentence rules look at.
    ".",
    "!",
    "?",
    "…",
    "..",
    "...",
    "‥",
    ":",
    ";",
    ",",
    "\"",
    "'",
    "’",
    "«",
    "»",
    "(",
    ")",
    "-",
    "—",
    "?!",
    "!\"",
    ".)",
    "。",
    "！",
    // HTML character references, whole and broken.
    "&amp;",
    "&amp;quot;",
    "&#x41;",
    "&#1575;",
    "&nbsp;",
    "&",
    "&#",
    "&#xFFFFFFFF;",
    "&#0;",
    "&lt;",
    "&#x;",
    "&amp",
    "&#55296;",
    // Digits of several scripts.
    "١٢٣",
    "१२",
    "٠",
    "12,5",
    "1.000.000",
];

/// Byte sequences that are not UTF-8: lone continuation and lead bytes, truncated
/// sequences, a surrogate, a code point past U+10FFFF, an overlong form.
const INVALID: &[&[u8]] = &[
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xc0\x80",
    b"caf\xe9",
];

/// Blocks where normalization does the most: Latin with diacritics, combining marks,
/// Greek, Arabic and its presentation forms, Hebrew, Devanagari, Thai, Hangul jamo and
/// syllables, CJK compatibility, fullwidth forms, letterlike and number forms.
const RANGES: &[(u32, u32)] = &[
    (0x00C0, 0x024F),
    (0x0300, 0x036F),
    (0x0370, 0x03FF),
    (0x0590, 0x05FF),
    (0x0600, 0x06FF),
    (0x0750, 0x077F),
    (0x08A0, 0x08FF),
    (0x0900, 0x097F),
    (0x0E00, 0x0E7F),
    (0x1100, 0x11FF),
    (0x1E00, 0x1EFF),
    (0x2000, 0x206F),
    (0x2100, 0x218F),
    (0x3000, 0x30FF),
    (0x3300, 0x33FF),
    (0xAC00, 0xAC40),
    (0xFB00, 0xFB4F),
    (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFF),
    (0xFF00, 0xFFEF),
    (0x1D400, 0x1D7FF),
];

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(FRAGMENTS).prop_map(|s| s.as_bytes().to_vec()),
        3 => prop::sample::select(RANGES)
            .prop_flat_map(|(lo, hi)| lo..=hi)
            .prop_map(|u| char::from_u32(u).unwrap_or('\u{fffd}').to_string().into_bytes()),
        1 => prop::sample::select(INVALID).prop_map(<[u8]>::to_vec),
        1 => any::<u8>().prop_map(|b| vec![b]),
        1 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
    ]
}

/// Arbitrary bytes: fragments glued together, or plain random bytes.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(fragment(), 0..80).prop_map(|v| v.concat()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

fn document(bytes: Vec<u8>) -> Document {
    Document::from_bytes(0, "x.txt".into(), bytes)
}

fn mode() -> impl Strategy<Value = ParagraphMode> {
    prop::sample::select(
        &[
            ParagraphMode::Line,
            ParagraphMode::Blank,
            ParagraphMode::Auto,
        ][..],
    )
}

/// What the segmenter trims: whitespace, BOM, zero-width characters, word joiner, and
/// the stand-in for an invalid byte.
fn is_trimmed(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{1a}'
        )
}

/// 1-based line of `offset`: `\n`, `\r\n` and a lone `\r` end a line.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    let mut line = 1;
    for i in 0..offset.min(bytes.len()) {
        match bytes[i] {
            b'\n' => line += 1,
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => line += 1,
            _ => {}
        }
    }
    line
}

// ---------------------------------------------------------------------------------------
// Normalizer
// ---------------------------------------------------------------------------------------

fn check_tokens(text: &str, base: u32, tokens: &[Token]) -> Result<(), TestCaseError> {
    let mut last_start = base;
    for t in tokens {
        let (s, e) = ((t.start - base) as usize, (t.end - base) as usize);
        prop_assert!(
            t.start >= base && s < e && e <= text.len(),
            "{t:?} in {text:?}"
        );
        prop_assert!(
            text.is_char_boundary(s) && text.is_char_boundary(e),
            "{t:?}"
        );
        prop_assert!(t.start >= last_start, "tokens in text order");
        last_start = t.start;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2048))]

    /// Spans are non-empty, on char boundaries, inside the text and in order; tokenize
    /// and normalized_words agree, and the hash is that of the normalized word.
    #[test]
    fn normalizer_spans_are_char_boundaries_in_order(raw in bytes(), base in 0u32..1000) {
        let doc = document(raw);
        let mut tokens = Vec::new();
        tokenize(&doc.text, base, &mut tokens);
        check_tokens(&doc.text, base, &tokens)?;
        let words = normalized_words(&doc.text);
        prop_assert_eq!(words.len(), tokens.len());
        for ((word, span), t) in words.iter().zip(&tokens) {
            prop_assert!(!word.is_empty());
            prop_assert_eq!(span.start as u32 + base, t.start);
            prop_assert_eq!(span.end as u32 + base, t.end);
            prop_assert_eq!(token_hash(word.as_bytes()), t.hash);
        }
    }

    /// Normalizing the normalized words, joined by spaces, gives the same words.
    #[test]
    fn normalizer_is_idempotent(raw in bytes()) {
        let doc = document(raw);
        let once: Vec<String> = normalized_words(&doc.text).into_iter().map(|w| w.0).collect();
        let twice: Vec<String> =
            normalized_words(&once.join(" ")).into_iter().map(|w| w.0).collect();
        prop_assert_eq!(&twice, &once, "text {:?}", doc.text);
    }
}

// ---------------------------------------------------------------------------------------
// Segmenter
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1024))]

    /// Paragraphs are trimmed, non-empty, ordered, disjoint spans on char boundaries;
    /// their line is the line of their start; every word character is in one; in line
    /// mode none holds a line break.
    #[test]
    fn paragraphs_are_trimmed_ordered_spans(raw in bytes(), mode in mode()) {
        let doc = document(raw);
        let text = &doc.text;
        let paras = paragraphs(text, mode);
        let mut last_end = 0usize;
        for p in &paras {
            let (s, e) = (p.start as usize, p.end as usize);
            prop_assert!(s >= last_end && s < e && e <= text.len(), "{p:?}");
            prop_assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
            let body = &text[s..e];
            prop_assert!(!body.starts_with(is_trimmed) && !body.ends_with(is_trimmed), "{body:?}");
            prop_assert_eq!(p.line as usize, line_of(doc.bytes(), s));
            if mode == ParagraphMode::Line {
                prop_assert!(!body.contains(['\n', '\r']), "{body:?}");
            }
            last_end = e;
        }
        for (i, c) in text.char_indices() {
            if !is_trimmed(c) {
                let inside = paras.iter().any(|p| p.start as usize <= i && i < p.end as usize);
                prop_assert!(inside, "{c:?} at {i} is in no paragraph");
            }
        }
    }

    /// Sentences of any range (even reversed, past the end or inside a char) are
    /// trimmed, ordered, disjoint spans on char boundaries inside the range, and cover
    /// every non-whitespace character of it.
    #[test]
    fn sentences_cover_their_range(raw in bytes(), a in 0usize..400, b in 0usize..400) {
        let doc = document(raw);
        let text = &doc.text;
        let sents = sentences(text, a, b);
        let mut last_end = 0usize;
        for r in &sents {
            prop_assert!(r.start >= last_end && r.start < r.end && r.end <= text.len());
            prop_assert!(r.start >= a.min(text.len()) && r.end <= b.min(text.len()));
            prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            let body = &text[r.clone()];
            prop_assert!(!body.starts_with(is_trimmed) && !body.ends_with(is_trimmed), "{body:?}");
            last_end = r.end;
        }
        let (lo, hi) = (a.min(text.len()), b.min(text.len()));
        for (i, c) in text.char_indices() {
            if i >= lo && i + c.len_utf8() <= hi && !is_trimmed(c) {
                prop_assert!(
                    sents.iter().any(|r| r.start <= i && i < r.end),
                    "{c:?} at {i} is in no sentence of {lo}..{hi}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The whole pipeline and the report
// ---------------------------------------------------------------------------------------

const WORDS: &[&str] = &[
    "the",
    "council",
    "said",
    "budget",
    "river",
    "bridge",
    "school",
    "minister",
    "report",
    "would",
    "open",
    "next",
    "week",
    "after",
    "talks",
    "with",
    "union",
    "الوزير",
    "المؤتمر",
    "جنيف",
    "واشنطن",
    "漢字",
    "ภาษา",
    "Don't",
    "3.5",
    "U.S.",
    "naïve",
    "café",
];

/// One piece of a document: a planted passage, random words, a line break, or noise.
#[derive(Clone, Debug)]
enum Piece {
    Passage(usize, Option<usize>),
    Words(Vec<usize>),
    Break(&'static str),
    Noise(Vec<u8>),
}

fn piece(n_passages: usize) -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => (0..n_passages, prop::option::of(0usize..30))
            .prop_map(|(i, edit)| Piece::Passage(i, edit)),
        3 => prop::collection::vec(0..WORDS.len(), 1..12).prop_map(Piece::Words),
        2 => prop::sample::select(&[" ", "\n", "\r\n", "\r", "\n\n", "\r\n\r\n", ". "][..])
            .prop_map(Piece::Break),
        1 => fragment().prop_map(Piece::Noise),
    ]
}

/// Documents built from planted passages (6 to 20 words, sometimes with one word
/// changed), random words, line breaks and noise.
fn corpus() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(0..WORDS.len(), 6..20), 1..4).prop_flat_map(
        |passages| {
            let n = passages.len();
            prop::collection::vec(prop::collection::vec(piece(n), 0..14), 1..5).prop_map(
                move |docs| {
                    docs.into_iter()
                        .map(|pieces| {
                            let mut out = Vec::new();
                            for p in pieces {
                                match p {
                                    Piece::Passage(i, edit) => {
                                        let mut words: Vec<&str> =
                                            passages[i].iter().map(|&w| WORDS[w]).collect();
                                        if let Some(at) = edit {
                                            let at = at % words.len();
                                            words[at] = "CHANGED";
                                        }
                                        out.extend_from_slice(words.join(" ").as_bytes());
                                    }
                                    Piece::Words(ws) => {
                                        let ws: Vec<&str> = ws.iter().map(|&w| WORDS[w]).collect();
                                        out.extend_from_slice(ws.join(" ").as_bytes());
                                    }
                                    Piece::Break(b) => out.extend_from_slice(b.as_bytes()),
                                    Piece::Noise(n) => out.extend_from_slice(&n),
                                }
                                out.push(b' ');
                            }
                            out
                        })
                        .collect()
                },
            )
        },
    )
}

/// Documents named `d0.txt`, `d1.txt`, ... from raw bytes.
fn documents(raw: Vec<Vec<u8>>) -> Vec<Document> {
    raw.into_iter()
        .enumerate()
        .map(|(i, b)| {
            let name = format!("d{i}.txt");
            Document::from_bytes(i as u32, name, b)
        })
        .collect()
}

fn run_config(
    mode: ParagraphMode,
    min_words: usize,
    threshold: f64,
    passage_similarity: f64,
    passages: bool,
) -> Config {
    Config::builder()
        .paragraph_mode(mode)
        .min_words(min_words)
        .threshold(threshold)
        .passage_similarity(passage_similarity)
        .passages(passages)
        .build()
        .expect("valid config")
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
}

proptest! {
    #![proptest_config(config(256))]

    /// Every row of the report is the file's bytes at start..end, a trimmed span on char
    /// boundaries inside its paragraph, on its line; each cluster keeps its first row
    /// and every other row passes its threshold against it; the CSV reads back the same;
    /// the output does not depend on the thread count.
    #[test]
    fn report_rows_are_exact_spans(
        raw_docs in corpus(),
        mode in mode(),
        min_words in 2usize..10,
        threshold in 0.3f64..=1.0,
        passage_similarity in 0.5f64..=1.0,
        passages in any::<bool>(),
    ) {
        let docs = documents(raw_docs);
        let config = run_config(mode, min_words, threshold, passage_similarity, passages);
        let findings = pool(1).install(|| find_duplicates(&docs, &config));
        let again = pool(3).install(|| find_duplicates(&docs, &config));
        prop_assert_eq!(&findings.clusters, &again.clusters, "thread count changed the output");

        let rows = report::rows(&findings, &docs);
        let mut cluster = 0;
        let mut kept = None;
        for r in &rows {
            let doc = docs.iter().find(|d| d.name == r.file).expect("a document");
            let (s, e) = (r.start as usize, r.end as usize);
            prop_assert!(s < e && e <= doc.bytes().len(), "{r:?}");
            prop_assert_eq!(&r.text[..], &doc.bytes()[s..e]);
            prop_assert!(doc.text.is_char_boundary(s) && doc.text.is_char_boundary(e));
            let body = &doc.text[s..e];
            prop_assert!(!body.starts_with(is_trimmed) && !body.ends_with(is_trimmed), "{body:?}");
            let paras = paragraphs(&doc.text, mode);
            let p = paras[r.paragraph as usize - 1];
            prop_assert!(p.start as usize <= s && e <= p.end as usize, "{r:?} outside {p:?}");
            if r.kind == Kind::Paragraph {
                prop_assert_eq!((p.start, p.end), (r.start, r.end));
            }
            prop_assert_eq!(r.line as usize, line_of(doc.bytes(), s));
            if r.cluster != cluster {
                prop_assert_eq!(r.cluster, cluster + 1, "clusters numbered in order");
                prop_assert!(r.keep, "the first row of a cluster is kept");
                prop_assert_eq!(r.similarity, 1.0);
                let key = (doc.id, r.start);
                if let Some(prev) = kept {
                    prop_assert!(prev <= key, "clusters ordered by their kept row");
                }
                kept = Some(key);
                cluster = r.cluster;
            } else {
                prop_assert!(!r.keep, "one kept row per cluster");
                let floor = match r.kind {
                    Kind::Paragraph => threshold,
                    Kind::Passage => passage_similarity,
                };
                prop_assert!(r.similarity >= floor - 1e-9, "{r:?}");
            }
        }

        let mut csv_bytes = Vec::new();
        report::write_csv(&mut csv_bytes, &findings, &docs).expect("written");
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(&csv_bytes[..]);
        let read: Vec<csv::ByteRecord> = rdr.byte_records().map(|r| r.expect("valid CSV")).collect();
        prop_assert_eq!(read.len(), rows.len());
        for (rec, row) in read.iter().zip(&rows) {
            prop_assert_eq!(&rec[2], row.file.as_bytes());
            let start = row.start.to_string();
            prop_assert_eq!(&rec[5], start.as_bytes());
            prop_assert_eq!(&rec[10], &row.text[..]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Passage aligner
// ---------------------------------------------------------------------------------------

/// Exact LCS length, quadratic: the oracle.
fn lcs(a: &[TokenHash], b: &[TokenHash]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for &x in a {
        let mut diag = 0;
        for (j, &y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y { diag + 1 } else { up.max(row[j]) };
            diag = up;
        }
    }
    row[b.len()]
}

/// Paragraphs of token hashes from a small alphabet, with a base sequence copied (with
/// edits) into several of them, sometimes twice into the same one.
/// A token table of `paras`, one paragraph each.
fn table_of(paras: &[Vec<TokenHash>]) -> TokenTable {
    let mut table = TokenTable::new();
    for p in paras {
        table.push(p.iter().copied());
    }
    table
}

fn token_paragraphs() -> impl Strategy<Value = Vec<Vec<TokenHash>>> {
    let base = prop::collection::vec(0u32..40, 4..40);
    let paras = prop::collection::vec(prop::collection::vec(0u32..12, 0..60), 1..7);
    let plants = prop::collection::vec(
        (
            0usize..7,
            0usize..60,
            prop::collection::vec((0u8..3, 0usize..40, 0u32..40), 0..4),
        ),
        0..8,
    );
    (base, paras, plants).prop_map(|(base, mut paras, plants)| {
        for (p, at, edits) in plants {
            let p = p % paras.len();
            let mut copy = base.clone();
            for (kind, i, w) in edits {
                let i = i % copy.len().max(1);
                match kind {
                    0 if !copy.is_empty() => copy[i] = w + 100,
                    1 if !copy.is_empty() => {
                        copy.remove(i);
                    }
                    _ => copy.insert(i, w + 100),
                }
            }
            let at = at % (paras[p].len() + 1);
            paras[p].splice(at..at, copy);
        }
        paras
    })
}

proptest! {
    #![proptest_config(config(128))]

    /// A run spilled to disk, one document per batch, and a run that drops each text
    /// once analyzed and reads it back from its file, find the same clusters and write
    /// the same report as the run over documents held in memory.
    #[test]
    fn spilled_and_read_back_runs_equal_in_memory_run(
        raw_docs in corpus(),
        mode in mode(),
        min_words in 2usize..10,
        threshold in 0.3f64..=1.0,
        passages in any::<bool>(),
    ) {
        let docs = documents(raw_docs);
        let config = run_config(mode, min_words, threshold, 0.8, passages);
        let findings = pool(1).install(|| find_duplicates(&docs, &config));

        // Spilled to disk, one document per batch: the same clusters.
        let files: Vec<InputFile> = docs
            .iter()
            .map(|d| InputFile::new(PathBuf::from(&d.name), d.name.clone()).with_len(Some(d.bytes().len() as u64)))
            .collect();
        let read = |f: &InputFile, _: Batching, each: &mut dyn FnMut(Vec<Document>) -> ControlFlow<()>| {
            let _ = each(docs.iter().filter(|d| d.name == f.name()).cloned().collect());
            InputRead::default()
        };
        let spill_dir = tempfile::tempdir().expect("temp dir");
        // Runs of a few rows each, so that the report merges many sorted runs.
        let options = SpillOptions {
            batch_bytes: 1,
            run_rows: 3,
            holder_bytes: 1,
        };
        let spilled = pool(2)
            .install(|| find_duplicates_spilled(&files, &read, &config, &options, spill_dir.path(), &|_| {}))
            .expect("spilled run");
        prop_assert!(spilled.findings.clusters.is_empty());
        prop_assert_eq!(&spilled.clusters.to_vec().expect("read"), &findings.clusters, "spilling changed the output");
        prop_assert_eq!(spilled.clusters.duplicate_bytes(), findings.duplicate_bytes());
        let mut spilled_csv = Vec::new();
        report::write_clusters_csv(&mut spilled_csv, &spilled.clusters, &spilled.texts).expect("written");
        let mut memory_csv = Vec::new();
        report::write_csv(&mut memory_csv, &findings, &docs).expect("written");
        prop_assert_eq!(&spilled_csv, &memory_csv);

        // Read from files, texts dropped and read back: the same clusters and report.
        let dir = tempfile::tempdir().expect("temp dir");
        let on_disk: Vec<InputFile> = files
            .iter()
            .zip(&docs)
            .map(|(f, d)| {
                let path = dir.path().join(f.name());
                std::fs::write(&path, d.bytes()).expect("written");
                InputFile::new(path, f.name().to_string()).with_len(f.len)
            })
            .collect();
        let (read_back, texts, _) = pool(2)
            .install(|| find_duplicates_read(&on_disk, &read, &config, None, &|_| {}))
            .expect("read-back run");
        prop_assert_eq!(&read_back.clusters, &findings.clusters, "reading back changed the output");
        let mut read_csv = Vec::new();
        report::write_csv(&mut read_csv, &read_back, &texts).expect("written");
        prop_assert_eq!(&read_csv, &memory_csv);
        // The passages' bytes the assemble stage kept, quoted from memory: the same report.
        let quoted = WithSpanTexts::new(&read_back.span_texts, &texts);
        let mut quoted_csv = Vec::new();
        report::write_csv(&mut quoted_csv, &read_back, &quoted).expect("written");
        prop_assert_eq!(&quoted_csv, &memory_csv);

        // Spilled again, the files read by the reader, which reads a text file larger
        // than a batch (here, of one byte) in parts, each ending at the first paragraph
        // break it can: the same report. (A file with a NUL byte would be skipped.)
        if docs.iter().all(|d| !d.bytes().contains(&0)) {
            let read_file = |f: &InputFile, batching: Batching, each: &mut dyn FnMut(Vec<Document>) -> ControlFlow<()>| {
                read_input_batched(f, &Default::default(), &|_| {}, batching, each)
            };
            let parts_dir = tempfile::tempdir().expect("temp dir");
            let parted = pool(2)
                .install(|| find_duplicates_spilled(&on_disk, &read_file, &config, &options, parts_dir.path(), &|_| {}))
                .expect("spilled run of parts");
            let mut parted_csv = Vec::new();
            report::write_clusters_csv(&mut parted_csv, &parted.clusters, &parted.texts).expect("written");
            prop_assert_eq!(&parted_csv, &memory_csv, "reading in parts changed the output");
        }

        // The same texts as records of a JSON Lines file, decoded again from the file:
        // the same report as over the records held in memory.
        let mut lines = String::from("\n");
        for (i, d) in docs.iter().enumerate() {
            let record = serde_json::json!({"id": i, "text": d.text});
            lines.push_str(&record.to_string());
            lines.push_str(if i % 2 == 0 { "\r\n" } else { "\n" });
        }
        let path = dir.path().join("records.jsonl");
        std::fs::write(&path, &lines).expect("written");
        let jsonl = vec![InputFile::new(path, "records.jsonl".to_string()).with_len(Some(lines.len() as u64))];
        let read_jsonl = |f: &InputFile, batch: Batching, each: &mut dyn FnMut(Vec<Document>) -> ControlFlow<()>| {
            read_input_batched(f, &Default::default(), &|_| {}, batch, each)
        };
        let records = read_input_observed(&jsonl[0], &Default::default(), &|_| {}).docs;
        let held = pool(1).install(|| find_duplicates(&records, &config));
        let mut held_csv = Vec::new();
        report::write_csv(&mut held_csv, &held, &records).expect("written");
        let (from_file, texts, _) = pool(2)
            .install(|| find_duplicates_read(&jsonl, &read_jsonl, &config, None, &|_| {}))
            .expect("read-back run");
        prop_assert_eq!(&from_file.clusters, &held.clusters);
        let mut file_csv = Vec::new();
        report::write_csv(&mut file_csv, &from_file, &texts).expect("written");
        prop_assert_eq!(&file_csv, &held_csv);
        let quoted = WithSpanTexts::new(&from_file.span_texts, &texts);
        let mut quoted_csv = Vec::new();
        report::write_csv(&mut quoted_csv, &from_file, &quoted).expect("written");
        prop_assert_eq!(&quoted_csv, &held_csv);

        // The same records compressed: their texts go to the run's text store and are
        // read back from there, and the report is the one over the records held.
        let zipped = dir.path().join("records.jsonl.zst");
        let compressed = zstd::encode_all(lines.as_bytes(), 1).expect("compressed");
        std::fs::write(&zipped, &compressed).expect("written");
        let zst = vec![InputFile::new(zipped, "records.jsonl.zst".to_string()).with_len(Some(compressed.len() as u64))];
        let zst_records = read_input_observed(&zst[0], &Default::default(), &|_| {}).docs;
        let zst_held = pool(1).install(|| find_duplicates(&zst_records, &config));
        let mut zst_held_csv = Vec::new();
        report::write_csv(&mut zst_held_csv, &zst_held, &zst_records).expect("written");
        let store_dir = tempfile::tempdir().expect("temp dir");
        let (from_store, texts, _) = pool(2)
            .install(|| find_duplicates_read(&zst, &read_jsonl, &config, Some(store_dir.path()), &|_| {}))
            .expect("stored run");
        prop_assert_eq!(&from_store.clusters, &zst_held.clusters);
        let mut stored_csv = Vec::new();
        report::write_csv(&mut stored_csv, &from_store, &texts).expect("written");
        prop_assert_eq!(&stored_csv, &zst_held_csv);

        // The same file spilled: larger than a batch, so its records are read and mapped
        // a batch at a time (one record each here).
        let spill_dir = tempfile::tempdir().expect("temp dir");
        let spilled = pool(2)
            .install(|| find_duplicates_spilled(&jsonl, &read_jsonl, &config, &options, spill_dir.path(), &|_| {}))
            .expect("spilled run");
        prop_assert_eq!(&spilled.clusters.to_vec().expect("read"), &held.clusters);
        let mut spilled_csv = Vec::new();
        report::write_clusters_csv(&mut spilled_csv, &spilled.clusters, &spilled.texts).expect("written");
        prop_assert_eq!(spilled_csv, held_csv);
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Dropping the keys seen once before the reduce changes nothing: the candidate
    /// pairs, the seed matches and the alignments are those of all records. Token values are drawn from
    /// a small alphabet so that keys repeat, inside paragraphs and across them.
    #[test]
    fn repeat_filters_keep_every_pair_and_match(
        paras in token_paragraphs(),
        k in 1usize..6,
        window in 1usize..5,
        min_words in 1usize..12,
        shingle_size in 1usize..6,
        threshold in 0.3f64..=1.0,
    ) {
        let table = table_of(&paras);
        let ids: Vec<u32> = (0..paras.len() as u32).collect();
        let params = PassageParams { k, window, min_words, min_similarity: 0.8 };
        let all = seed_postings(&table, &ids, &params);
        let made = all.len();
        let (kept, counted) = repeated_seed_match_parts(&table, &ids, &params);
        prop_assert_eq!(counted, made);
        let matches = seed_matches(vec![all.clone()], min_words);
        prop_assert_eq!(sorted_distinct(kept.clone()), matches.clone());

        // Aligned from the unjoined parts, cut again by paragraph ranges: the same
        // alignments in the same order, and the same count of distinct matches.
        let parts = raw_seed_match_parts(vec![all], min_words);
        let (aligned, distinct) = align_match_parts(&table, parts, paras.len(), &params);
        prop_assert_eq!(distinct, matches.len());
        prop_assert_eq!(&aligned, &align_all(&table, &matches, &params));
        let (from_kept, _) = align_match_parts(&table, kept, paras.len(), &params);
        prop_assert_eq!(&from_kept, &aligned);

        // The passage groups do not depend on the order of the aligned pairs (the
        // spilled run groups them in bucket order).
        let passage_config = Config::builder()
            .min_words(min_words.max(2))
            .build()
            .expect("valid config");
        let pairs = aligned_pairs(&aligned);
        let mut shuffled = pairs.clone();
        shuffled.reverse();
        let half = shuffled.len() / 2;
        shuffled.rotate_left(half);
        prop_assert_eq!(
            group_passages(&table, pairs, &passage_config),
            group_passages(&table, shuffled, &passage_config)
        );

        let config = Config::builder()
            .shingle_size(shingle_size)
            .threshold(threshold)
            .build()
            .expect("valid config");
        let all = band_records(&table, &ids, &config, 0);
        prop_assert_eq!(repeated_band_pairs(&table, &ids, &config), candidate_pairs(vec![all]));
    }
}

/// The matches of `parts`, joined, sorted and deduplicated.
fn sorted_distinct<T: Ord>(parts: Vec<Vec<T>>) -> Vec<T> {
    let mut all: Vec<T> = parts.into_iter().flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The filtered maps on more paragraphs than one keyed chunk holds, some of them not
/// taking part: the pairs and matches name the right paragraphs across chunks.
#[test]
fn filtered_maps_agree_across_many_chunks() {
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[37; 32]);
    let mut next = |bound: u64| rng.next_u64() % bound;
    // 9,000 paragraphs of 5 to 40 words from a 5,000-word vocabulary; every 37th is a
    // copy of an earlier one with one word changed, so pairs cross chunks.
    let mut paras: Vec<Vec<TokenHash>> = Vec::new();
    for i in 0..9_000u64 {
        let para = if i % 37 == 36 {
            let mut copy = paras[next(i) as usize].clone();
            let at = next(copy.len() as u64) as usize;
            copy[at] = 7_777;
            copy
        } else {
            (0..5 + next(36))
                .map(|_| next(5_000) as TokenHash)
                .collect()
        };
        paras.push(para);
    }
    let table = table_of(&paras);
    // Every third paragraph left out, as the passage stage leaves out reported ones.
    let ids: Vec<u32> = (0..paras.len() as u32).filter(|p| p % 3 != 1).collect();
    let params = PassageParams {
        k: 4,
        window: 3,
        min_words: 8,
        min_similarity: 0.8,
    };
    let all = seed_postings(&table, &ids, &params);
    let (kept, made) = repeated_seed_match_parts(&table, &ids, &params);
    assert_eq!(made, all.len());
    let matches = seed_matches(vec![all], 8);
    assert!(matches.len() > 100, "{} matches", matches.len());
    assert_eq!(sorted_distinct(kept), matches);

    let config = Config::builder()
        .threshold(0.5)
        .build()
        .expect("valid config");
    let records = band_records(&table, &ids, &config, 0);
    let pairs = candidate_pairs(vec![records]);
    assert!(pairs.len() > 50, "{} pairs", pairs.len());
    assert!(pairs.iter().any(|&(a, b)| b - a > 4_096));
    assert_eq!(repeated_band_pairs(&table, &ids, &config), pairs);
}

proptest! {
    #![proptest_config(config(1024))]

    /// Aligned spans are non-empty, inside their paragraphs, long enough, with the two
    /// copies of a self-repeat apart (a_end <= b_start); their similarity passes the
    /// threshold, and the equal words they claim exist (exact LCS).
    #[test]
    fn alignments_stay_inside_and_pass_the_threshold(
        paras in token_paragraphs(),
        k in 1usize..6,
        window in 1usize..5,
        min_words in 1usize..12,
        min_similarity in 0.5f64..=1.0,
    ) {
        let table = table_of(&paras);
        let params = PassageParams { k, window, min_words, min_similarity };
        let ids: Vec<u32> = (0..paras.len() as u32).collect();
        let postings = seed_postings(&table, &ids, &params);
        let matches = seed_matches(vec![postings], min_words);
        for al in align_all(&table, &matches, &params) {
            prop_assert!(al.a <= al.b, "{al:?}");
            let (a, b) = (table.get(al.a as usize), table.get(al.b as usize));
            let (sa, ea, sb, eb) = (al.a_start as usize, al.a_end as usize, al.b_start as usize, al.b_end as usize);
            prop_assert!(sa < ea && ea <= a.len() && sb < eb && eb <= b.len(), "{al:?}");
            if al.a == al.b {
                prop_assert!(ea <= sb, "self copies overlap: {al:?}");
            }
            prop_assert!(ea - sa >= min_words && eb - sb >= min_words, "{al:?}");
            prop_assert!(al.similarity() >= min_similarity, "{al:?}");
            prop_assert!((al.matches as usize) <= lcs(&a[sa..ea], &b[sb..eb]), "{al:?}");
        }
    }

    /// `similarity` is 2·LCS/(la+lb) from a banded LCS: never above the exact value,
    /// equal to it for short sequences, symmetric, 1 for equal sequences.
    #[test]
    fn similarity_never_exceeds_the_exact_lcs(
        a in prop::collection::vec(0u32..5, 0..80),
        edits in prop::collection::vec((0u8..3, 0usize..80, 0u32..7), 0..10),
    ) {
        let mut b = a.clone();
        for (kind, i, w) in edits {
            let i = i % b.len().max(1);
            match kind {
                0 if !b.is_empty() => b[i] = w,
                1 if !b.is_empty() => {
                    b.remove(i);
                }
                _ => b.insert(i, w),
            }
        }
        let s = similarity(&a, &b);
        prop_assert!((0.0..=1.0).contains(&s));
        prop_assert_eq!(s, similarity(&b, &a));
        prop_assert_eq!(similarity(&a, &a), 1.0);
        if !a.is_empty() && !b.is_empty() {
            let exact = 2.0 * lcs(&a, &b) as f64 / (a.len() + b.len()) as f64;
            prop_assert!(s <= exact + 1e-12, "{s} > {exact}");
            if a.len().max(b.len()) <= 8 {
                prop_assert!((s - exact).abs() < 1e-12, "{s} != {exact}");
            }
        }
    }
}
