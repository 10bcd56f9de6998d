//! Detection-quality measurement.
//!
//! * [`plant`] writes a copy of a real corpus (one document per file, one paragraph per
//!   line) with known duplicates planted in it, and returns their [`Truth`]: the file
//!   and byte span of every source and every copy, in the files as written.
//! * [`score`] checks a neardup report against that truth: recall per kind of plant and
//!   edit level, and precision by re-checking every reported non-kept row against its
//!   cluster's kept row by exact alignment of normalized words.
//! * [`oracle`] is a brute-force check of the paragraph stage: exact word-shingle
//!   Jaccard for every pair of paragraphs that can reach the threshold (prefix
//!   filtering, no sampling), compared with the MinHash/LSH candidates, the verified
//!   pairs and the final clusters.
//!
//! Everything is deterministic for a given seed: random numbers come from an inline
//! splitmix64 generator, [`Rng`], and files are visited in sorted order.
//!
//! In the planter a "word" is a maximal run of letters, digits and combining marks,
//! except that every Han, Hiragana and Katakana character is a word of its own (so for
//! CJK text words are characters). A paragraph is CJK when at least half of its words
//! are CJK characters.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use crate::cluster::UnionFind;
use crate::config::Config;
use crate::corpus::{list_files, read_all, Document, ReadOptions};
use crate::error::{Error, Result};
use crate::normalize::normalized_words;
use crate::passage::TokenTable;
use crate::pipeline::{
    analyze, eligible_paragraphs, find_duplicates, paragraph_clusters, paragraph_pairs,
    paragraph_shingles, token_table, DocAnalysis, Kind, Stats,
};
use crate::segment::{paragraphs, ParagraphMode};
use crate::shingle::jaccard;

// ---------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------

/// A small deterministic pseudo-random generator (splitmix64). The same seed gives the
/// same sequence on every platform and in every release.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A uniform integer in `lo..=hi`; `lo` when `hi <= lo`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            lo
        } else {
            lo + self.below(hi - lo + 1)
        }
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An element of `items` chosen uniformly; `None` if it is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------
// Kinds, levels, truth
// ---------------------------------------------------------------------------

/// How a planted copy sits in the corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlantKind {
    /// A whole paragraph copied as a new line into another document.
    ParaCross,
    /// A whole paragraph copied as a new line into its own document.
    ParaSame,
    /// A passage copied into another paragraph as a sentence of its own, at a sentence
    /// boundary, ending with the script's terminator.
    PassageSentence,
    /// A passage glued into another paragraph after a word in mid-sentence, with no
    /// punctuation around it.
    PassageGlued,
}

impl PlantKind {
    /// Every kind, in report order.
    pub const ALL: [PlantKind; 4] = [
        PlantKind::ParaCross,
        PlantKind::ParaSame,
        PlantKind::PassageSentence,
        PlantKind::PassageGlued,
    ];

    /// The name used in the truth file.
    pub fn as_str(self) -> &'static str {
        match self {
            PlantKind::ParaCross => "para-cross",
            PlantKind::ParaSame => "para-same",
            PlantKind::PassageSentence => "passage-sentence",
            PlantKind::PassageGlued => "passage-glued",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<PlantKind> {
        PlantKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// True for whole-paragraph copies.
    pub fn is_paragraph(self) -> bool {
        matches!(self, PlantKind::ParaCross | PlantKind::ParaSame)
    }
}

/// How much a planted copy differs from its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Byte-identical.
    Exact,
    /// Orthographic variants only (Arabic alef/hamza, yeh, teh marbuta, tatweel, harakat,
    /// Arabic-Indic digits; Latin case, quotes, accents; CJK full-width forms).
    Ortho,
    /// Ortho plus one word substituted, inserted or deleted per about 15 words.
    Light,
    /// Ortho plus one word substituted, inserted or deleted per about 9 words.
    Medium,
}

impl Level {
    /// Every level, in report order.
    pub const ALL: [Level; 4] = [Level::Exact, Level::Ortho, Level::Light, Level::Medium];

    /// The name used in the truth file.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Exact => "exact",
            Level::Ortho => "ortho",
            Level::Light => "light",
            Level::Medium => "medium",
        }
    }

    /// The level named `name`.
    pub fn parse(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// The recall neardup must reach on copies of this level.
    pub fn recall_target(self) -> f64 {
        match self {
            Level::Exact | Level::Ortho => 0.99,
            Level::Light => 0.97,
            Level::Medium => 0.90,
        }
    }

    /// Words per word edit, for the levels that edit words.
    fn words_per_edit(self) -> Option<usize> {
        match self {
            Level::Exact | Level::Ortho => None,
            Level::Light => Some(15),
            Level::Medium => Some(9),
        }
    }
}

/// The precision neardup must reach.
pub const PRECISION_TARGET: f64 = 0.99;

/// Parses a comma-separated list of levels (`exact,ortho,light,medium`).
pub fn parse_levels(list: &str) -> Result<Vec<Level>> {
    parse_list(list, Level::parse, "level")
}

/// Parses a comma-separated list of plant kinds (`para-cross,passage-glued`, …).
pub fn parse_kinds(list: &str) -> Result<Vec<PlantKind>> {
    parse_list(list, PlantKind::parse, "kind")
}

fn parse_list<T: PartialEq>(
    list: &str,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let item =
            parse(name).ok_or_else(|| Error::InvalidConfig(format!("unknown {what} {name:?}")))?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidConfig(format!("empty {what} list")));
    }
    Ok(out)
}

/// One planted copy: where its source and its copy are in the planted corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truth {
    /// 1-based id, in planting order.
    pub id: usize,
    /// How the copy was placed.
    pub kind: PlantKind,
    /// How the copy was edited.
    pub level: Level,
    /// File of the source, relative to the corpus directory, `/`-separated.
    pub src_file: String,
    /// Byte span of the source in its file (as written), end exclusive.
    pub src_start: u32,
    /// End of the source span.
    pub src_end: u32,
    /// File of the copy.
    pub dst_file: String,
    /// Byte span of the copy in its file, end exclusive.
    pub dst_start: u32,
    /// End of the copy span.
    pub dst_end: u32,
    /// Words in the copy (CJK: characters), as the planter counts them.
    pub words: usize,
}

/// Header of the truth CSV.
pub const TRUTH_HEADER: [&str; 10] = [
    "id",
    "kind",
    "level",
    "src_file",
    "src_start",
    "src_end",
    "dst_file",
    "dst_start",
    "dst_end",
    "words",
];

/// Writes the truth as CSV with [`TRUTH_HEADER`].
pub fn write_truth(path: &Path, truth: &[Truth]) -> Result<()> {
    let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(std::io::BufWriter::new(file));
    let io = |e: csv::Error| Error::io(path, std::io::Error::from(e));
    w.write_record(TRUTH_HEADER).map_err(io)?;
    for t in truth {
        w.write_record([
            t.id.to_string(),
            t.kind.as_str().to_string(),
            t.level.as_str().to_string(),
            t.src_file.clone(),
            t.src_start.to_string(),
            t.src_end.to_string(),
            t.dst_file.clone(),
            t.dst_start.to_string(),
            t.dst_end.to_string(),
            t.words.to_string(),
        ])
        .map_err(io)?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

/// Reads a truth CSV written by [`write_truth`].
pub fn read_truth(path: &Path) -> Result<Vec<Truth>> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    parse_truth(file, path)
}

/// Parses a truth CSV from `reader`; `name` is used in error messages.
pub fn parse_truth(reader: impl Read, name: &Path) -> Result<Vec<Truth>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let bad = |line: u64, msg: String| {
        Error::InvalidConfig(format!("{}: line {line}: {msg}", name.display()))
    };
    let header = rdr
        .headers()
        .map_err(|e| Error::io(name, std::io::Error::from(e)))?
        .clone();
    if header.iter().ne(TRUTH_HEADER.iter().copied()) {
        return Err(bad(
            1,
            format!("expected header {}", TRUTH_HEADER.join(",")),
        ));
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Error::io(name, std::io::Error::from(e)))?;
        let line = rec.position().map_or(0, |p| p.line());
        let field = |i: usize| rec.get(i).unwrap_or("");
        let num = |i: usize| -> Result<u64> {
            field(i).parse::<u64>().map_err(|_| {
                bad(
                    line,
                    format!("{}: not a number: {:?}", TRUTH_HEADER[i], field(i)),
                )
            })
        };
        let offset = |i: usize| -> Result<u32> {
            u32::try_from(num(i)?).map_err(|_| bad(line, format!("{}: too large", TRUTH_HEADER[i])))
        };
        let t = Truth {
            id: num(0)? as usize,
            kind: PlantKind::parse(field(1))
                .ok_or_else(|| bad(line, format!("unknown kind {:?}", field(1))))?,
            level: Level::parse(field(2))
                .ok_or_else(|| bad(line, format!("unknown level {:?}", field(2))))?,
            src_file: field(3).to_string(),
            src_start: offset(4)?,
            src_end: offset(5)?,
            dst_file: field(6).to_string(),
            dst_start: offset(7)?,
            dst_end: offset(8)?,
            words: num(9)? as usize,
        };
        if t.src_start > t.src_end || t.dst_start > t.dst_end {
            return Err(bad(line, "span ends before it starts".to_string()));
        }
        out.push(t);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Words of the planter
// ---------------------------------------------------------------------------

/// Script class of a word of the planter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Script {
    Cjk,
    Arabic,
    Latin,
    /// Numbers and other scripts.
    Other,
}

/// A word of the planter: byte range in its text and script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Unit {
    start: usize,
    end: usize,
    script: Script,
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3005}'..='\u{3007}'
        | '\u{3041}'..='\u{309F}'
        | '\u{30A1}'..='\u{30FA}'
        | '\u{30FC}'..='\u{30FF}'
        | '\u{31F0}'..='\u{31FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FF66}'..='\u{FF9F}'
        | '\u{20000}'..='\u{2FA1F}')
}

/// Combining marks that belong to the word they follow (Latin accents, Arabic harakat).
fn is_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06DC}'
        | '\u{06DF}'..='\u{06E8}'
        | '\u{06EA}'..='\u{06ED}')
}

fn is_arabic(c: char) -> bool {
    matches!(c,
        '\u{0600}'..='\u{06FF}'
        | '\u{0750}'..='\u{077F}'
        | '\u{08A0}'..='\u{08FF}'
        | '\u{FB50}'..='\u{FDFF}'
        | '\u{FE70}'..='\u{FEFF}')
}

fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}')
}

fn word_script(word: &str) -> Script {
    if !word.is_empty() && word.chars().all(is_cjk) {
        Script::Cjk
    } else if word.chars().all(|c| c.is_numeric() || is_mark(c)) {
        Script::Other
    } else if word.chars().any(is_arabic) {
        Script::Arabic
    } else if word.chars().any(is_latin) {
        Script::Latin
    } else {
        Script::Other
    }
}

/// The planter's words of `text`.
fn units(text: &str) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut word: Option<usize> = None;
    let close = |out: &mut Vec<Unit>, s: usize, e: usize| {
        out.push(Unit {
            start: s,
            end: e,
            script: word_script(&text[s..e]),
        })
    };
    for (i, c) in text.char_indices() {
        if is_cjk(c) {
            if let Some(s) = word.take() {
                close(&mut out, s, i);
            }
            out.push(Unit {
                start: i,
                end: i + c.len_utf8(),
                script: Script::Cjk,
            });
        } else if c.is_alphanumeric() || is_mark(c) {
            if word.is_none() {
                word = Some(i);
            }
        } else if let Some(s) = word.take() {
            close(&mut out, s, i);
        }
    }
    if let Some(s) = word {
        close(&mut out, s, text.len());
    }
    out
}

/// The script of a paragraph: CJK when at least half its words are CJK characters,
/// else the more frequent of Arabic and Latin.
fn dominant(units: &[Unit]) -> Script {
    let count = |s: Script| units.iter().filter(|u| u.script == s).count();
    let (cjk, arabic, latin) = (
        count(Script::Cjk),
        count(Script::Arabic),
        count(Script::Latin),
    );
    if cjk > 0 && 2 * cjk >= units.len() {
        Script::Cjk
    } else if arabic > 0 && arabic >= latin {
        Script::Arabic
    } else if latin > 0 {
        Script::Latin
    } else {
        Script::Other
    }
}

/// Fewest words of a planted copy (and of its source).
fn min_words(script: Script) -> usize {
    if script == Script::Cjk {
        20
    } else {
        12
    }
}

/// Length range of a planted passage, in words.
fn passage_range(script: Script) -> (usize, usize) {
    if script == Script::Cjk {
        (20, 60)
    } else {
        (10, 40)
    }
}

/// A frequency-weighted sample of the corpus's words, by script (reservoir sampling).
#[derive(Debug)]
struct Vocab {
    words: [Vec<String>; 3],
    seen: [u64; 3],
}

const VOCAB_CAP: usize = 50_000;

impl Vocab {
    fn new() -> Vocab {
        Vocab {
            words: [Vec::new(), Vec::new(), Vec::new()],
            seen: [0; 3],
        }
    }

    fn slot(script: Script) -> Option<usize> {
        match script {
            Script::Cjk => Some(0),
            Script::Arabic => Some(1),
            Script::Latin => Some(2),
            Script::Other => None,
        }
    }

    fn add(&mut self, script: Script, word: &str, rng: &mut Rng) {
        let Some(i) = Vocab::slot(script) else {
            return;
        };
        let n = self.seen[i];
        self.seen[i] += 1;
        if self.words[i].len() < VOCAB_CAP {
            self.words[i].push(word.to_string());
        } else {
            let j = rng.below(n as usize + 1);
            if j < VOCAB_CAP {
                self.words[i][j] = word.to_string();
            }
        }
    }

    /// A word of `script` (or of any script if the corpus has none of that one).
    fn sample(&self, script: Script, rng: &mut Rng) -> Option<&str> {
        let first = Vocab::slot(script).unwrap_or(2);
        let order = [first, 2, 1, 0];
        order
            .into_iter()
            .find(|&i| !self.words[i].is_empty())
            .and_then(|i| rng.pick(&self.words[i]))
            .map(String::as_str)
    }
}

// ---------------------------------------------------------------------------
// Edits
// ---------------------------------------------------------------------------

/// A copy being edited: text before the first word, words with the text before each,
/// text after the last word.
#[derive(Clone, Debug)]
struct Pieces {
    prefix: String,
    words: Vec<Piece>,
    suffix: String,
}

#[derive(Clone, Debug)]
struct Piece {
    gap: String,
    word: String,
    script: Script,
}

impl Pieces {
    fn split(text: &str, keep_edges: bool) -> Pieces {
        let us = units(text);
        let mut words = Vec::with_capacity(us.len());
        let mut last = us.first().map_or(0, |u| u.start);
        for u in &us {
            words.push(Piece {
                gap: text[last..u.start].to_string(),
                word: text[u.start..u.end].to_string(),
                script: u.script,
            });
            last = u.end;
        }
        let (prefix, suffix) = match (us.first(), us.last()) {
            (Some(f), Some(l)) if keep_edges => {
                (text[..f.start].to_string(), text[l.end..].to_string())
            }
            _ => (String::new(), String::new()),
        };
        Pieces {
            prefix,
            words,
            suffix,
        }
    }

    fn join(&self) -> String {
        let mut s = self.prefix.clone();
        for p in &self.words {
            s.push_str(&p.gap);
            s.push_str(&p.word);
        }
        s.push_str(&self.suffix);
        s
    }
}

/// Makes the copy of `text` for `level`, and says whether the orthographic step changed
/// anything. `keep_edges` keeps the punctuation before the first word and after the
/// last (whole paragraphs); passages start and end with a word.
fn make_copy(
    text: &str,
    keep_edges: bool,
    level: Level,
    script: Script,
    vocab: &Vocab,
    rng: &mut Rng,
) -> (String, bool) {
    let mut pieces = Pieces::split(text, keep_edges);
    let changed = level != Level::Exact && apply_ortho(&mut pieces, script, rng);
    if let Some(per) = level.words_per_edit() {
        word_edits(&mut pieces, per, script, vocab, rng);
    }
    (pieces.join(), changed)
}

/// Orthographic variants: each word with probability 0.3, each quote or (CJK)
/// punctuation mark with probability 0.5; at least one change when anything can change.
/// Returns whether anything changed.
fn apply_ortho(pieces: &mut Pieces, script: Script, rng: &mut Rng) -> bool {
    let cjk = script == Script::Cjk;
    let mut changed = false;
    for p in &mut pieces.words {
        if rng.chance(0.3) {
            if let Some(s) = ortho_word(&p.word, p.script, script, rng) {
                p.word = s;
                changed = true;
            }
        }
    }
    let gaps = std::iter::once(&mut pieces.prefix)
        .chain(pieces.words.iter_mut().map(|p| &mut p.gap))
        .chain(std::iter::once(&mut pieces.suffix));
    for g in gaps {
        if let Some(s) = ortho_gap(g, cjk, 0.5, rng) {
            *g = s;
            changed = true;
        }
    }
    if changed {
        return true;
    }
    let mut order: Vec<usize> = (0..pieces.words.len()).collect();
    rng.shuffle(&mut order);
    for i in order {
        let p = &mut pieces.words[i];
        if let Some(s) = ortho_word(&p.word, p.script, script, rng) {
            p.word = s;
            return true;
        }
    }
    let gaps = std::iter::once(&mut pieces.prefix)
        .chain(pieces.words.iter_mut().map(|p| &mut p.gap))
        .chain(std::iter::once(&mut pieces.suffix));
    for g in gaps {
        if let Some(s) = ortho_gap(g, cjk, 1.0, rng) {
            *g = s;
            return true;
        }
    }
    false
}

/// One orthographic variant of `word`, or `None` if none applies.
fn ortho_word(word: &str, script: Script, para: Script, rng: &mut Rng) -> Option<String> {
    match script {
        Script::Cjk => None,
        Script::Arabic => ortho_arabic(word, rng),
        Script::Latin if para == Script::Cjk => toggle_width(word),
        Script::Latin => ortho_latin(word, rng),
        Script::Other => {
            if para == Script::Cjk {
                toggle_width(word)
            } else if para == Script::Arabic || word.chars().any(is_arabic) {
                toggle_arabic_digits(word)
            } else {
                None
            }
        }
    }
}

/// ASCII ↔ full-width forms, character by character.
fn toggle_width(s: &str) -> Option<String> {
    let out: String = s
        .chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect();
    (out != s).then_some(out)
}

/// ASCII digits ↔ Arabic-Indic digits.
fn toggle_arabic_digits(s: &str) -> Option<String> {
    let out: String = s
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0x0660).unwrap_or(c),
            '\u{0660}'..='\u{0669}' => char::from_u32(c as u32 - 0x0660 + '0' as u32).unwrap_or(c),
            _ => c,
        })
        .collect();
    (out != s).then_some(out)
}

/// Arabic letters that do not join the next letter: no tatweel after them.
fn non_joining(c: char) -> bool {
    matches!(
        c,
        'ا' | 'أ' | 'إ' | 'آ' | 'د' | 'ذ' | 'ر' | 'ز' | 'و' | 'ؤ' | 'ة' | 'ء' | 'ى'
    )
}

fn is_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0621}'..='\u{063A}' | '\u{0641}'..='\u{064A}' | '\u{0671}'..='\u{06D3}')
}

fn ortho_arabic(word: &str, rng: &mut Rng) -> Option<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut options = [0u8, 1, 2, 3, 4, 5];
    rng.shuffle(&mut options);
    for opt in options {
        let mut c = chars.clone();
        let done = match opt {
            // Alef with hamza or madda ↔ bare alef (bare → hamza only word-initially,
            // after the article or a one-letter proclitic).
            0 => {
                let cands: Vec<usize> = (0..c.len())
                    .filter(|&i| match c[i] {
                        'أ' | 'إ' | 'آ' => true,
                        'ا' => {
                            i == 0
                                || (i == 1 && matches!(c[0], 'و' | 'ف' | 'ب' | 'ل' | 'ك'))
                                || (i == 2 && c[0] == 'ا' && c[1] == 'ل')
                        }
                        _ => false,
                    })
                    .collect();
                match rng.pick(&cands) {
                    Some(&i) => {
                        c[i] = if c[i] == 'ا' {
                            *rng.pick(&['أ', 'إ']).unwrap_or(&'أ')
                        } else {
                            'ا'
                        };
                        true
                    }
                    None => false,
                }
            }
            // Final alef maksura ↔ yeh, final teh marbuta ↔ heh.
            1 | 2 => {
                let (x, y) = if opt == 1 { ('ى', 'ي') } else { ('ة', 'ه') };
                let len = c.len();
                match c.last_mut() {
                    Some(l) if *l == x => {
                        *l = y;
                        true
                    }
                    Some(l) if *l == y && len > 2 => {
                        *l = x;
                        true
                    }
                    _ => false,
                }
            }
            // Tatweel between two joining letters.
            3 => {
                let cands: Vec<usize> = (0..c.len().saturating_sub(1))
                    .filter(|&i| {
                        is_arabic_letter(c[i]) && !non_joining(c[i]) && is_arabic_letter(c[i + 1])
                    })
                    .collect();
                match rng.pick(&cands) {
                    Some(&i) => {
                        let n = rng.range(1, 2);
                        for _ in 0..n {
                            c.insert(i + 1, '\u{0640}');
                        }
                        true
                    }
                    None => false,
                }
            }
            // Harakat after one to three letters.
            4 => {
                let mut cands: Vec<usize> =
                    (0..c.len()).filter(|&i| is_arabic_letter(c[i])).collect();
                if cands.is_empty() {
                    false
                } else {
                    rng.shuffle(&mut cands);
                    let n = rng.range(1, 3).min(cands.len());
                    let mut at: Vec<usize> = cands[..n].to_vec();
                    at.sort_unstable_by(|a, b| b.cmp(a));
                    for i in at {
                        let mark = *rng
                            .pick(&['\u{064E}', '\u{064F}', '\u{0650}', '\u{0652}', '\u{0651}'])
                            .unwrap_or(&'\u{064E}');
                        c.insert(i + 1, mark);
                    }
                    true
                }
            }
            // Digits inside an Arabic word.
            _ => {
                let s: String = c.iter().collect();
                match toggle_arabic_digits(&s) {
                    Some(t) => {
                        c = t.chars().collect();
                        true
                    }
                    None => false,
                }
            }
        };
        if done {
            let out: String = c.into_iter().collect();
            if out != word {
                return Some(out);
            }
        }
    }
    None
}

const ACCENTS: [(char, &str); 10] = [
    ('a', "áàâä"),
    ('e', "éèêë"),
    ('i', "íìîï"),
    ('o', "óòôö"),
    ('u', "úùûü"),
    ('A', "ÁÀÂÄ"),
    ('E', "ÉÈÊË"),
    ('I', "ÍÌÎÏ"),
    ('O', "ÓÒÔÖ"),
    ('U', "ÚÙÛÜ"),
];

fn strip_accent(c: char) -> Option<char> {
    ACCENTS
        .iter()
        .find(|(_, set)| set.contains(c))
        .map(|&(base, _)| base)
}

fn ortho_latin(word: &str, rng: &mut Rng) -> Option<String> {
    let case = |rng: &mut Rng| -> Option<String> {
        let lower = word.to_lowercase();
        let upper = word.to_uppercase();
        let mut title = String::new();
        let mut chars = lower.chars();
        if let Some(f) = chars.next() {
            title.extend(f.to_uppercase());
            title.extend(chars);
        }
        let mut cands: Vec<String> = [lower, upper, title]
            .into_iter()
            .filter(|v| v != word)
            .collect();
        cands.dedup();
        rng.pick(&cands).cloned()
    };
    let accent = |rng: &mut Rng| -> Option<String> {
        let chars: Vec<char> = word.chars().collect();
        let accented: Vec<usize> = (0..chars.len())
            .filter(|&i| strip_accent(chars[i]).is_some())
            .collect();
        let mut c = chars.clone();
        if let Some(&i) = rng.pick(&accented) {
            c[i] = strip_accent(c[i]).unwrap_or(c[i]);
        } else {
            let vowels: Vec<usize> = (0..chars.len())
                .filter(|&i| ACCENTS.iter().any(|(b, _)| *b == chars[i]))
                .collect();
            let &i = rng.pick(&vowels)?;
            let set: Vec<char> = ACCENTS
                .iter()
                .find(|(b, _)| *b == c[i])
                .map(|(_, s)| s.chars().collect())
                .unwrap_or_default();
            c[i] = *rng.pick(&set)?;
        }
        Some(c.into_iter().collect())
    };
    if rng.chance(0.5) {
        case(rng).or_else(|| accent(rng))
    } else {
        accent(rng).or_else(|| case(rng))
    }
}

/// Straight ↔ curly quotes (and, in CJK text, ASCII ↔ full-width punctuation), each
/// with probability `p`.
fn ortho_gap(gap: &str, cjk: bool, p: f64, rng: &mut Rng) -> Option<String> {
    let chars: Vec<char> = gap.chars().collect();
    let mut out = String::with_capacity(gap.len());
    let mut changed = false;
    for (i, &c) in chars.iter().enumerate() {
        // A quote opens when it is the last character before a word and follows a space
        // or starts the gap; an apostrophe becomes U+2019 (its typographic form).
        let opening = i + 1 == chars.len() && (i == 0 || chars[i - 1].is_whitespace());
        let swapped = match c {
            '"' => Some(if opening { '\u{201C}' } else { '\u{201D}' }),
            '\'' => Some('\u{2019}'),
            '\u{201C}' | '\u{201D}' | '\u{201E}' => Some('"'),
            '\u{2018}' | '\u{2019}' => Some('\''),
            '!'..='~' if cjk => char::from_u32(c as u32 + 0xFEE0),
            '\u{FF01}'..='\u{FF5E}' if cjk => char::from_u32(c as u32 - 0xFEE0),
            _ => None,
        };
        match swapped {
            Some(s) if rng.chance(p) => {
                out.push(s);
                changed = true;
            }
            _ => out.push(c),
        }
    }
    changed.then_some(out)
}

/// One word substituted, inserted or deleted per `per` words: the copy is cut into
/// `round(n / per)` (at least one) equal segments, with one edit at a random word of
/// each. New words come from the corpus vocabulary.
fn word_edits(pieces: &mut Pieces, per: usize, script: Script, vocab: &Vocab, rng: &mut Rng) {
    let n = pieces.words.len();
    if n == 0 {
        return;
    }
    let k = ((n + per / 2) / per).clamp(1, n);
    let mut ops: Vec<(usize, usize)> = (0..k)
        .map(|j| {
            let (lo, hi) = (j * n / k, (j + 1) * n / k);
            (lo + rng.below(hi - lo), rng.below(3))
        })
        .collect();
    ops.sort_unstable_by_key(|&(pos, _)| std::cmp::Reverse(pos));
    for (pos, op) in ops {
        match op {
            0 => {
                for _ in 0..8 {
                    let Some(w) = vocab.sample(script, rng) else {
                        break;
                    };
                    if w.to_lowercase() != pieces.words[pos].word.to_lowercase() {
                        pieces.words[pos].word = w.to_string();
                        pieces.words[pos].script = word_script(w);
                        break;
                    }
                }
            }
            1 => {
                let Some(w) = vocab.sample(script, rng) else {
                    continue;
                };
                let ws = word_script(w);
                let glued = ws == Script::Cjk && pieces.words[pos].script == Script::Cjk;
                pieces.words.insert(
                    pos + 1,
                    Piece {
                        gap: if glued {
                            String::new()
                        } else {
                            " ".to_string()
                        },
                        word: w.to_string(),
                        script: ws,
                    },
                );
            }
            _ => {
                if pieces.words.len() > 1 {
                    pieces.words.remove(pos);
                    if pos == 0 {
                        if let Some(first) = pieces.words.first_mut() {
                            first.gap.clear();
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Planting
// ---------------------------------------------------------------------------

/// Options of [`plant`].
#[derive(Clone, Debug)]
pub struct PlantOptions {
    /// Edit levels to plant.
    pub levels: Vec<Level>,
    /// Kinds of plant.
    pub kinds: Vec<PlantKind>,
    /// Copies planted per kind and level (fewer if the corpus runs out of paragraphs).
    pub per_kind: usize,
    /// Leave out, as sources and as targets, the paragraphs that neardup already reports
    /// in the original corpus (default true): a copy of a paragraph that already has
    /// duplicates could be reported with one of them instead of its recorded source.
    pub exclude_existing: bool,
    /// With `exclude_existing`: take the paragraphs to leave out from this neardup report
    /// of the source corpus (scanned with one paragraph per line) instead of running the
    /// detector. Comparing two builds on planted corpora whose exclusions come from one
    /// reference report keeps the truth independent of the build under test.
    pub existing_report: Option<PathBuf>,
}

impl Default for PlantOptions {
    fn default() -> PlantOptions {
        PlantOptions {
            levels: Level::ALL.to_vec(),
            kinds: PlantKind::ALL.to_vec(),
            per_kind: 50,
            exclude_existing: true,
            existing_report: None,
        }
    }
}

/// A paragraph of the original corpus that may be a source or a target.
#[derive(Clone, Copy, Debug)]
struct Line {
    doc: usize,
    start: usize,
    end: usize,
    words: usize,
    script: Script,
}

/// Text inserted into an original file at byte `pos`; the copy is at
/// `copy_off..copy_off + copy_len` inside `text`.
#[derive(Clone, Debug)]
struct Insertion {
    pos: usize,
    text: String,
    copy_off: usize,
    plant: usize,
}

#[derive(Clone, Debug)]
struct Plan {
    kind: PlantKind,
    level: Level,
    src_doc: usize,
    src: (usize, usize),
    dst_doc: usize,
    copy: String,
    words: usize,
}

/// Sentence terminators after which a planted sentence may start.
fn is_terminator(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | '\u{061F}' | '\u{3002}' | '\u{FF01}' | '\u{FF1F}'
    )
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | ')'
            | ']'
            | '\u{201D}'
            | '\u{2019}'
            | '\u{00BB}'
            | '\u{300D}'
            | '\u{300F}'
            | '\u{FF09}'
    )
}

/// Where a passage can be inserted as a sentence of its own in paragraph text `t`:
/// (offset right after a terminator and its closing quotes, whether a space follows).
fn sentence_slots(t: &str) -> Vec<(usize, bool)> {
    let us = units(t);
    let mut out = Vec::new();
    for w in us.windows(2) {
        let (prev, next) = (w[0], w[1]);
        let gap = &t[prev.end..next.start];
        let Some((ti, tc)) = gap.char_indices().find(|&(_, c)| is_terminator(c)) else {
            continue;
        };
        let spaced = gap.chars().any(char::is_whitespace);
        if !spaced && !matches!(tc, '\u{3002}' | '\u{FF01}' | '\u{FF1F}') {
            continue; // "3.5", "example.com": not a boundary
        }
        if tc == '.' && t[prev.start..prev.end].chars().count() < 3 {
            continue; // "Mr.", "U.S.": probably an abbreviation
        }
        let mut pos = prev.end + ti + tc.len_utf8();
        for c in t[pos..next.start].chars() {
            if is_terminator(c) || is_closing(c) {
                pos += c.len_utf8();
            } else {
                break;
            }
        }
        out.push((pos, spaced));
    }
    out
}

/// Where a passage can be glued in mid-sentence in `t`: starts of words that follow
/// another word after whitespace only (or directly, between two CJK characters).
fn glue_slots(t: &str) -> Vec<(usize, bool)> {
    let us = units(t);
    us.windows(2)
        .filter_map(|w| {
            let gap = &t[w[0].end..w[1].start];
            if !gap.is_empty() && gap.chars().all(char::is_whitespace) {
                Some((w[1].start, true))
            } else if gap.is_empty() && w[0].script == Script::Cjk && w[1].script == Script::Cjk {
                Some((w[1].start, false))
            } else {
                None
            }
        })
        .collect()
}

fn line_starts_of(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

fn to_u32(v: usize, what: &Path) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::InvalidConfig(format!(
            "{}: file too large for 32-bit offsets",
            what.display()
        ))
    })
}

/// Refuses an output directory that is the source, lies inside it, or holds files.
fn check_out_dir(src: &Path, out: &Path) -> Result<()> {
    let src_abs = fs::canonicalize(src).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::MissingPath(src.to_path_buf()),
        _ => Error::io(src, e),
    })?;
    if out.exists() {
        let out_abs = fs::canonicalize(out).map_err(|e| Error::io(out, e))?;
        if out_abs.starts_with(&src_abs) || src_abs.starts_with(&out_abs) {
            return Err(Error::InvalidConfig(format!(
                "{}: the planted corpus must not overlap the source {}",
                out.display(),
                src.display()
            )));
        }
        let mut entries = fs::read_dir(out).map_err(|e| Error::io(out, e))?;
        if entries.next().is_some() {
            return Err(Error::InvalidConfig(format!(
                "{}: already exists and is not empty",
                out.display()
            )));
        }
    } else {
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Ok(parent_abs) = fs::canonicalize(parent) {
            if parent_abs.starts_with(&src_abs) {
                return Err(Error::InvalidConfig(format!(
                    "{}: the planted corpus must not be inside the source {}",
                    out.display(),
                    src.display()
                )));
            }
        }
    }
    Ok(())
}

/// Where the file named `name` goes under `out`.
fn out_path(out: &Path, name: &str) -> PathBuf {
    let mut p = out.to_path_buf();
    for part in name.split('/') {
        if !part.is_empty() && part != "." && part != ".." {
            p.push(part);
        }
    }
    p
}

/// State of one planting run.
struct Planter<'a> {
    docs: &'a [Document],
    lines: Vec<Line>,
    used: Vec<bool>,
    doc_script: Vec<Script>,
    vocab: Vocab,
    rng: Rng,
}

impl Planter<'_> {
    fn text(&self, line: &Line) -> &str {
        self.docs[line.doc]
            .text
            .get(line.start..line.end)
            .unwrap_or("")
    }

    /// A random unused line satisfying `ok`, within `tries` draws.
    fn draw(&mut self, tries: usize, ok: impl Fn(usize, &Line) -> bool) -> Option<usize> {
        for _ in 0..tries {
            let i = self.rng.below(self.lines.len());
            if !self.used[i] && ok(i, &self.lines[i]) {
                return Some(i);
            }
        }
        None
    }

    fn plan_paragraph(&mut self, kind: PlantKind, level: Level) -> Option<(Plan, Insertion)> {
        for _ in 0..20 {
            let si = self.draw(400, |_, l| l.words >= min_words(l.script))?;
            let src = self.lines[si];
            let dst_doc = if kind == PlantKind::ParaSame {
                src.doc
            } else {
                let n = self.docs.len();
                let mut found = None;
                for attempt in 0..200 {
                    let d = self.rng.below(n);
                    if d != src.doc
                        && self.docs[d].raw.is_none()
                        && (attempt >= 100 || self.doc_script[d] == src.script)
                    {
                        found = Some(d);
                        break;
                    }
                }
                found?
            };
            let text = self.text(&src).to_string();
            let (copy, changed) =
                make_copy(&text, true, level, src.script, &self.vocab, &mut self.rng);
            let words = units(&copy).len();
            if words < min_words(src.script) || (level == Level::Ortho && !changed) {
                continue;
            }
            let starts = line_starts_of(&self.docs[dst_doc].text);
            let pos = *self.rng.pick(&starts)?;
            self.used[si] = true;
            let plan = Plan {
                kind,
                level,
                src_doc: src.doc,
                src: (src.start, src.end),
                dst_doc,
                words,
                copy: copy.clone(),
            };
            let ins = Insertion {
                pos,
                text: format!("{copy}\n"),
                copy_off: 0,
                plant: 0,
            };
            return Some((plan, ins));
        }
        None
    }

    fn plan_passage(&mut self, kind: PlantKind, level: Level) -> Option<(Plan, Insertion)> {
        for _ in 0..20 {
            let si = self.draw(400, |_, l| l.words >= min_words(l.script) + 2)?;
            let src = self.lines[si];
            let min = min_words(src.script);
            let (lo, hi) = passage_range(src.script);
            let len = self.rng.range(lo, hi).max(min).min(src.words - 2);
            let text = self.text(&src).to_string();
            let us = units(&text);
            let first = self.rng.below(us.len() - len + 1);
            let (a, b) = (us[first].start, us[first + len - 1].end);
            // A target paragraph of the same script (if possible) with a slot.
            let mut target = None;
            for attempt in 0..400 {
                let same_script = attempt < 200;
                let Some(ti) = self.draw(1, |i, l| {
                    i != si && l.words >= min && (!same_script || l.script == src.script)
                }) else {
                    continue;
                };
                let t = self.text(&self.lines[ti]);
                let slots = if kind == PlantKind::PassageSentence {
                    sentence_slots(t)
                } else {
                    glue_slots(t)
                };
                if let Some(&slot) = self.rng.pick(&slots) {
                    target = Some((ti, slot));
                    break;
                }
            }
            let (ti, (slot, spaced)) = target?;
            let (copy, changed) = make_copy(
                &text[a..b],
                false,
                level,
                src.script,
                &self.vocab,
                &mut self.rng,
            );
            let words = units(&copy).len();
            if words < min || (level == Level::Ortho && !changed) {
                continue;
            }
            let cjk = src.script == Script::Cjk;
            let (insert, copy_off) = match kind {
                PlantKind::PassageSentence => {
                    let term = if cjk { "\u{3002}" } else { "." };
                    if spaced {
                        (format!(" {copy}{term}"), 1)
                    } else {
                        (format!("{copy}{term}"), 0)
                    }
                }
                _ => {
                    if spaced {
                        (format!("{copy} "), 0)
                    } else {
                        (copy.clone(), 0)
                    }
                }
            };
            self.used[si] = true;
            self.used[ti] = true;
            let dst = self.lines[ti];
            let plan = Plan {
                kind,
                level,
                src_doc: src.doc,
                src: (src.start + a, src.start + b),
                dst_doc: dst.doc,
                words,
                copy,
            };
            let ins = Insertion {
                pos: dst.start + slot,
                text: insert,
                copy_off,
                plant: 0,
            };
            return Some((plan, ins));
        }
        None
    }
}

/// Writes a copy of the corpus under `src_dir` to `out_dir` (which must be empty or
/// absent, and outside `src_dir`) with duplicates planted in it, and returns their truth.
///
/// Per kind and level, `options.per_kind` copies are planted, cells taking turns so
/// that all run short alike if the corpus runs out of paragraphs. Sources and targets
/// are paragraphs (lines) of the original files; an original line is used by at most
/// one plant, as source or target, so no plant moves another's span. Whole-paragraph
/// copies are inserted as new lines at the start of a random line. Copies and sources
/// have at least 12 words (CJK: 20 characters); passages are 10–40 words long (CJK:
/// 20–60 characters) before editing. Offsets in the truth are in the files as written,
/// checked against the written bytes before returning. Files that are not valid UTF-8
/// are copied unchanged and never planted into.
pub fn plant(
    src_dir: &Path,
    out_dir: &Path,
    seed: u64,
    options: &PlantOptions,
) -> Result<Vec<Truth>> {
    check_out_dir(src_dir, out_dir)?;
    let (files, _) = list_files(&[src_dir.to_path_buf()], false)?;
    let (docs, _) = read_all(&files, &ReadOptions::default());

    let excluded: HashSet<(usize, usize)> =
        match (&options.existing_report, options.exclude_existing) {
            (_, false) => HashSet::new(),
            (Some(path), true) => {
                let by_name: HashMap<&str, usize> = docs
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (d.name.as_str(), i))
                    .collect();
                read_report(path)?
                    .iter()
                    .filter_map(|r| {
                        let d = by_name.get(r.file.as_str())?;
                        Some((*d, (r.paragraph as usize).checked_sub(1)?))
                    })
                    .collect()
            }
            (None, true) => {
                let findings = find_duplicates(&docs, &Config::default());
                findings
                    .clusters
                    .iter()
                    .flat_map(|c| c.occurrences.iter())
                    .map(|o| (o.doc as usize, o.paragraph as usize))
                    .collect()
            }
        };

    let mut vocab = Vocab::new();
    let mut vrng = Rng::new(seed ^ 0x0BAD_5EED_F00D_CAFE);
    let mut lines = Vec::new();
    let mut doc_script = Vec::with_capacity(docs.len());
    for (d, doc) in docs.iter().enumerate() {
        let mut counts: HashMap<Script, usize> = HashMap::new();
        if doc.raw.is_none() {
            for (k, p) in paragraphs(&doc.text, ParagraphMode::Line)
                .iter()
                .enumerate()
            {
                let (start, end) = (p.start as usize, p.end as usize);
                let text = doc.text.get(start..end).unwrap_or("");
                let us = units(text);
                for u in &us {
                    vocab.add(u.script, &text[u.start..u.end], &mut vrng);
                }
                let script = dominant(&us);
                *counts.entry(script).or_default() += 1;
                if !excluded.contains(&(d, k)) && !us.is_empty() {
                    lines.push(Line {
                        doc: d,
                        start,
                        end,
                        words: us.len(),
                        script,
                    });
                }
            }
        }
        let main = [Script::Cjk, Script::Arabic, Script::Latin, Script::Other]
            .into_iter()
            .max_by_key(|s| counts.get(s).copied().unwrap_or(0))
            .unwrap_or(Script::Other);
        doc_script.push(main);
    }

    let mut planter = Planter {
        docs: &docs,
        used: vec![false; lines.len()],
        lines,
        doc_script,
        vocab,
        rng: Rng::new(seed),
    };
    let mut plans: Vec<Plan> = Vec::new();
    let mut inserts: Vec<Vec<Insertion>> = vec![Vec::new(); docs.len()];
    if !planter.lines.is_empty() {
        for _ in 0..options.per_kind {
            for &kind in &options.kinds {
                for &level in &options.levels {
                    let planned = if kind.is_paragraph() {
                        planter.plan_paragraph(kind, level)
                    } else {
                        planter.plan_passage(kind, level)
                    };
                    if let Some((plan, mut ins)) = planned {
                        ins.plant = plans.len();
                        inserts[plan.dst_doc].push(ins);
                        plans.push(plan);
                    }
                }
            }
        }
    }

    // Write every file once, recording where each copy lands.
    fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut dst_spans = vec![(0usize, 0usize); plans.len()];
    let mut src_spans = vec![(0usize, 0usize); plans.len()];
    let mut sources: Vec<Vec<usize>> = vec![Vec::new(); docs.len()];
    for (i, p) in plans.iter().enumerate() {
        sources[p.src_doc].push(i);
    }
    let mut read = vec![false; files.len()];
    for (d, doc) in docs.iter().enumerate() {
        read[doc.id as usize] = true;
        let orig = doc.bytes();
        let ins = &mut inserts[d];
        ins.sort_by_key(|x| (x.pos, x.plant));
        let mut out =
            Vec::with_capacity(orig.len() + ins.iter().map(|x| x.text.len()).sum::<usize>());
        let mut last = 0;
        for x in ins.iter() {
            out.extend_from_slice(&orig[last..x.pos]);
            let at = out.len() + x.copy_off;
            dst_spans[x.plant] = (at, at + plans[x.plant].copy.len());
            out.extend_from_slice(x.text.as_bytes());
            last = x.pos;
        }
        out.extend_from_slice(&orig[last..]);
        for &i in &sources[d] {
            let (s, e) = plans[i].src;
            if let Some(x) = ins.iter().find(|x| x.pos > s && x.pos < e) {
                return Err(Error::InvalidConfig(format!(
                    "internal error: plant {} inserted inside the source of plant {}",
                    x.plant + 1,
                    i + 1
                )));
            }
            let shift: usize = ins
                .iter()
                .filter(|x| x.pos <= s)
                .map(|x| x.text.len())
                .sum();
            src_spans[i] = (s + shift, e + shift);
            if out.get(s + shift..e + shift) != orig.get(s..e) {
                return Err(Error::InvalidConfig(format!(
                    "internal error: source of plant {} moved",
                    i + 1
                )));
            }
        }
        for x in ins.iter() {
            let (s, e) = dst_spans[x.plant];
            if out.get(s..e) != Some(plans[x.plant].copy.as_bytes()) {
                return Err(Error::InvalidConfig(format!(
                    "internal error: copy of plant {} misplaced",
                    x.plant + 1
                )));
            }
        }
        let path = out_path(out_dir, &doc.name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        fs::write(&path, &out).map_err(|e| Error::io(&path, e))?;
    }
    for (file, was_read) in files.iter().zip(read) {
        if !was_read {
            let path = out_path(out_dir, file.name());
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            fs::copy(file.path(), &path).map_err(|e| Error::io(file.path(), e))?;
        }
    }

    let mut truth = Vec::with_capacity(plans.len());
    for (i, p) in plans.iter().enumerate() {
        let src_name = &docs[p.src_doc].name;
        let dst_name = &docs[p.dst_doc].name;
        truth.push(Truth {
            id: i + 1,
            kind: p.kind,
            level: p.level,
            src_file: src_name.clone(),
            src_start: to_u32(src_spans[i].0, Path::new(src_name))?,
            src_end: to_u32(src_spans[i].1, Path::new(src_name))?,
            dst_file: dst_name.clone(),
            dst_start: to_u32(dst_spans[i].0, Path::new(dst_name))?,
            dst_end: to_u32(dst_spans[i].1, Path::new(dst_name))?,
            words: p.words,
        });
    }
    Ok(truth)
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// One row of a neardup CSV report, owned.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportRow {
    /// 1-based cluster number.
    pub cluster: usize,
    /// Paragraph or passage.
    pub kind: Kind,
    /// File name, as in the report.
    pub file: String,
    /// 1-based paragraph index.
    pub paragraph: u32,
    /// 1-based line.
    pub line: u32,
    /// Byte offset of the span.
    pub start: u32,
    /// End of the span (exclusive).
    pub end: u32,
    /// Tokens in the span.
    pub words: u32,
    /// Similarity to the kept row, as reported.
    pub similarity: f64,
    /// Whether this is the cluster's kept row.
    pub keep: bool,
    /// The span's text (invalid UTF-8 replaced).
    pub text: String,
}

/// Reads a neardup CSV report.
pub fn read_report(path: &Path) -> Result<Vec<ReportRow>> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    parse_report(std::io::BufReader::new(file), path)
}

/// Parses a neardup CSV report from `reader`; `name` is used in error messages.
pub fn parse_report(reader: impl Read, name: &Path) -> Result<Vec<ReportRow>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let bad = |line: u64, msg: String| {
        Error::InvalidConfig(format!("{}: line {line}: {msg}", name.display()))
    };
    let header = rdr
        .byte_headers()
        .map_err(|e| Error::io(name, std::io::Error::from(e)))?
        .clone();
    if header
        .iter()
        .ne(crate::report::HEADER.iter().map(|h| h.as_bytes()))
    {
        return Err(bad(
            1,
            format!("expected header {}", crate::report::HEADER.join(",")),
        ));
    }
    let mut out = Vec::new();
    for rec in rdr.byte_records() {
        let rec = rec.map_err(|e| Error::io(name, std::io::Error::from(e)))?;
        let line = rec.position().map_or(0, |p| p.line());
        let field = |i: usize| String::from_utf8_lossy(rec.get(i).unwrap_or(b"")).into_owned();
        let num = |i: usize| -> Result<u64> {
            field(i).parse::<u64>().map_err(|_| {
                bad(
                    line,
                    format!("{}: not a number: {:?}", crate::report::HEADER[i], field(i)),
                )
            })
        };
        let small = |i: usize| -> Result<u32> {
            u32::try_from(num(i)?)
                .map_err(|_| bad(line, format!("{}: too large", crate::report::HEADER[i])))
        };
        let kind = match field(1).as_str() {
            "paragraph" => Kind::Paragraph,
            "passage" => Kind::Passage,
            other => return Err(bad(line, format!("unknown kind {other:?}"))),
        };
        let keep = match field(9).as_str() {
            "true" => true,
            "false" => false,
            other => {
                return Err(bad(
                    line,
                    format!("keep: expected true or false, got {other:?}"),
                ))
            }
        };
        let similarity = field(8)
            .parse::<f64>()
            .map_err(|_| bad(line, format!("similarity: not a number: {:?}", field(8))))?;
        out.push(ReportRow {
            cluster: num(0)? as usize,
            kind,
            file: field(2),
            paragraph: small(3)?,
            line: small(4)?,
            start: small(5)?,
            end: small(6)?,
            words: small(7)?,
            similarity,
            keep,
            text: field(10),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Scoring
// ---------------------------------------------------------------------------

/// Thresholds of the precision check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreOptions {
    /// Paragraph Jaccard threshold (a paragraph row passes at `threshold × 0.999`).
    pub threshold: f64,
    /// Passage similarity threshold (a passage row passes at `passage_threshold − 1e-9`).
    pub passage_threshold: f64,
    /// Word n-gram size of the paragraph Jaccard.
    pub shingle_size: usize,
}

impl Default for ScoreOptions {
    fn default() -> ScoreOptions {
        ScoreOptions {
            threshold: 0.8,
            passage_threshold: 0.8,
            shingle_size: 5,
        }
    }
}

/// Recall of one kind at one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Kind of plant.
    pub kind: PlantKind,
    /// Edit level.
    pub level: Level,
    /// Copies planted.
    pub planted: usize,
    /// Copies found: one cluster holds a row overlapping the source and one overlapping
    /// the copy.
    pub found: usize,
    /// Copies found of which less than half the bytes are covered by rows of the
    /// clusters that also hold the source (found through a small part only).
    pub weak: usize,
}

impl Cell {
    /// found / planted (1 when nothing was planted).
    pub fn recall(&self) -> f64 {
        ratio(self.found, self.planted)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Rows checked and passed by the precision check, for one kind of row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Non-kept rows checked.
    pub checked: usize,
    /// Rows that passed.
    pub passed: usize,
}

/// Why a planted copy was not found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Miss {
    /// The plant.
    pub truth: Truth,
    /// Clusters with a row overlapping the source.
    pub src_clusters: Vec<usize>,
    /// Clusters with a row overlapping the copy.
    pub dst_clusters: Vec<usize>,
}

/// A reported row that failed the precision check.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedRow {
    /// Its cluster.
    pub cluster: usize,
    /// Paragraph or passage.
    pub kind: Kind,
    /// File.
    pub file: String,
    /// Span start.
    pub start: u32,
    /// Span end.
    pub end: u32,
    /// Similarity reported.
    pub reported: f64,
    /// Similarity recomputed (0 if the cluster has no kept row).
    pub recomputed: f64,
}

/// Result of [`score`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    /// Recall per kind and level, in [`PlantKind::ALL`] × [`Level::ALL`] order, for the
    /// combinations present in the truth.
    pub cells: Vec<Cell>,
    /// Precision check of paragraph rows.
    pub paragraph_rows: Checked,
    /// Precision check of passage rows.
    pub passage_rows: Checked,
    /// Copies not found.
    pub misses: Vec<Miss>,
    /// Rows that failed the precision check.
    pub failed: Vec<FailedRow>,
    /// Clusters in the report.
    pub clusters: usize,
    /// Rows in the report.
    pub rows: usize,
}

impl Score {
    /// All rows checked and passed.
    pub fn checked(&self) -> Checked {
        Checked {
            checked: self.paragraph_rows.checked + self.passage_rows.checked,
            passed: self.paragraph_rows.passed + self.passage_rows.passed,
        }
    }

    /// Passing rows / checked rows (1 when nothing was checked).
    pub fn precision(&self) -> f64 {
        let c = self.checked();
        ratio(c.passed, c.checked)
    }

    /// Recall of one level over all kinds: (found, planted).
    pub fn level_total(&self, level: Level) -> (usize, usize) {
        self.cells
            .iter()
            .filter(|c| c.level == level)
            .fold((0, 0), |(f, p), c| (f + c.found, p + c.planted))
    }

    /// The targets missed: recall per kind and level (≥ 0.99 exact and ortho, ≥ 0.97
    /// light, ≥ 0.90 medium) and precision ≥ 0.99. Empty when all are met.
    pub fn missed_targets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.cells {
            let target = c.level.recall_target();
            if c.planted > 0 && c.recall() < target {
                out.push(format!(
                    "recall {} {}: {}/{} = {:.3} < {target}",
                    c.kind.as_str(),
                    c.level.as_str(),
                    c.found,
                    c.planted,
                    c.recall()
                ));
            }
        }
        if self.precision() < PRECISION_TARGET {
            let c = self.checked();
            out.push(format!(
                "precision {}/{} = {:.4} < {PRECISION_TARGET}",
                c.passed,
                c.checked,
                self.precision()
            ));
        }
        out
    }

    /// The scores as Markdown: a kind × level recall table, precision with its counts,
    /// and the targets missed.
    pub fn markdown(&self) -> String {
        let levels: Vec<Level> = Level::ALL
            .into_iter()
            .filter(|l| self.cells.iter().any(|c| c.level == *l))
            .collect();
        let kinds: Vec<PlantKind> = PlantKind::ALL
            .into_iter()
            .filter(|k| self.cells.iter().any(|c| c.kind == *k))
            .collect();
        let fmt = |f: usize, p: usize| format!("{f}/{p} ({:.3})", ratio(f, p));
        let mut s = String::new();
        s.push_str("| kind |");
        for l in &levels {
            let _ = write!(s, " {} |", l.as_str());
        }
        s.push_str(" all |\n|---|");
        for _ in 0..=levels.len() {
            s.push_str("---:|");
        }
        s.push('\n');
        for k in &kinds {
            let _ = write!(s, "| {} |", k.as_str());
            let (mut tf, mut tp) = (0, 0);
            for l in &levels {
                match self.cells.iter().find(|c| c.kind == *k && c.level == *l) {
                    Some(c) => {
                        tf += c.found;
                        tp += c.planted;
                        let _ = write!(s, " {} |", fmt(c.found, c.planted));
                    }
                    None => s.push_str(" – |"),
                }
            }
            let _ = writeln!(s, " {} |", fmt(tf, tp));
        }
        s.push_str("| **all kinds** |");
        let (mut tf, mut tp) = (0, 0);
        for l in &levels {
            let (f, p) = self.level_total(*l);
            tf += f;
            tp += p;
            let _ = write!(s, " {} |", fmt(f, p));
        }
        let _ = writeln!(s, " {} |", fmt(tf, tp));
        s.push('\n');
        let c = self.checked();
        let _ = writeln!(
            s,
            "Precision: {}/{} = {:.4} (paragraph rows {}/{}, passage rows {}/{}); report: {} clusters, {} rows.",
            c.passed,
            c.checked,
            self.precision(),
            self.paragraph_rows.passed,
            self.paragraph_rows.checked,
            self.passage_rows.passed,
            self.passage_rows.checked,
            self.clusters,
            self.rows
        );
        let (mut none, mut src_only, mut dst_only, mut apart) = (0, 0, 0, 0);
        for m in &self.misses {
            match (m.src_clusters.is_empty(), m.dst_clusters.is_empty()) {
                (true, true) => none += 1,
                (false, true) => src_only += 1,
                (true, false) => dst_only += 1,
                (false, false) => apart += 1,
            }
        }
        let _ = writeln!(
            s,
            "Misses: {} (neither span reported {none}, only the source {src_only}, only the copy {dst_only}, both but in different clusters {apart}).",
            self.misses.len()
        );
        let weak: Vec<String> = self
            .cells
            .iter()
            .filter(|c| c.weak > 0)
            .map(|c| format!("{} {} {}", c.kind.as_str(), c.level.as_str(), c.weak))
            .collect();
        let _ = writeln!(
            s,
            "Found through less than half of the copy: {}{}.",
            self.cells.iter().map(|c| c.weak).sum::<usize>(),
            if weak.is_empty() {
                String::new()
            } else {
                format!(" ({})", weak.join(", "))
            }
        );
        let missed = self.missed_targets();
        if missed.is_empty() {
            s.push_str("Targets: all met.\n");
        } else {
            s.push_str("Targets missed:\n");
            for m in missed {
                let _ = writeln!(s, "- {m}");
            }
        }
        s
    }
}

/// Scores a report against the truth.
///
/// Recall: a plant is found when one cluster holds a row overlapping its source span
/// and a row overlapping its copy span (same file name, byte ranges intersect).
/// Precision: every non-kept row is re-checked against its cluster's kept row over
/// [`normalized_words`]: paragraph rows by Jaccard of word n-gram sets (≥ threshold ×
/// 0.999), passage rows by 2·LCS/(la+lb) with an exact LCS (≥ passage threshold − 1e-9).
/// Rows of a cluster without exactly one kept row fail.
pub fn score(truth: &[Truth], rows: &[ReportRow], options: &ScoreOptions) -> Score {
    let mut by_file: HashMap<&str, Vec<(u32, u32, usize)>> = HashMap::new();
    for r in rows {
        by_file
            .entry(r.file.as_str())
            .or_default()
            .push((r.start, r.end, r.cluster));
    }
    for v in by_file.values_mut() {
        v.sort_unstable();
    }
    let clusters_at = |file: &str, s: u32, e: u32| -> Vec<usize> {
        let mut out: Vec<usize> = by_file
            .get(file)
            .map(|v| {
                let upto = v.partition_point(|x| x.0 < e.max(s + 1));
                v[..upto]
                    .iter()
                    .filter(|x| x.1 > s && x.0 < e.max(s + 1))
                    .map(|x| x.2)
                    .collect()
            })
            .unwrap_or_default();
        out.sort_unstable();
        out.dedup();
        out
    };

    let mut cells: Vec<Cell> = Vec::new();
    for k in PlantKind::ALL {
        for l in Level::ALL {
            if truth.iter().any(|t| t.kind == k && t.level == l) {
                cells.push(Cell {
                    kind: k,
                    level: l,
                    planted: 0,
                    found: 0,
                    weak: 0,
                });
            }
        }
    }
    let mut misses = Vec::new();
    for t in truth {
        let src = clusters_at(&t.src_file, t.src_start, t.src_end);
        let dst = clusters_at(&t.dst_file, t.dst_start, t.dst_end);
        let found = src.iter().any(|c| dst.binary_search(c).is_ok());
        let weak = found && {
            let shared: Vec<usize> = src
                .iter()
                .copied()
                .filter(|c| dst.binary_search(c).is_ok())
                .collect();
            2 * covered(
                by_file.get(t.dst_file.as_str()),
                &shared,
                t.dst_start,
                t.dst_end,
            ) < (t.dst_end - t.dst_start) as usize
        };
        if let Some(cell) = cells
            .iter_mut()
            .find(|c| c.kind == t.kind && c.level == t.level)
        {
            cell.planted += 1;
            cell.found += usize::from(found);
            cell.weak += usize::from(weak);
        }
        if !found {
            misses.push(Miss {
                truth: t.clone(),
                src_clusters: src,
                dst_clusters: dst,
            });
        }
    }

    // Precision, one cluster at a time.
    let mut clusters: HashMap<usize, Vec<&ReportRow>> = HashMap::new();
    for r in rows {
        clusters.entry(r.cluster).or_default().push(r);
    }
    let mut ids: Vec<usize> = clusters.keys().copied().collect();
    ids.sort_unstable();
    let checked: Vec<(Kind, bool, Option<FailedRow>)> = ids
        .par_iter()
        .flat_map_iter(|id| {
            let members = &clusters[id];
            let kept: Vec<&&ReportRow> = members.iter().filter(|r| r.keep).collect();
            let kept = if kept.len() == 1 { Some(kept[0]) } else { None };
            let kept_words = kept.map(|k| words_of(&k.text));
            members
                .iter()
                .filter(|r| !r.keep || kept.is_none())
                .map(|r| {
                    let sim = match &kept_words {
                        None => 0.0,
                        Some(kw) => {
                            let w = words_of(&r.text);
                            match r.kind {
                                Kind::Paragraph => word_jaccard(kw, &w, options.shingle_size),
                                Kind::Passage => lcs_similarity(kw, &w),
                            }
                        }
                    };
                    let pass = kept.is_some()
                        && match r.kind {
                            Kind::Paragraph => sim >= options.threshold * 0.999,
                            Kind::Passage => sim >= options.passage_threshold - 1e-9,
                        };
                    let failed = (!pass).then(|| FailedRow {
                        cluster: r.cluster,
                        kind: r.kind,
                        file: r.file.clone(),
                        start: r.start,
                        end: r.end,
                        reported: r.similarity,
                        recomputed: sim,
                    });
                    (r.kind, pass, failed)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut score = Score {
        cells,
        misses,
        clusters: ids.len(),
        rows: rows.len(),
        ..Score::default()
    };
    for (kind, pass, failed) in checked {
        let c = match kind {
            Kind::Paragraph => &mut score.paragraph_rows,
            Kind::Passage => &mut score.passage_rows,
        };
        c.checked += 1;
        c.passed += usize::from(pass);
        score.failed.extend(failed);
    }
    score
}

/// Bytes of `s..e` covered by the rows (start, end, cluster) of the given clusters.
fn covered(rows: Option<&Vec<(u32, u32, usize)>>, clusters: &[usize], s: u32, e: u32) -> usize {
    let mut spans: Vec<(u32, u32)> = rows
        .map(|v| {
            v.iter()
                .filter(|r| clusters.contains(&r.2) && r.0 < e && r.1 > s)
                .map(|r| (r.0.max(s), r.1.min(e)))
                .collect()
        })
        .unwrap_or_default();
    spans.sort_unstable();
    let (mut total, mut cur) = (0usize, None::<(u32, u32)>);
    for (a, b) in spans {
        match cur {
            Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
            _ => {
                if let Some((ca, cb)) = cur {
                    total += (cb - ca) as usize;
                }
                cur = Some((a, b));
            }
        }
    }
    if let Some((ca, cb)) = cur {
        total += (cb - ca) as usize;
    }
    total
}

fn words_of(text: &str) -> Vec<String> {
    normalized_words(text).into_iter().map(|(w, _)| w).collect()
}

/// Jaccard of the word `k`-gram sets of two word sequences (a sequence shorter than `k`
/// but not empty is one n-gram of all its words, as in the detector).
pub fn word_jaccard(a: &[String], b: &[String], k: usize) -> f64 {
    let set = |w: &[String]| -> Vec<u64> {
        let hash = |g: &[String]| {
            let mut bytes = Vec::new();
            for s in g {
                bytes.extend_from_slice(s.as_bytes());
                bytes.push(0);
            }
            xxhash_rust::xxh3::xxh3_64(&bytes)
        };
        let mut v: Vec<u64> = if w.is_empty() {
            Vec::new()
        } else if w.len() < k.max(1) {
            vec![hash(w)]
        } else {
            w.windows(k.max(1)).map(hash).collect()
        };
        v.sort_unstable();
        v.dedup();
        v
    };
    jaccard(&set(a), &set(b))
}

/// 2·LCS/(la+lb) of two word sequences, with an exact LCS (1 when both are empty).
pub fn lcs_similarity(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    fn to_ids<'a>(words: &'a [String], ids: &mut HashMap<&'a str, u32>) -> Vec<u32> {
        let mut out = Vec::with_capacity(words.len());
        for w in words {
            let n = ids.len() as u32;
            out.push(*ids.entry(w.as_str()).or_insert(n));
        }
        out
    }
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let ia = to_ids(a, &mut ids);
    let ib = to_ids(b, &mut ids);
    2.0 * lcs_len(&ia, &ib) as f64 / (ia.len() + ib.len()) as f64
}

/// Length of the longest common subsequence, bit-parallel (Allison–Dix / Hyyrö):
/// O(la·lb/64) time.
pub fn lcs_len(a: &[u32], b: &[u32]) -> usize {
    let (a, b) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let m = a.len();
    if m == 0 {
        return 0;
    }
    let words = m.div_ceil(64);
    let mut peq: HashMap<u32, Vec<u64>> = HashMap::new();
    for (i, &s) in a.iter().enumerate() {
        peq.entry(s).or_insert_with(|| vec![0; words])[i / 64] |= 1u64 << (i % 64);
    }
    let mut v = vec![u64::MAX; words];
    for s in b {
        let Some(pm) = peq.get(s) else {
            continue;
        };
        let mut carry = 0u64;
        for k in 0..words {
            let old = v[k];
            let u = old & pm[k];
            let (s1, c1) = old.overflowing_add(u);
            let (s2, c2) = s1.overflowing_add(carry);
            carry = u64::from(c1 || c2);
            v[k] = s2 | (old & !pm[k]);
        }
    }
    let mut zeros = 0usize;
    for (k, &w) in v.iter().enumerate() {
        let bits = if k + 1 == words && m % 64 != 0 {
            (1u64 << (m % 64)) - 1
        } else {
            u64::MAX
        };
        zeros += (!w & bits).count_ones() as usize;
    }
    zeros
}

// ---------------------------------------------------------------------------
// Oracle
// ---------------------------------------------------------------------------

/// A pair of paragraphs at or above the threshold that the pipeline did not propose or
/// did not verify.
#[derive(Clone, Debug, PartialEq)]
pub struct MissedPair {
    /// First paragraph, as `file#paragraph` (1-based) or its dense index.
    pub a: String,
    /// Second paragraph.
    pub b: String,
    /// Exact Jaccard.
    pub jaccard: f64,
    /// Whether LSH proposed it (then the MinHash estimate rejected it).
    pub proposed: bool,
}

/// Result of [`oracle`]: the paragraph stage against exact all-pairs Jaccard.
///
/// Counts named `*_pairs` are of paragraph pairs, pairs of identical paragraphs (same
/// token sequence, an `exact` group) included; counts named `near_*` are of pairs of
/// distinct token sequences, each counted once however many paragraphs share them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OracleReport {
    /// Jaccard threshold.
    pub threshold: f64,
    /// Files read.
    pub files: usize,
    /// Paragraphs.
    pub paragraphs: usize,
    /// Paragraphs with at least `min_words` tokens.
    pub eligible: usize,
    /// Distinct token sequences among them.
    pub distinct: usize,
    /// Groups of ≥ 2 identical eligible paragraphs.
    pub exact_groups: usize,
    /// Pairs inside those groups.
    pub exact_pairs: u64,
    /// Whether the pipeline's exact groups are exactly these groups.
    pub exact_groups_agree: bool,
    /// Pairs of distinct sequences with Jaccard ≥ threshold (the oracle).
    pub near_pairs: usize,
    /// Of them, proposed by LSH.
    pub near_proposed: usize,
    /// Of them, verified by the pipeline.
    pub near_verified: usize,
    /// Paragraph pairs with Jaccard ≥ threshold (exact pairs + weighted near pairs).
    pub oracle_pairs: u64,
    /// Of them, proposed by LSH or inside an exact group.
    pub proposed_pairs: u64,
    /// Of them, in one union-find component (exact groups + verified pairs), before the
    /// star re-verification.
    pub component_pairs: u64,
    /// Of them, in one final paragraph cluster.
    pub cluster_pairs: u64,
    /// LSH candidate pairs (each verified exactly).
    pub candidates: usize,
    /// Candidates that passed verification.
    pub verified: usize,
    /// Verified pairs whose exact Jaccard is truly ≥ threshold.
    pub verified_true: usize,
    /// Verified pairs the oracle does not have.
    pub verified_not_in_oracle: usize,
    /// Some near pairs not verified (up to 20).
    pub missed: Vec<MissedPair>,
    /// Seconds spent on the exact all-pairs join.
    pub oracle_seconds: f64,
    /// Seconds spent on the pipeline's paragraph stage (pairs and clusters).
    pub pipeline_seconds: f64,
}

impl OracleReport {
    /// LSH candidate recall over paragraph pairs, pairs in an exact group counted as found.
    pub fn candidate_recall(&self) -> f64 {
        ratio64(self.proposed_pairs, self.oracle_pairs)
    }

    /// LSH candidate recall over pairs of distinct sequences only.
    pub fn near_candidate_recall(&self) -> f64 {
        ratio(self.near_proposed, self.near_pairs)
    }

    /// Share of oracle paragraph pairs that end in one final cluster.
    pub fn cluster_recall(&self) -> f64 {
        ratio64(self.cluster_pairs, self.oracle_pairs)
    }

    /// Whether every verified pair is truly at or above the threshold.
    pub fn all_verified_true(&self) -> bool {
        self.verified_true == self.verified
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let pct = |a: u64, b: u64| format!("{a}/{b} ({:.4})", ratio64(a, b));
        let _ = writeln!(s, "| measure | value |\n|---|---:|");
        let _ = writeln!(
            s,
            "| threshold (word 5-gram Jaccard) | {} |",
            self.threshold
        );
        let _ = writeln!(
            s,
            "| files / paragraphs / eligible / distinct | {} / {} / {} / {} |",
            self.files, self.paragraphs, self.eligible, self.distinct
        );
        let _ = writeln!(
            s,
            "| exact groups (pairs inside) | {} ({}); pipeline agrees: {} |",
            self.exact_groups, self.exact_pairs, self.exact_groups_agree
        );
        let _ = writeln!(
            s,
            "| oracle paragraph pairs ≥ threshold | {} |",
            self.oracle_pairs
        );
        let _ = writeln!(
            s,
            "| oracle pairs of distinct sequences ≥ threshold | {} |",
            self.near_pairs
        );
        let _ = writeln!(
            s,
            "| LSH candidate recall (exact-group pairs count as found) | {} |",
            pct(self.proposed_pairs, self.oracle_pairs)
        );
        let _ = writeln!(
            s,
            "| LSH candidate recall, distinct sequences only | {} |",
            pct(self.near_proposed as u64, self.near_pairs as u64)
        );
        let _ = writeln!(
            s,
            "| verified recall, distinct sequences only | {} |",
            pct(self.near_verified as u64, self.near_pairs as u64)
        );
        let _ = writeln!(s, "| candidates verified | {} |", self.candidates);
        let _ = writeln!(
            s,
            "| verified pairs truly ≥ threshold | {}/{} ({}) |",
            self.verified_true,
            self.verified,
            if self.all_verified_true() {
                "all"
            } else {
                "NOT ALL"
            }
        );
        let _ = writeln!(
            s,
            "| verified pairs missing from the oracle | {} |",
            self.verified_not_in_oracle
        );
        let _ = writeln!(
            s,
            "| pairs in one union-find component | {} |",
            pct(self.component_pairs, self.oracle_pairs)
        );
        let _ = writeln!(
            s,
            "| pairs in one final cluster (cluster recall) | {} |",
            pct(self.cluster_pairs, self.oracle_pairs)
        );
        let _ = writeln!(
            s,
            "| time: oracle / pipeline paragraph stage | {:.2} s / {:.2} s |",
            self.oracle_seconds, self.pipeline_seconds
        );
        if !self.missed.is_empty() {
            let _ = writeln!(
                s,
                "\nNear pairs not verified (first {}):",
                self.missed.len()
            );
            for m in &self.missed {
                let _ = writeln!(
                    s,
                    "- {} ~ {}: J = {:.4}, {}",
                    m.a,
                    m.b,
                    m.jaccard,
                    if m.proposed {
                        "proposed, rejected by the MinHash estimate"
                    } else {
                        "not proposed by LSH"
                    }
                );
            }
        }
        s
    }
}

fn ratio64(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// All pairs `(i, j, J)`, `i < j`, of `sets` (each sorted and deduplicated) whose
/// Jaccard is ≥ `threshold`. Exact: prefix filtering (tokens ordered rarest first; a
/// pair reaching the threshold shares a token in the first `|x| − ⌈t·|x|⌉ + 1` of
/// both), a size filter, and exact verification of every candidate.
pub fn all_pairs_jaccard(sets: &[Vec<u64>], threshold: f64) -> Vec<(u32, u32, f64)> {
    let t = threshold.clamp(f64::MIN_POSITIVE, 1.0);
    let mut df: HashMap<u64, u32> = HashMap::new();
    for s in sets {
        for &x in s {
            *df.entry(x).or_default() += 1;
        }
    }
    let prefix_len = |n: usize| -> usize {
        if n == 0 {
            return 0;
        }
        // Overlap needed: ⌈t·n⌉, lowered by one for floating-point safety.
        let need = ((t * n as f64).ceil() as usize).saturating_sub(1).max(1);
        (n - need + 1).min(n)
    };
    let ordered: Vec<Vec<u64>> = sets
        .par_iter()
        .map(|s| {
            let mut v: Vec<(u32, u64)> = s.iter().map(|&x| (df[&x], x)).collect();
            v.sort_unstable();
            v.into_iter().map(|(_, x)| x).collect()
        })
        .collect();
    // Rank: by size, then index. A pair is found from its higher-ranked member.
    let mut order: Vec<u32> = (0..sets.len() as u32).collect();
    order.sort_by_key(|&i| (sets[i as usize].len(), i));
    let mut rank = vec![0u32; sets.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    let mut index: HashMap<u64, Vec<u32>> = HashMap::new();
    for (i, o) in ordered.iter().enumerate() {
        for &x in &o[..prefix_len(o.len())] {
            index.entry(x).or_default().push(i as u32);
        }
    }
    let mut out: Vec<(u32, u32, f64)> = (0..sets.len())
        .into_par_iter()
        .flat_map_iter(|x| {
            let n = sets[x].len();
            let mut cands: Vec<u32> = Vec::new();
            if n > 0 {
                for tok in &ordered[x][..prefix_len(n)] {
                    if let Some(post) = index.get(tok) {
                        cands.extend(post.iter().copied().filter(|&y| {
                            rank[y as usize] < rank[x]
                                && sets[y as usize].len() as f64 >= t * n as f64 - 1e-9
                        }));
                    }
                }
            }
            cands.sort_unstable();
            cands.dedup();
            cands
                .into_iter()
                .filter_map(|y| {
                    let j = jaccard(&sets[x], &sets[y as usize]);
                    (j >= threshold).then(|| {
                        let (a, b) = if (x as u32) < y {
                            (x as u32, y)
                        } else {
                            (y, x as u32)
                        };
                        (a, b, j)
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_by_key(|&(a, b, _)| (a, b));
    out
}

/// Reads the corpus under `docs_dir` as `neardup scan` does and runs [`oracle_table`]
/// on it, naming paragraphs `file#paragraph`.
pub fn oracle(docs_dir: &Path, config: &Config) -> Result<OracleReport> {
    let (files, _) = list_files(&[docs_dir.to_path_buf()], config.hidden())?;
    let (docs, _) = read_all(&files, &ReadOptions::default());
    let analyses: Vec<DocAnalysis> = docs.par_iter().map(|d| analyze(d, config)).collect();
    let table = token_table(&analyses);
    let names: Vec<(usize, usize)> = analyses
        .iter()
        .enumerate()
        .flat_map(|(d, an)| (0..an.paragraphs.len()).map(move |k| (d, k)))
        .collect();
    let label = |p: u32| match names.get(p as usize) {
        Some(&(d, k)) => format!("{}#{}", docs[d].name, k + 1),
        None => format!("p{p}"),
    };
    let mut report = oracle_table(&table, config, &label);
    report.files = docs.len();
    Ok(report)
}

/// The oracle on a token table: exact all-pairs Jaccard of the eligible paragraphs'
/// shingle sets ([`paragraph_shingles`], the pipeline's own), compared with
/// [`paragraph_pairs`] and [`paragraph_clusters`]. `label` names a dense paragraph
/// index in the examples of missed pairs.
pub fn oracle_table(
    table: &TokenTable,
    config: &Config,
    label: &dyn Fn(u32) -> String,
) -> OracleReport {
    let t = config.threshold();
    let started = Instant::now();
    let eligible = eligible_paragraphs(table, config);
    // Groups of identical token sequences, members ascending.
    let mut group_of_seq: HashMap<&[crate::normalize::TokenHash], usize> = HashMap::new();
    let mut groups: Vec<Vec<u32>> = Vec::new();
    for &p in &eligible {
        let g = *group_of_seq
            .entry(table.get(p as usize))
            .or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
        groups[g].push(p);
    }
    let sets: Vec<Vec<u64>> = groups
        .par_iter()
        .map(|g| paragraph_shingles(table, config, g[0]))
        .collect();
    let near = all_pairs_jaccard(&sets, t);
    let oracle_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let pairs = paragraph_pairs(table, config);
    let clusters = paragraph_clusters(table, config, &mut Stats::default());
    let pipeline_seconds = started.elapsed().as_secs_f64();

    let mut pipe_rep: HashMap<u32, u32> = HashMap::new();
    for g in &pairs.exact {
        for &p in g {
            pipe_rep.insert(p, g[0]);
        }
    }
    let rep = |p: u32| pipe_rep.get(&p).copied().unwrap_or(p);
    let mut mine: Vec<&Vec<u32>> = groups.iter().filter(|g| g.len() > 1).collect();
    mine.sort();
    let mut theirs: Vec<&Vec<u32>> = pairs.exact.iter().collect();
    theirs.sort();
    let exact_groups_agree = mine == theirs;

    let mut candidates = pairs.candidates.clone();
    candidates.sort_unstable();
    let mut verified = pairs.verified.clone();
    verified.sort_unstable();
    let has = |v: &[(u32, u32)], a: u32, b: u32| v.binary_search(&(a.min(b), a.max(b))).is_ok();

    // Union-find components (before the star split) and final clusters.
    let mut uf = UnionFind::new(table.len());
    for g in &pairs.exact {
        for &p in &g[1..] {
            uf.union(g[0], p);
        }
    }
    for &(a, b) in &verified {
        uf.union(a, b);
    }
    let mut cluster_of = vec![u32::MAX; table.len()];
    for (c, members) in clusters.iter().enumerate() {
        for &(p, _) in members {
            cluster_of[p as usize] = c as u32;
        }
    }
    // Per group: how many members in each component and in each cluster.
    let tally = |keys: Vec<u32>| -> Vec<(u32, u64)> {
        let mut keys = keys;
        keys.sort_unstable();
        let mut out: Vec<(u32, u64)> = Vec::new();
        for k in keys {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 += 1,
                _ => out.push((k, 1)),
            }
        }
        out
    };
    let comp: Vec<Vec<(u32, u64)>> = groups
        .iter()
        .map(|g| tally(g.iter().map(|&p| uf.find(p)).collect()))
        .collect();
    let clus: Vec<Vec<(u32, u64)>> = groups
        .iter()
        .map(|g| {
            tally(
                g.iter()
                    .map(|&p| cluster_of[p as usize])
                    .filter(|&c| c != u32::MAX)
                    .collect(),
            )
        })
        .collect();
    let within =
        |v: &[(u32, u64)]| -> u64 { v.iter().map(|&(_, n)| n * n.saturating_sub(1) / 2).sum() };
    let across = |x: &[(u32, u64)], y: &[(u32, u64)]| -> u64 {
        x.iter()
            .map(|&(k, n)| y.iter().find(|e| e.0 == k).map_or(0, |e| e.1 * n))
            .sum()
    };

    let mut report = OracleReport {
        threshold: t,
        paragraphs: table.len(),
        eligible: eligible.len(),
        distinct: groups.len(),
        exact_groups_agree,
        candidates: pairs.candidates.len(),
        verified: pairs.verified.len(),
        oracle_seconds,
        pipeline_seconds,
        ..OracleReport::default()
    };
    for (g, members) in groups.iter().enumerate() {
        let n = members.len() as u64;
        if n > 1 {
            report.exact_groups += 1;
            let pairs_in = n * (n - 1) / 2;
            report.exact_pairs += pairs_in;
            report.oracle_pairs += pairs_in;
            report.proposed_pairs += pairs_in;
            report.component_pairs += within(&comp[g]);
            report.cluster_pairs += within(&clus[g]);
        }
    }
    let mut near_set: HashSet<(u32, u32)> = HashSet::with_capacity(near.len());
    for &(x, y, j) in &near {
        near_set.insert((x, y));
        let (gx, gy) = (&groups[x as usize], &groups[y as usize]);
        let w = gx.len() as u64 * gy.len() as u64;
        let (ra, rb) = (rep(gx[0]), rep(gy[0]));
        let proposed = ra == rb || has(&candidates, ra, rb);
        let passed = ra == rb || has(&verified, ra, rb);
        report.near_pairs += 1;
        report.oracle_pairs += w;
        if proposed {
            report.near_proposed += 1;
            report.proposed_pairs += w;
        }
        if passed {
            report.near_verified += 1;
        } else if report.missed.len() < 20 {
            report.missed.push(MissedPair {
                a: label(gx[0]),
                b: label(gy[0]),
                jaccard: j,
                proposed,
            });
        }
        report.component_pairs += across(&comp[x as usize], &comp[y as usize]);
        report.cluster_pairs += across(&clus[x as usize], &clus[y as usize]);
    }
    let group_index: HashMap<u32, u32> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, m)| m.iter().map(move |&p| (p, g as u32)))
        .collect();
    let checks: Vec<(bool, bool)> = verified
        .par_iter()
        .map(|&(a, b)| {
            let j = jaccard(
                &paragraph_shingles(table, config, a),
                &paragraph_shingles(table, config, b),
            );
            let in_oracle = match (group_index.get(&a), group_index.get(&b)) {
                (Some(&x), Some(&y)) => x == y || near_set.contains(&(x.min(y), x.max(y))),
                _ => false,
            };
            (j >= t, in_oracle)
        })
        .collect();
    report.verified_true = checks.iter().filter(|c| c.0).count();
    report.verified_not_in_oracle = checks.iter().filter(|c| !c.1).count();
    report
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let x = a.below(7);
            assert!(x < 7);
            b.below(7);
            let r = a.range(3, 5);
            assert!((3..=5).contains(&r));
            b.range(3, 5);
        }
        assert_eq!(Rng::new(1).below(0), 0);
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn words_by_script() {
        let t = "Hello, world 2018! قال الوزير؛ 東京は晴れ";
        let us = units(t);
        let words: Vec<&str> = us.iter().map(|u| &t[u.start..u.end]).collect();
        assert_eq!(
            words,
            vec![
                "Hello",
                "world",
                "2018",
                "قال",
                "الوزير",
                "東",
                "京",
                "は",
                "晴",
                "れ"
            ]
        );
        assert_eq!(us[0].script, Script::Latin);
        assert_eq!(us[2].script, Script::Other);
        assert_eq!(us[3].script, Script::Arabic);
        assert_eq!(us[5].script, Script::Cjk);
        // Harakat and tatweel stay inside the word.
        let t = "كَتَبَ الكتـــاب";
        assert_eq!(units(t).len(), 2);
        assert_eq!(dominant(&units("東京は晴れ today")), Script::Cjk);
        assert_eq!(dominant(&units("قال the وزير")), Script::Arabic);
    }

    fn vocab() -> Vocab {
        let mut v = Vocab::new();
        let mut r = Rng::new(0);
        for w in ["alpha", "beta", "gamma", "delta"] {
            v.add(Script::Latin, w, &mut r);
        }
        for w in ["كتاب", "مدرسة", "قلم"] {
            v.add(Script::Arabic, w, &mut r);
        }
        for w in ["山", "川", "木"] {
            v.add(Script::Cjk, w, &mut r);
        }
        v
    }

    #[test]
    fn ortho_changes_spelling_only() {
        let v = vocab();
        let cases = [
            (
                "أعلن الوزير أن المدرسة الجديدة ستفتح في 2019 إلى جانب مستشفى كبير",
                Script::Arabic,
            ),
            (
                "The \"Minister\" said the new school would open in 2019 next to a hospital",
                Script::Latin,
            ),
            (
                "東京都は2019年に新しい学校を開くと発表した、病院の隣に建てる予定です",
                Script::Cjk,
            ),
        ];
        for (text, script) in cases {
            for seed in 0..50 {
                let mut r = Rng::new(seed);
                let (copy, changed) = make_copy(text, true, Level::Ortho, script, &v, &mut r);
                assert!(changed);
                assert_ne!(copy, text, "seed {seed}");
                assert_eq!(units(&copy).len(), units(text).len(), "{copy}");
                if script == Script::Latin {
                    let strip = |s: &str| -> String {
                        s.chars()
                            .map(|c| strip_accent(c).unwrap_or(c))
                            .map(|c| match c {
                                '\u{201C}' | '\u{201D}' => '"',
                                c => c,
                            })
                            .collect::<String>()
                            .to_lowercase()
                    };
                    assert_eq!(strip(&copy), strip(text), "{copy}");
                }
                if script == Script::Arabic {
                    let fold = |s: &str| -> String {
                        s.chars()
                            .filter(|&c| c != '\u{0640}' && !is_mark(c))
                            .map(|c| match c {
                                'أ' | 'إ' | 'آ' => 'ا',
                                'ى' => 'ي',
                                'ة' => 'ه',
                                '\u{0660}'..='\u{0669}' => {
                                    char::from_u32(c as u32 - 0x0660 + '0' as u32).unwrap_or(c)
                                }
                                c => c,
                            })
                            .collect()
                    };
                    assert_eq!(fold(&copy), fold(text), "{copy}");
                }
                if script == Script::Cjk {
                    let fold = |s: &str| -> String {
                        s.chars()
                            .map(|c| match c {
                                '\u{FF01}'..='\u{FF5E}' => {
                                    char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
                                }
                                c => c,
                            })
                            .collect()
                    };
                    assert_eq!(fold(&copy), fold(text), "{copy}");
                }
            }
        }
    }

    #[test]
    fn word_edits_follow_the_level() {
        let v = vocab();
        let text: String = (0..45).map(|i| format!("w{i} ")).collect::<String>();
        let text = text.trim_end();
        for (level, per) in [(Level::Light, 15), (Level::Medium, 9)] {
            for seed in 0..20 {
                let mut r = Rng::new(seed);
                let (copy, _) = make_copy(text, false, level, Script::Latin, &v, &mut r);
                let a: Vec<String> = units(text)
                    .iter()
                    .map(|u| text[u.start..u.end].to_lowercase())
                    .collect();
                let b: Vec<String> = units(&copy)
                    .iter()
                    .map(|u| copy[u.start..u.end].to_lowercase())
                    .collect();
                let ids = |w: &[String], map: &mut HashMap<String, u32>| -> Vec<u32> {
                    w.iter()
                        .map(|s| {
                            let n = map.len() as u32;
                            *map.entry(s.clone()).or_insert(n)
                        })
                        .collect()
                };
                let mut map = HashMap::new();
                let (ia, ib) = (ids(&a, &mut map), ids(&b, &mut map));
                let lcs = lcs_len(&ia, &ib);
                let edits = (45 + per / 2) / per;
                // Substitutions and deletions each cost one word of the source, and
                // substitutions and insertions each add one word to the copy.
                assert!(45 - lcs <= edits, "{level:?} {copy}");
                assert!(b.len() - lcs <= edits, "{level:?} {copy}");
                assert!((45 - lcs) + (b.len() - lcs) >= 1, "{level:?} {copy}");
            }
        }
    }

    #[test]
    fn lcs_matches_dynamic_programming() {
        let naive = crate::lcs_by_table;
        let mut r = Rng::new(9);
        for _ in 0..300 {
            let la = r.below(150);
            let lb = r.below(150);
            let alphabet = r.range(1, 12) as u64;
            let a: Vec<u32> = (0..la).map(|_| r.below(alphabet as usize) as u32).collect();
            let b: Vec<u32> = (0..lb).map(|_| r.below(alphabet as usize) as u32).collect();
            assert_eq!(lcs_len(&a, &b), naive(&a, &b), "{a:?} {b:?}");
        }
    }

    #[test]
    fn all_pairs_matches_brute_force() {
        let mut r = Rng::new(5);
        for round in 0..20 {
            let base: Vec<Vec<u64>> = (0..10)
                .map(|_| (0..r.range(1, 40)).map(|_| r.below(200) as u64).collect())
                .collect();
            let mut sets: Vec<Vec<u64>> = Vec::new();
            for _ in 0..60 {
                let mut s = base[r.below(base.len())].clone();
                for _ in 0..r.below(6) {
                    if r.chance(0.5) && !s.is_empty() {
                        let i = r.below(s.len());
                        s.remove(i);
                    } else {
                        s.push(r.below(400) as u64);
                    }
                }
                s.sort_unstable();
                s.dedup();
                sets.push(s);
            }
            for t in [0.3, 0.5, 0.8, 0.9, 1.0] {
                let got = all_pairs_jaccard(&sets, t);
                let mut want = Vec::new();
                for i in 0..sets.len() {
                    for j in i + 1..sets.len() {
                        if sets[i].is_empty() || sets[j].is_empty() {
                            continue;
                        }
                        let js = jaccard(&sets[i], &sets[j]);
                        if js >= t {
                            want.push((i as u32, j as u32, js));
                        }
                    }
                }
                assert_eq!(got, want, "round {round} t {t}");
            }
        }
    }

    #[test]
    fn slots() {
        let t = "First one here. Second sentence follows! Mr. Smith";
        let s: Vec<usize> = sentence_slots(t).into_iter().map(|x| x.0).collect();
        assert_eq!(s, vec![15, 40]);
        let t = "最初の文です。次の文です。";
        assert_eq!(sentence_slots(t), vec![("最初の文です。".len(), false)]);
        let g = glue_slots("one two, three");
        assert_eq!(g, vec![(4, true)]);
        let g = glue_slots("東京。大阪");
        assert_eq!(g, vec![(3, false), (12, false)]);
    }

    fn write_corpus(dir: &Path) {
        let mut r = Rng::new(3);
        let latin = [
            "river", "stone", "market", "council", "budget", "school", "winter", "harbour",
            "engine", "garden", "letter", "station",
        ];
        let arabic = [
            "الوزير",
            "المدرسة",
            "أعلن",
            "إلى",
            "مستشفى",
            "الحكومة",
            "قال",
            "الجديدة",
            "في",
            "على",
            "اجتماع",
            "المدينة",
        ];
        let cjk: Vec<char> = "東京大阪学校病院政府会議新年市場電車公園手紙駅川山木花"
            .chars()
            .collect();
        for d in 0..12 {
            let mut text = String::new();
            for _ in 0..12 {
                let sentences = r.range(2, 4);
                let mut para = Vec::new();
                for _ in 0..sentences {
                    let n = r.range(8, 16);
                    let s = match d % 3 {
                        0 => {
                            let w: Vec<&str> =
                                (0..n).map(|_| latin[r.below(latin.len())]).collect();
                            format!("{}.", w.join(" "))
                        }
                        1 => {
                            let w: Vec<&str> =
                                (0..n).map(|_| arabic[r.below(arabic.len())]).collect();
                            format!("{}.", w.join(" "))
                        }
                        _ => {
                            let w: String = (0..n).map(|_| cjk[r.below(cjk.len())]).collect();
                            let v: String = (0..n).map(|_| cjk[r.below(cjk.len())]).collect();
                            format!("{w}{}{v}。", if r.chance(0.5) { "，" } else { "2019" })
                        }
                    };
                    para.push(s);
                }
                let sep = if d % 3 == 2 { "" } else { " " };
                text.push_str(&para.join(sep));
                text.push('\n');
            }
            fs::write(dir.join(format!("doc{d:02}.txt")), text).unwrap();
        }
    }

    #[test]
    fn planting_records_exact_spans() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir(&src).unwrap();
        write_corpus(&src);
        let options = PlantOptions {
            per_kind: 3,
            exclude_existing: false,
            ..PlantOptions::default()
        };
        let out1 = tmp.path().join("out1");
        let truth = plant(&src, &out1, 11, &options).unwrap();
        assert_eq!(truth.len(), 4 * 4 * 3);
        for t in &truth {
            let src_text = fs::read_to_string(out1.join(&t.src_file)).unwrap();
            let dst_text = fs::read_to_string(out1.join(&t.dst_file)).unwrap();
            let s = &src_text[t.src_start as usize..t.src_end as usize];
            let d = &dst_text[t.dst_start as usize..t.dst_end as usize];
            let script = dominant(&units(s));
            assert!(units(s).len() >= min_words(script), "{t:?}");
            assert_eq!(units(d).len(), t.words);
            assert!(t.words >= min_words(script), "{t:?}");
            if t.level == Level::Exact {
                assert_eq!(s, d);
            } else {
                assert_ne!(s, d, "{t:?}");
            }
            if t.kind == PlantKind::ParaSame {
                assert_eq!(t.src_file, t.dst_file);
            }
            if t.kind == PlantKind::ParaCross {
                assert_ne!(t.src_file, t.dst_file);
            }
            let before = dst_text[..t.dst_start as usize].chars().next_back();
            let after = dst_text[t.dst_end as usize..].chars().next();
            match t.kind {
                PlantKind::ParaCross | PlantKind::ParaSame => {
                    assert!(before.is_none() || before == Some('\n'));
                    assert_eq!(after, Some('\n'));
                }
                PlantKind::PassageSentence => {
                    assert!(matches!(after, Some('.' | '\u{3002}')), "{after:?}");
                }
                PlantKind::PassageGlued => {
                    let ok = |c: Option<char>| c.is_some_and(|c| c == ' ' || is_cjk(c));
                    assert!(ok(before) && ok(after), "{before:?} {after:?}");
                }
            }
        }
        // Deterministic for a seed; different for another.
        let out2 = tmp.path().join("out2");
        assert_eq!(plant(&src, &out2, 11, &options).unwrap(), truth);
        for t in &truth {
            assert_eq!(
                fs::read(out1.join(&t.dst_file)).unwrap(),
                fs::read(out2.join(&t.dst_file)).unwrap()
            );
        }
        let out3 = tmp.path().join("out3");
        assert_ne!(plant(&src, &out3, 12, &options).unwrap(), truth);
        // Refuses a non-empty output and one inside the source.
        assert!(plant(&src, &out1, 11, &options).is_err());
        assert!(plant(&src, &src.join("x"), 11, &options).is_err());
        // Paragraphs listed in an existing report are never sources or targets: the
        // first line of every file is marked, listed, and must hold no plant.
        let src2 = tmp.path().join("src2");
        fs::create_dir(&src2).unwrap();
        let report = tmp.path().join("existing.csv");
        let mut listed = crate::report::HEADER.join(",");
        listed.push('\n');
        for d in 0..12 {
            let name = format!("doc{d:02}.txt");
            let text = fs::read_to_string(src.join(&name)).unwrap();
            fs::write(src2.join(&name), format!("zzfirst{d} {text}")).unwrap();
            listed.push_str(&format!("1,paragraph,{name},1,1,0,1,1,1.000,true,x\n"));
        }
        fs::write(&report, listed).unwrap();
        let with_report = PlantOptions {
            exclude_existing: true,
            existing_report: Some(report),
            ..options.clone()
        };
        let out4 = tmp.path().join("out4");
        let truth4 = plant(&src2, &out4, 11, &with_report).unwrap();
        assert_eq!(truth4.len(), truth.len());
        for t in &truth4 {
            let mut spans = vec![(&t.src_file, t.src_start)];
            if !t.kind.is_paragraph() {
                spans.push((&t.dst_file, t.dst_start));
            }
            for (file, at) in spans {
                let text = fs::read_to_string(out4.join(file)).unwrap();
                let line_start = text[..at as usize].rfind('\n').map_or(0, |i| i + 1);
                let line = text[line_start..].lines().next().unwrap_or("");
                assert!(!line.contains("zzfirst"), "{t:?}");
            }
        }
        // The truth file round-trips.
        let path = tmp.path().join("truth.csv");
        write_truth(&path, &truth).unwrap();
        assert_eq!(read_truth(&path).unwrap(), truth);
    }

    fn row(
        cluster: usize,
        kind: Kind,
        file: &str,
        start: u32,
        end: u32,
        keep: bool,
        text: &str,
    ) -> ReportRow {
        ReportRow {
            cluster,
            kind,
            file: file.to_string(),
            paragraph: 1,
            line: 1,
            start,
            end,
            words: 0,
            similarity: 1.0,
            keep,
            text: text.to_string(),
        }
    }

    #[test]
    fn scoring_counts_recall_and_precision() {
        let t = |id, kind, src: (u32, u32), dst: (&str, u32, u32)| Truth {
            id,
            kind,
            level: Level::Exact,
            src_file: "a.txt".to_string(),
            src_start: src.0,
            src_end: src.1,
            dst_file: dst.0.to_string(),
            dst_start: dst.1,
            dst_end: dst.2,
            words: 12,
        };
        let truth = vec![
            t(1, PlantKind::ParaCross, (0, 100), ("b.txt", 50, 150)),
            t(2, PlantKind::ParaCross, (200, 300), ("b.txt", 400, 500)),
            t(3, PlantKind::PassageGlued, (600, 700), ("c.txt", 0, 100)),
        ];
        let para = "one two three four five six seven eight nine ten";
        let passage = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
        let rows = vec![
            row(1, Kind::Paragraph, "a.txt", 0, 100, true, para),
            row(1, Kind::Paragraph, "b.txt", 50, 150, false, para),
            // Plant 2: source and copy reported, but in different clusters.
            row(2, Kind::Paragraph, "a.txt", 200, 300, true, para),
            row(
                2,
                Kind::Paragraph,
                "z.txt",
                0,
                10,
                false,
                "one two three four five six seven eight nine eleven",
            ),
            row(3, Kind::Passage, "b.txt", 400, 500, true, passage),
            row(
                3,
                Kind::Passage,
                "y.txt",
                0,
                10,
                false,
                "alpha beta gamma delta epsilon zeta eta theta iota lambda",
            ),
            // Plant 3: overlapping spans only partially still count.
            row(4, Kind::Passage, "a.txt", 650, 800, true, passage),
            row(4, Kind::Passage, "c.txt", 99, 120, false, passage),
        ];
        let s = score(&truth, &rows, &ScoreOptions::default());
        assert_eq!(s.cells.len(), 2);
        assert_eq!((s.cells[0].found, s.cells[0].planted), (1, 2));
        assert_eq!((s.cells[1].found, s.cells[1].planted), (1, 1));
        // Plant 3's copy (0..100) is covered only over 99..100.
        assert_eq!((s.cells[0].weak, s.cells[1].weak), (0, 1));
        assert_eq!(s.misses.len(), 1);
        assert_eq!(s.misses[0].src_clusters, vec![2]);
        assert_eq!(s.misses[0].dst_clusters, vec![3]);
        // Paragraph row of cluster 2: 5-gram Jaccard 5/7 < 0.8 fails; passage row of
        // cluster 3: LCS 9 of 10, similarity 0.9 passes.
        assert_eq!(
            s.paragraph_rows,
            Checked {
                checked: 2,
                passed: 1
            }
        );
        assert_eq!(
            s.passage_rows,
            Checked {
                checked: 2,
                passed: 2
            }
        );
        assert_eq!(s.failed.len(), 1);
        assert_eq!(s.failed[0].cluster, 2);
        let md = s.markdown();
        assert!(md.contains("| para-cross | 1/2 (0.500) |"), "{md}");
        assert!(!s.missed_targets().is_empty());
    }

    #[test]
    fn report_parsing_checks_the_header() {
        let good = "cluster,kind,file,paragraph,line,start,end,words,similarity,keep,text\n\
                    1,paragraph,a.txt,1,1,0,5,1,1.000,true,\"he,llo\"\n";
        let rows = parse_report(good.as_bytes(), Path::new("r.csv")).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].text, "he,llo");
        assert!(parse_report("a,b\n1,2\n".as_bytes(), Path::new("r.csv")).is_err());
        let bad_kind = good.replace("paragraph,a", "para,a");
        assert!(parse_report(bad_kind.as_bytes(), Path::new("r.csv")).is_err());
    }
}
