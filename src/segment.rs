//! Paragraph and sentence segmentation that returns byte spans into the
//! original text.
//!
//! The input is the original file decoded as UTF-8 with every invalid byte
//! replaced by U+001A, so byte offsets equal the file's. Nothing is ever
//! modified: every function only returns offsets. All functions are linear in
//! the length of their input and never panic, whatever the input.
//!
//! "Whitespace" below means `char::is_whitespace` plus the invisible
//! characters U+FEFF (BOM / ZWNBSP), U+200B–U+200F (ZWSP, ZWNJ, ZWJ, LRM,
//! RLM), U+2060 (word joiner) and U+001A (replacement for an invalid byte).
//! Paragraph and sentence spans are trimmed of it at both ends.

use std::ops::Range;

/// How a file is split into paragraphs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ParagraphMode {
    /// One paragraph per line.
    #[default]
    Line,
    /// Blocks separated by blank lines (hard-wrapped text).
    Blank,
    /// `Blank` for files that look hard-wrapped, `Line` otherwise (see
    /// [`resolve_mode`] for the exact rule).
    Auto,
}

/// A paragraph: byte span [start, end) of its text (trimmed, never including a
/// line terminator at either end), and the 1-based line on which it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paragraph {
    /// Byte offset of the first non-whitespace character.
    pub start: u32,
    /// Byte offset just past the last non-whitespace character.
    pub end: u32,
    /// 1-based line number on which the paragraph starts.
    pub line: u32,
}

// ---------------------------------------------------------------------------
// Character classes
// ---------------------------------------------------------------------------

/// Whitespace for trimming purposes (see the module documentation).
fn is_ws(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{FEFF}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{1A}'
        )
}

/// Strong sentence terminators (Sentence_Break = STerm, main scripts).
fn is_strong_term(c: char) -> bool {
    matches!(
        c,
        '!' | '?'
            | '\u{0589}' // Armenian full stop
            | '\u{061D}'..='\u{061F}' // Arabic end of text marks, ؟
            | '\u{06D4}' // ۔ Urdu full stop
            | '\u{0700}'..='\u{0702}' // Syriac
            | '\u{0964}' | '\u{0965}' // Devanagari danda
            | '\u{104A}' | '\u{104B}' // Myanmar
            | '\u{1362}' | '\u{1367}' | '\u{1368}' // Ethiopic
            | '\u{1803}' | '\u{1809}' // Mongolian
            | '\u{17D4}' // Khmer
            | '\u{203C}' | '\u{203D}' // ‼ ‽
            | '\u{2047}'..='\u{2049}' // ⁇ ⁈ ⁉
            | '\u{3002}' // 。
            | '\u{FE12}' | '\u{FE56}' | '\u{FE57}' // vertical / small forms
            | '\u{FF01}' | '\u{FF1F}' | '\u{FF61}' // ！ ？ ｡
    )
}

/// Full-stop characters (Sentence_Break = ATerm).
fn is_dot(c: char) -> bool {
    matches!(c, '.' | '\u{2024}' | '\u{FE52}' | '\u{FF0E}')
}

/// Ellipsis characters: `…` and `‥` count as runs of periods.
fn is_ellipsis(c: char) -> bool {
    matches!(c, '\u{2025}' | '\u{2026}')
}

fn is_term_char(c: char) -> bool {
    is_strong_term(c) || is_dot(c) || is_ellipsis(c)
}

/// Closing quotes and brackets that stay with the sentence they close.
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '\u{00BB}' // »
            | '\u{201C}' // “ (closing quote in German „…“)
            | '\u{201D}' // ”
            | '\u{2019}' // ’
            | '\u{203A}' // ›
            | ')'
            | ']'
            | '}'
            | '\u{3009}' // 〉
            | '\u{300B}' // 》
            | '\u{300D}' // 」
            | '\u{300F}' // 』
            | '\u{3011}' // 】
            | '\u{3015}' // 〕
            | '\u{3017}' // 〗
            | '\u{301E}' // 〞
            | '\u{301F}' // 〟
            | '\u{FF02}' // ＂
            | '\u{FF07}' // ＇
            | '\u{FF09}' // ）
            | '\u{FF3D}' // ］
            | '\u{FF5D}' // ｝
    )
}

/// Apostrophes that may sit inside a word (`don't`).
fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}')
}

/// Characters after a terminator that continue the sentence (UAX #29 SB8a
/// SContinue, plus semicolons: rule 4 says they never end a sentence).
fn is_continue(c: char) -> bool {
    matches!(
        c,
        ',' | ';'
            | ':'
            | '\u{060C}' // ،
            | '\u{060D}' // ؍
            | '\u{061B}' // ؛
            | '\u{3001}' // 、
            | '\u{FF0C}' // ，
            | '\u{FF1A}' // ：
            | '\u{FF1B}' // ；
            | '\u{FF64}' // ､
    )
}

/// Combining marks (approximation without tables: the common Mn blocks) and
/// tatweel; they do not count as letters of a word.
fn is_mark(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{0483}'..='\u{0489}'
            | '\u{0591}'..='\u{05C7}'
            | '\u{0610}'..='\u{061A}'
            | '\u{0640}'
            | '\u{064B}'..='\u{065F}'
            | '\u{0670}'
            | '\u{06D6}'..='\u{06ED}'
            | '\u{08CA}'..='\u{08FF}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// Latin abbreviations (memo §5.2 rule 3c), compared case-insensitively.
const LATIN_ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "eg", "ie", "no", "nos", "fig",
    "vol", "pp", "inc", "ltd", "co", "corp", "dept", "gen", "gov", "sen", "rep", "mt", "ft",
    "approx", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
];

/// Multi-letter Arabic abbreviations (memo §5.2 rule 3c, alef-folded, marks
/// removed). The dotted ones of the memo's list (`ا.د ص.ب ج.م.ع ق.م ت.ب`)
/// end in a single letter and are covered by the one-letter rule.
const ARABIC_ABBREVIATIONS: &[&str] = &["جم", "سم", "كلم", "كج"];

// ---------------------------------------------------------------------------
// Small panic-free helpers
// ---------------------------------------------------------------------------

fn to_u32(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// The character starting at byte `i`, if `i` is a char boundary inside `s`.
fn char_at(s: &str, i: usize) -> Option<char> {
    s.get(i..).and_then(|t| t.chars().next())
}

/// Trims `text[start..end]`; `None` if it is whitespace only (or not a valid
/// range).
fn trim_span(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let s = text.get(start..end)?;
    let rest = s.trim_start_matches(is_ws);
    let a = start + (s.len() - rest.len());
    let trimmed = rest.trim_end_matches(is_ws);
    if trimmed.is_empty() {
        None
    } else {
        Some((a, a + trimmed.len()))
    }
}

// ---------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------

/// One physical line: content `[start, end)` without its terminator.
#[derive(Clone, Copy, Debug)]
struct LineSpan {
    start: usize,
    end: usize,
}

/// Iterates over lines; `\n`, `\r\n` and a lone `\r` end a line. A text that
/// ends with a terminator has a final empty line (so `""` has one line).
struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            bytes: text.as_bytes(),
            pos: 0,
            done: false,
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = LineSpan;

    fn next(&mut self) -> Option<LineSpan> {
        if self.done {
            return None;
        }
        let start = self.pos;
        let rest = self.bytes.get(start..).unwrap_or(&[]);
        match memchr::memchr2(b'\n', b'\r', rest) {
            Some(k) => {
                let end = start + k;
                let term_len = if rest.get(k) == Some(&b'\r') && rest.get(k + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                self.pos = end + term_len;
                Some(LineSpan { start, end })
            }
            None => {
                self.done = true;
                Some(LineSpan {
                    start,
                    end: self.bytes.len(),
                })
            }
        }
    }
}

/// Byte offsets at which each line starts (line 1 starts at 0), for mapping an
/// offset to its line.
///
/// `\n`, `\r\n` and a lone `\r` each end a line (the same rule as
/// [`paragraphs`]). If the text ends with a line terminator, the (empty) line
/// after it is included, so the result always has at least one element.
pub fn line_starts(text: &str) -> Vec<u32> {
    Lines::new(text).map(|l| to_u32(l.start)).collect()
}

/// Number of line breaks (`\n`, `\r\n` or a lone `\r`, as [`line_starts`] counts
/// them) in `bytes`: the line of an offset is the line of a start before it plus the
/// breaks in between.
pub fn line_breaks(bytes: &[u8]) -> u32 {
    // Found with memchr: a paragraph's text mostly has none.
    memchr::memchr2_iter(b'\n', b'\r', bytes)
        .filter(|&i| bytes[i] == b'\n' || bytes.get(i + 1) != Some(&b'\n'))
        .count() as u32
}

/// 1-based line number of `offset`, given `line_starts(text)`.
///
/// Offsets inside a line terminator belong to the line it ends; offsets past
/// the end of the text belong to the last line. Returns 1 for an empty slice.
pub fn line_of(line_starts: &[u32], offset: u32) -> u32 {
    let n = line_starts.partition_point(|&s| s <= offset);
    to_u32(n.max(1))
}

// ---------------------------------------------------------------------------
// Paragraphs
// ---------------------------------------------------------------------------

/// Splits `text` into paragraphs in file order. Lines whose content is only
/// whitespace are not paragraphs.
///
/// * `Line`: every non-blank line is one paragraph.
/// * `Blank`: a paragraph is a maximal run of non-blank lines; its span runs
///   from the first non-whitespace byte of its first line to the last
///   non-whitespace byte of its last line (inner line terminators included).
/// * `Auto`: resolved with [`resolve_mode`] first.
///
/// A leading BOM is never part of a paragraph (it is trimmed like any other
/// whitespace, see the module documentation).
///
/// A paragraph longer than [`MAX_PARAGRAPH_BYTES`] is cut into pieces, each a paragraph
/// of its own (see there).
pub fn paragraphs(text: &str, mode: ParagraphMode) -> Vec<Paragraph> {
    paragraphs_within(text, mode, MAX_PARAGRAPH_BYTES)
}

/// Longest paragraph, in bytes, that [`paragraphs`] returns whole: 64 KiB, about ten
/// thousand English words.
///
/// A longer one (a file or JSON Lines text with no line break, a hard-wrapped block
/// with no blank line) is cut into pieces of at most this many bytes: whole sentences
/// ([`sentences`]) as many as fit, and a sentence longer than the limit at the last
/// whitespace in the second half of the limit (at the last char boundary before it
/// when it has none there, not before a combining mark unless all of them are). Each
/// piece is a paragraph: it is sketched, aligned, reported and removed as one, and
/// numbered in turn.
///
/// The pieces bound what one paragraph costs: a paragraph pair gets a bounded number
/// of seed extensions (`passage::MAX_EXTENSIONS_PER_PAIR`), so a 30 MB line held as
/// one paragraph had almost all of its repeats unreported. And a paragraph has at most
/// 65,536 tokens, so a seed match holds its positions in 16 bits
/// (`passage::SeedMatch`).
pub const MAX_PARAGRAPH_BYTES: usize = 1 << 16;

/// [`paragraphs`], with paragraphs cut into pieces of at most `max_bytes` (at least 64).
fn paragraphs_within(text: &str, mode: ParagraphMode, max_bytes: usize) -> Vec<Paragraph> {
    let max_bytes = max_bytes.max(64);
    let blank_mode = resolve_mode(text, mode) == ParagraphMode::Blank;
    let mut out = Vec::new();
    let mut current: Option<Paragraph> = None;
    for (idx, line) in Lines::new(text).enumerate() {
        match trim_span(text, line.start, line.end) {
            None => {
                if let Some(p) = current.take() {
                    push_cut(text, p, max_bytes, &mut out);
                }
            }
            Some((a, b)) => {
                let para = Paragraph {
                    start: to_u32(a),
                    end: to_u32(b),
                    line: to_u32(idx.saturating_add(1)),
                };
                if !blank_mode {
                    push_cut(text, para, max_bytes, &mut out);
                } else if let Some(p) = current.as_mut() {
                    p.end = para.end;
                } else {
                    current = Some(para);
                }
            }
        }
    }
    if let Some(p) = current {
        push_cut(text, p, max_bytes, &mut out);
    }
    out
}

/// Pushes paragraph `p` of `text`, cut into pieces of at most `max_bytes` if it is
/// longer (see [`MAX_PARAGRAPH_BYTES`]). Linear in the paragraph's length.
fn push_cut(text: &str, p: Paragraph, max_bytes: usize, out: &mut Vec<Paragraph>) {
    let (start, end) = (p.start as usize, p.end as usize);
    if end.saturating_sub(start) <= max_bytes {
        out.push(p);
        return;
    }
    // Line breaks are counted from the paragraph's start as the pieces move on.
    let (mut line, mut counted) = (p.line, start);
    let mut emit = |a: usize, b: usize, out: &mut Vec<Paragraph>| {
        let Some((a, b)) = trim_span(text, a, b) else {
            return;
        };
        line = line.saturating_add(line_breaks(text.as_bytes().get(counted..a).unwrap_or(&[])));
        counted = a;
        out.push(Paragraph {
            start: to_u32(a),
            end: to_u32(b),
            line,
        });
    };
    let mut piece: Option<Range<usize>> = None;
    for sentence in sentences(text, start, end) {
        let mut rest = sentence;
        while !rest.is_empty() {
            let part = rest.start..cut_point(text, rest.clone(), max_bytes);
            rest = part.end..rest.end;
            piece = match piece {
                Some(open) if part.end - open.start <= max_bytes => Some(open.start..part.end),
                Some(open) => {
                    emit(open.start, open.end, out);
                    Some(part)
                }
                None => Some(part),
            };
        }
    }
    if let Some(open) = piece {
        emit(open.start, open.end, out);
    }
}

/// Where the first piece of `text[span]` ends: its end if it is at most `max_bytes`
/// long, else the start of the last whitespace char in the second half of the first
/// `max_bytes`, else the last char boundary there that is not before a combining
/// mark, else the last char boundary there. Always past `span.start` when the span is
/// not empty, and never more than `max_bytes` past it when `max_bytes` is 8 or more.
fn cut_point(text: &str, span: Range<usize>, max_bytes: usize) -> usize {
    if span.end - span.start <= max_bytes {
        return span.end;
    }
    let limit = span.start + max_bytes;
    let half = span.start + max_bytes / 2;
    // The window's ends, moved inward to char boundaries (at most three bytes each).
    let base = (half..=limit).find(|&i| text.is_char_boundary(i));
    let window = base.and_then(|a| {
        let b = (a..=limit).rev().find(|&i| text.is_char_boundary(i))?;
        text.get(a..b)
    });
    let (Some(base), Some(window)) = (base, window) else {
        return span.end;
    };
    if let Some((i, _)) = window.char_indices().rev().find(|&(_, c)| is_ws(c)) {
        if base + i > span.start {
            return base + i;
        }
    }
    let mut boundaries = window.char_indices().rev().map(|(i, c)| (base + i, c));
    let last = boundaries.clone().next().map(|(i, _)| i);
    boundaries
        .find(|&(i, c)| i > span.start && !is_mark(c))
        .map(|(i, _)| i)
        .or(last.filter(|&i| i > span.start))
        .unwrap_or(span.end)
}

/// The mode `Auto` resolves to for this text (`Line` and `Blank` are returned
/// unchanged).
///
/// `Auto` becomes `Blank` when the file looks hard-wrapped, i.e. all of:
/// 1. at least one blank line separates blocks (there are ≥ 2 maximal runs of
///    non-blank lines);
/// 2. at least half of the non-blank lines sit in blocks of ≥ 2 lines;
/// 3. most lines are short: at most 10 % of the non-blank lines are longer
///    than 100 chars after trimming (equivalently, the nearest-rank 90th
///    percentile of trimmed line length is ≤ 100 chars).
///
/// Otherwise (including for an empty file) it becomes `Line`.
pub fn resolve_mode(text: &str, mode: ParagraphMode) -> ParagraphMode {
    if mode != ParagraphMode::Auto {
        return mode;
    }
    let mut counter = ModeCounter::default();
    counter.feed(text);
    counter.finish()
}

/// [`resolve_mode`]'s `Auto` rule over a text given in pieces, in order: a text file read
/// a block at a time (see [`paragraph_breaks`]). Pieces may end anywhere between
/// characters, even between the `\r` and `\n` of a line break; the result is the same as
/// for the whole text.
#[derive(Clone, Debug, Default)]
pub struct ModeCounter {
    /// Maximal runs of non-blank lines closed so far.
    blocks: usize,
    /// Non-blank lines in the open run.
    block_len: usize,
    /// Non-blank lines so far.
    non_blank: usize,
    /// Non-blank lines in closed runs of two or more.
    in_multi: usize,
    /// Non-blank lines longer than [`LONG_LINE_CHARS`] after trimming.
    long: usize,
    /// The line being read: whether it has a non-whitespace char so far.
    nonblank: bool,
    /// Chars from its first non-whitespace char to its last so far (counted up to
    /// [`LONG_LINE_CHARS`] + 1).
    chars: usize,
    /// Whitespace chars after its last non-whitespace char so far.
    trailing: usize,
    /// The last piece ended with `\r`: a `\n` starting the next one ends no line.
    after_cr: bool,
}

/// A trimmed line longer than this, in chars, is long for [`resolve_mode`].
const LONG_LINE_CHARS: usize = 100;

impl ModeCounter {
    /// Counts the next piece of the text.
    pub fn feed(&mut self, piece: &str) {
        let mut rest = piece;
        if rest.is_empty() {
            return;
        }
        if std::mem::take(&mut self.after_cr) {
            rest = rest.strip_prefix('\n').unwrap_or(rest);
        }
        while let Some(k) = memchr::memchr2(b'\n', b'\r', rest.as_bytes()) {
            self.segment(&rest[..k]);
            self.end_line();
            let cr = rest.as_bytes()[k] == b'\r';
            let after = &rest[k + 1..];
            rest = match after.strip_prefix('\n') {
                Some(tail) if cr => tail,
                _ => {
                    // A `\r` at the end of the piece may be the first half of a `\r\n`.
                    self.after_cr = cr && after.is_empty();
                    after
                }
            };
        }
        self.segment(rest);
    }

    /// Counts part of a line, without its terminator.
    fn segment(&mut self, s: &str) {
        if s.is_empty() || self.chars > LONG_LINE_CHARS {
            return;
        }
        let rest = s.trim_start_matches(is_ws);
        let lead = s.len() - rest.len();
        let core = rest.trim_end_matches(is_ws);
        if core.is_empty() {
            if self.nonblank {
                self.trailing = self.trailing.saturating_add(s.chars().count());
            }
            return;
        }
        let core_chars = core.chars().count();
        self.chars = if self.nonblank {
            let between = self.trailing + s[..lead].chars().count();
            self.chars
                .saturating_add(between)
                .saturating_add(core_chars)
        } else {
            core_chars
        };
        self.nonblank = true;
        self.trailing = rest[core.len()..].chars().count();
    }

    /// Ends the line being read.
    fn end_line(&mut self) {
        if self.nonblank {
            self.non_blank += 1;
            self.block_len += 1;
            if self.chars > LONG_LINE_CHARS {
                self.long += 1;
            }
        } else {
            self.close_block();
        }
        self.nonblank = false;
        self.chars = 0;
        self.trailing = 0;
    }

    fn close_block(&mut self) {
        if self.block_len > 0 {
            self.blocks += 1;
            if self.block_len >= 2 {
                self.in_multi += self.block_len;
            }
            self.block_len = 0;
        }
    }

    /// The mode `Auto` resolves to for the whole text fed.
    pub fn finish(mut self) -> ParagraphMode {
        self.end_line();
        self.close_block();
        let hard_wrapped = self.blocks >= 2
            && self.in_multi.saturating_mul(2) >= self.non_blank
            && self.long.saturating_mul(10) <= self.non_blank;
        if hard_wrapped {
            ParagraphMode::Blank
        } else {
            ParagraphMode::Line
        }
    }
}

/// The paragraph breaks in `bytes`, the start of a text (a file's original bytes,
/// invalid UTF-8 included), in order: the points after which the text can be split
/// into paragraphs on its own, giving the same paragraphs as the whole (their offsets
/// and lines moved by what comes before, see [`line_breaks`]).
///
/// A break is the end of a line terminator in `Line` mode, the end of a blank line's
/// terminator in `Blank` mode (`mode` is resolved already: `Auto` counts as `Line`). A
/// `\r` that ends `bytes` is only a break when `complete` says nothing follows it.
pub fn paragraph_breaks(
    bytes: &[u8],
    mode: ParagraphMode,
    complete: bool,
) -> impl Iterator<Item = usize> + '_ {
    let blank_mode = mode == ParagraphMode::Blank;
    let mut pos = 0;
    std::iter::from_fn(move || {
        while let Some(k) = bytes
            .get(pos..)
            .and_then(|b| memchr::memchr2(b'\n', b'\r', b))
        {
            let t = pos + k;
            let end = match (bytes[t], bytes.get(t + 1)) {
                (b'\r', Some(b'\n')) => t + 2,
                (b'\r', None) if !complete => return None,
                _ => t + 1,
            };
            let line = pos..t;
            pos = end;
            if !blank_mode || is_blank_bytes(&bytes[line]) {
                return Some(end);
            }
        }
        None
    })
}

/// Whether a line's original bytes are all whitespace once decoded (an invalid byte
/// decodes to U+001A, which is).
fn is_blank_bytes(line: &[u8]) -> bool {
    line.utf8_chunks().all(|c| c.valid().chars().all(is_ws))
}

// ---------------------------------------------------------------------------
// Sentences
// ---------------------------------------------------------------------------

/// Sentence spans inside text[start..end] (absolute offsets), in order, trimmed
/// of whitespace; together they cover every non-whitespace byte of the range.
///
/// Rules (research memo `normalization.md` §5.2 rules 1–6, applied to the raw
/// text; rule 7, the run-on fallback, is deliberately not applied, so a long
/// sentence without a terminator stays one sentence):
///
/// * Hard break at a blank line (a whitespace run containing ≥ 2 line
///   terminators, or a U+2029 PARAGRAPH SEPARATOR). A single line break is
///   treated as a space. This departs from memo rule 1 (which breaks at every
///   `\n`): inside one paragraph of hard-wrapped text a single `\n` is just a
///   wrapped line.
/// * A maximal run of terminator characters (`. ! ? ؟ ۔ 。 ！ ？ … ‥` and other
///   STerm characters) is one terminator. A run containing a strong
///   terminator (anything but periods/ellipses) ends the sentence, unless it
///   is glued to a lowercase letter (`Yahoo!mail`) or the next significant
///   character is a comma, colon or semicolon (`"Why?", he asked`).
/// * A run of only periods ends a sentence only if it is a single `.`, and
///   not when: a digit follows it directly (`3.5`, `v.2`); the word before
///   it is an abbreviation (one letter of any script such as `د.` `J.`, which
///   also covers dotted initialisms `U.S.` `p.m.` `ق.م.`, or a listed Latin
///   or Arabic abbreviation); the next character, skipping whitespace and
///   closing quotes/brackets, is a lowercase letter or a comma/colon/
///   semicolon; or, when a letter follows with no space (`example.com`,
///   `الاجتماع.وأضاف`), the word before has fewer than 2 letters, the letter
///   is lowercase, or it starts a ≤ 2-letter dotted part (`Ph.D.`). `..`,
///   `...`, `…`, `‥` never end a sentence (they are used like `:`).
/// * Closing quotes/brackets right after a terminator stay with its sentence.
/// * `:` `;` `,` `،` `؛` and dashes never end a sentence.
/// * A piece without any letter or digit is appended to the previous
///   sentence (or, at the start, prepended to the next one).
///
/// `start`/`end` are clamped to the text and moved inward to char boundaries;
/// an empty or invalid range gives no sentences.
pub fn sentences(text: &str, start: usize, end: usize) -> Vec<Range<usize>> {
    let mut end = end.min(text.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut start = start.min(end);
    while start < end && !text.is_char_boundary(start) {
        start += 1;
    }
    let s = match text.get(start..end) {
        Some(s) => s,
        None => return Vec::new(),
    };

    let mut cuts = find_cuts(s);
    cuts.push(s.len());

    let mut out: Vec<Range<usize>> = Vec::new();
    let mut pending: Option<Range<usize>> = None;
    let mut prev = 0usize;
    for cut in cuts {
        let (a, b) = match trim_span(s, prev, cut) {
            Some(span) => span,
            None => {
                prev = prev.max(cut);
                continue;
            }
        };
        prev = prev.max(cut);
        let has_word = s
            .get(a..b)
            .is_some_and(|p| p.chars().any(char::is_alphanumeric));
        if !has_word {
            if let Some(last) = out.last_mut() {
                last.end = b;
            } else {
                let from = pending.as_ref().map_or(a, |p| p.start);
                pending = Some(from..b);
            }
        } else {
            let from = pending.take().map_or(a, |p| p.start);
            out.push(from..b);
        }
    }
    if let Some(p) = pending {
        out.push(p);
    }
    for r in &mut out {
        *r = (r.start + start)..(r.end + start);
    }
    out
}

/// Local byte offsets (non-decreasing) at which `s` is cut into sentences.
fn find_cuts(s: &str) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut i = 0usize;
    while let Some(c) = char_at(s, i) {
        if is_ws(c) {
            // Whitespace run: hard break if it holds a blank line.
            let run_start = i;
            let mut breaks = 0usize;
            let mut prev_cr = false;
            while let Some(w) = char_at(s, i) {
                if !is_ws(w) {
                    break;
                }
                match w {
                    '\r' => breaks += 1,
                    '\n' if !prev_cr => breaks += 1,
                    '\u{2029}' => breaks += 2,
                    _ => {}
                }
                prev_cr = w == '\r';
                i += w.len_utf8();
            }
            if breaks >= 2 && run_start > 0 && i < s.len() {
                cuts.push(run_start);
            }
            continue;
        }
        if is_term_char(c) {
            let run_start = i;
            let mut strong = false;
            let mut dots = 0usize;
            let mut ellipsis = false;
            while let Some(t) = char_at(s, i) {
                if is_strong_term(t) {
                    strong = true;
                } else if is_dot(t) {
                    dots += 1;
                } else if is_ellipsis(t) {
                    ellipsis = true;
                } else {
                    break;
                }
                i += t.len_utf8();
            }
            let breaks = if strong {
                strong_breaks(s, i)
            } else if dots == 1 && !ellipsis {
                period_breaks(s, run_start, i)
            } else {
                false
            };
            if breaks {
                let mut k = i;
                while let Some(q) = char_at(s, k) {
                    if !is_closer(q) {
                        break;
                    }
                    k += q.len_utf8();
                }
                cuts.push(k);
            }
            continue;
        }
        i += c.len_utf8();
    }
    cuts
}

/// The first character at or after `i` that is neither whitespace nor a
/// closing quote/bracket.
fn next_significant(s: &str, mut i: usize) -> Option<char> {
    while let Some(c) = char_at(s, i) {
        if !(is_ws(c) || is_closer(c)) {
            return Some(c);
        }
        i += c.len_utf8();
    }
    None
}

/// Whether a run of terminators containing a strong one, ending at `after`,
/// ends a sentence.
fn strong_breaks(s: &str, after: usize) -> bool {
    if char_at(s, after).is_some_and(char::is_lowercase) {
        return false;
    }
    !next_significant(s, after).is_some_and(is_continue)
}

/// Whether the single period `s[dot..after]` ends a sentence (rule 3).
fn period_breaks(s: &str, dot: usize, after: usize) -> bool {
    let next = char_at(s, after);
    // 3a / SB6: a digit right after the period (`3.5`, `2.0`, `v.2`).
    if next.is_some_and(char::is_numeric) {
        return false;
    }
    let (word_start, letters) = word_before(s, dot);
    // 3c: abbreviations.
    if is_abbreviation(s.get(word_start..dot).unwrap_or(""), letters) {
        return false;
    }
    if let Some(c) = next.filter(|c| c.is_alphabetic()) {
        // 3e: glued text.
        return letters >= 2 && !c.is_lowercase() && !starts_dotted_part(s, after);
    }
    // 3d (and SB8a): lowercase letter or continuation punctuation next.
    match next_significant(s, after) {
        None => true,
        Some(c) => !(c.is_lowercase() || is_continue(c)),
    }
}

/// Start offset and letter count of the word ending at `end`: a maximal run
/// of alphabetic characters, possibly with inner apostrophes (`don't`).
fn word_before(s: &str, end: usize) -> (usize, usize) {
    let head = s.get(..end).unwrap_or("");
    let mut start = end;
    let mut letters = 0usize;
    let mut chars = head.char_indices().rev().peekable();
    while let Some((idx, c)) = chars.next() {
        if c.is_alphabetic() {
            if !is_mark(c) {
                letters += 1;
            }
            start = idx;
        } else if is_apostrophe(c)
            && start != end
            && start == idx + c.len_utf8()
            && chars.peek().is_some_and(|&(_, p)| p.is_alphabetic())
        {
            start = idx;
        } else {
            break;
        }
    }
    (start, letters)
}

/// Whether the word before a period is an abbreviation (rule 3c).
fn is_abbreviation(word: &str, letters: usize) -> bool {
    if letters == 1 {
        return true;
    }
    if letters == 0 || letters > 6 {
        return false;
    }
    if word.is_ascii() {
        let lower = word.to_ascii_lowercase();
        return LATIN_ABBREVIATIONS.contains(&lower.as_str());
    }
    let folded: String = word
        .chars()
        .filter(|&c| !is_mark(c))
        .map(|c| match c {
            '\u{0622}' | '\u{0623}' | '\u{0625}' | '\u{0671}' => '\u{0627}',
            other => other,
        })
        .collect();
    ARABIC_ABBREVIATIONS.contains(&folded.as_str())
}

/// Whether `s[i..]` starts with at most two letters followed by a period, as
/// in the `D.` of `Ph.D.`.
fn starts_dotted_part(s: &str, i: usize) -> bool {
    let rest = s.get(i..).unwrap_or("");
    let mut letters = 0usize;
    for c in rest.chars() {
        if c.is_alphabetic() {
            if !is_mark(c) {
                letters += 1;
            }
            if letters > 2 {
                return false;
            }
        } else {
            return letters > 0 && is_dot(c);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks what `paragraphs_within(text, mode, max)` must give whatever the text:
    /// pieces in order, none longer than `max`, trimmed, each on the line it starts on,
    /// and together the non-whitespace of the uncut paragraphs, each piece inside one.
    fn check_cut(text: &str, mode: ParagraphMode, max: usize) -> Vec<Paragraph> {
        let whole = paragraphs_within(text, mode, usize::MAX);
        let cut = paragraphs_within(text, mode, max);
        let starts = line_starts(text);
        let non_ws = |a: u32, b: u32| -> String {
            text[a as usize..b as usize]
                .chars()
                .filter(|&c| !is_ws(c))
                .collect()
        };
        let mut at = 0;
        for p in &cut {
            let (a, b) = (p.start as usize, p.end as usize);
            assert!(a >= at && a < b, "{p:?} after {at} in {text:?}");
            at = b;
            assert!(b - a <= max.max(64), "{p:?} longer than {max} in {text:?}");
            assert_eq!(
                trim_span(text, a, b),
                Some((a, b)),
                "{p:?} untrimmed in {text:?}"
            );
            assert_eq!(p.line, line_of(&starts, p.start), "{p:?} in {text:?}");
            let inside = whole.iter().any(|w| w.start <= p.start && p.end <= w.end);
            assert!(inside, "{p:?} across paragraphs of {text:?}");
        }
        let all =
            |ps: &[Paragraph]| -> String { ps.iter().map(|p| non_ws(p.start, p.end)).collect() };
        assert_eq!(all(&cut), all(&whole), "{text:?}");
        cut
    }

    #[test]
    fn long_paragraphs_are_cut_at_sentences_then_whitespace() {
        let sentence = "The quick brown fox jumps over the lazy dog. ";
        let many = sentence.repeat(6);
        let no_stop = "word ".repeat(40);
        let han = "漢字".repeat(40);
        let marks = "e\u{301}".repeat(60);
        let arabic = "قال الوزير إن الاجتماع سيعقد غدا. ".repeat(5);
        let s = |x: &str, n: usize| x.repeat(n).trim_end().to_string();
        let fifth = arabic.len() / 5;
        // (text, mode, limit, the pieces' texts)
        let cases: Vec<(&str, ParagraphMode, usize, Vec<String>)> = vec![
            (
                "short line\nanother",
                ParagraphMode::Line,
                64,
                vec![s("short line", 1), s("another", 1)],
            ),
            (&many, ParagraphMode::Line, 100, vec![s(sentence, 2); 3]),
            // No sentence end: at the last space of the second half of the limit.
            (
                &no_stop,
                ParagraphMode::Line,
                64,
                vec![
                    s("word ", 12),
                    s("word ", 12),
                    s("word ", 12),
                    s("word ", 4),
                ],
            ),
            // No space either: at the last char boundary before the limit.
            (
                &han,
                ParagraphMode::Line,
                64,
                vec![s("漢字", 10).chars().take(20).collect(); 4],
            ),
            (
                &arabic,
                ParagraphMode::Line,
                128,
                vec![
                    s(&arabic[..fifth], 2),
                    s(&arabic[..fifth], 2),
                    s(&arabic[..fifth], 1),
                ],
            ),
        ];
        for (text, mode, max, want) in cases {
            let got: Vec<&str> = check_cut(text, mode, max)
                .iter()
                .map(|p| &text[p.start as usize..p.end as usize])
                .collect();
            assert_eq!(got, want, "{text:?} at {max}");
        }
        // Nothing but combining marks: cut before one all the same, within the limit.
        let only_marks = "\u{301}".repeat(100);
        assert_eq!(check_cut(&only_marks, ParagraphMode::Line, 64).len(), 4);
        // A hard cut never leaves a combining mark at the start of a piece.
        for p in check_cut(&marks, ParagraphMode::Line, 64) {
            let first = text_char(&marks, p.start);
            assert!(!is_mark(first), "{p:?} starts with a mark");
        }
    }

    fn text_char(text: &str, at: u32) -> char {
        text[at as usize..].chars().next().unwrap_or(' ')
    }

    #[test]
    fn pieces_of_a_hard_wrapped_block_keep_their_lines() {
        let block =
            "First sentence of the block\nruns on. Second one is here\nand here. Third\r\nends it.";
        let text = format!("Title\n\n{block}\n\n{block}\n");
        let cut = check_cut(&text, ParagraphMode::Blank, 64);
        let lines: Vec<u32> = cut.iter().map(|p| p.line).collect();
        assert_eq!(lines, [1, 3, 4, 8, 9], "{cut:?}");
    }

    #[test]
    fn cutting_keeps_every_word_whatever_the_text() {
        use proptest::prelude::*;
        let pieces = [
            "word ", "mot", ". ", "? ", "\n", "\n\n", "漢", "。", " ", "\u{301}", "e", "قال ",
            "\r\n", "\u{200B}", "Dr. ",
        ];
        let texts = proptest::collection::vec(proptest::sample::select(pieces.to_vec()), 0..200)
            .prop_map(|v| v.concat());
        let modes = proptest::sample::select(vec![ParagraphMode::Line, ParagraphMode::Blank]);
        proptest!(ProptestConfig::with_cases(300), |(text in texts, mode in modes, max in 64usize..160)| {
            check_cut(&text, mode, max);
        });
    }

    /// Texts of the pieces that matter to paragraph breaks and to `Auto`: line breaks of
    /// every kind, blank lines, whitespace of several widths, invalid bytes' stand-in,
    /// long runs.
    fn break_texts() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let pieces = [
            "word ",
            "mot",
            ". ",
            "\n",
            "\n\n",
            "\r",
            "\r\n",
            " ",
            "\t",
            "\u{3000}",
            "漢字",
            "قال ",
            "\u{FEFF}",
            "\u{1A}",
            "e\u{301}",
            &"x".repeat(60),
            &"long ".repeat(30),
        ]
        .map(str::to_string);
        proptest::collection::vec(proptest::sample::select(pieces.to_vec()), 0..120)
            .prop_map(|v| v.concat())
    }

    /// The char boundaries of `text` nearest to the given fractions of its length, in
    /// order.
    fn boundaries(text: &str, at: &[f64]) -> Vec<usize> {
        let mut cuts: Vec<usize> = at
            .iter()
            .map(|f| {
                let mut i = (text.len() as f64 * f) as usize;
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                i
            })
            .collect();
        cuts.sort();
        cuts
    }

    #[test]
    fn mode_counted_in_pieces_is_resolved_over_the_whole() {
        use proptest::prelude::*;
        let cuts = proptest::collection::vec(0.0f64..1.0, 0..6);
        proptest!(ProptestConfig::with_cases(400), |(text in break_texts(), at in cuts)| {
            let whole = resolve_mode(&text, ParagraphMode::Auto);
            let mut counter = ModeCounter::default();
            let mut from = 0;
            for cut in boundaries(&text, &at) {
                counter.feed(&text[from..cut]);
                from = cut;
            }
            counter.feed(&text[from..]);
            prop_assert_eq!(counter.finish(), whole, "{:?}", text);
        });
    }

    #[test]
    fn mode_counter_table() {
        use ParagraphMode::{Blank, Line};
        // (pieces, mode): each case fed in the pieces given.
        let wrapped = ["a\nb\n", "\n", "c\nd"];
        let split_crlf = ["a\r\nb\r", "\n", "\r\nc\r\nd"];
        let lone_cr = ["a\rb\r", "\rc\rd"];
        let long = "y".repeat(101);
        let long_split = ["a\n", &long[..50], &long[50..], "\n\nb\nc"];
        let padded = ["a\nb\n\n c ", "  ", " d \ne"];
        let rows: &[(&[&str], ParagraphMode, &str)] = &[
            (&wrapped, Blank, "a blank line between two blocks of two"),
            (
                &split_crlf,
                Blank,
                "a \\r\\n split across pieces is one break",
            ),
            (&lone_cr, Blank, "lone \\r line breaks, one blank line"),
            (&long_split, Line, "a long line split across pieces is long"),
            (&padded, Blank, "whitespace across pieces is trimmed"),
            (&["", "a", ""], Line, "empty pieces"),
        ];
        for (pieces, want, why) in rows {
            let mut counter = ModeCounter::default();
            for p in *pieces {
                counter.feed(p);
            }
            assert_eq!(counter.finish(), *want, "{why}");
            assert_eq!(
                resolve_mode(&pieces.concat(), ParagraphMode::Auto),
                *want,
                "{why}"
            );
        }
    }

    #[test]
    fn paragraph_break_table() {
        use ParagraphMode::{Blank, Line};
        let rows: &[(&str, ParagraphMode, bool, Option<usize>, &str)] = &[
            ("abc", Line, false, None, "no line break"),
            ("a\nb", Line, false, Some(2), "after the \\n"),
            ("a\r\nb\r\n", Line, false, Some(6), "after the last \\r\\n"),
            (
                "a\nb\r",
                Line,
                false,
                Some(2),
                "a \\r at the end may be half of \\r\\n",
            ),
            ("a\nb\r", Line, true, Some(4), "unless nothing follows"),
            ("a\rb", Line, false, Some(2), "a lone \\r"),
            ("a\nb\nc", Blank, false, None, "no blank line"),
            ("a\n\nb\nc", Blank, false, Some(3), "after the blank line"),
            (
                "a\n \u{3000}\t\r\nb",
                Blank,
                false,
                Some(9),
                "a line of whitespace is blank",
            ),
            (
                "a\n\u{1A}\nb",
                Blank,
                false,
                Some(4),
                "so is one of invalid bytes",
            ),
            ("\n\n\nx", Blank, false, Some(3), "the last of several"),
        ];
        for (text, mode, complete, want, why) in rows {
            assert_eq!(
                paragraph_breaks(text.as_bytes(), *mode, *complete).last(),
                *want,
                "{why}"
            );
        }
        // Invalid bytes decode to U+001A, whitespace: a line of them is blank.
        assert_eq!(
            paragraph_breaks(b"a\n\xC3\xFF\nb", Blank, false).last(),
            Some(5)
        );
        assert_eq!(
            paragraph_breaks(b"a\n\xC3\xA9\nb", Blank, false).last(),
            None
        );
    }

    #[test]
    fn a_text_split_at_a_paragraph_break_gives_the_same_paragraphs() {
        use proptest::prelude::*;
        let modes = proptest::sample::select(vec![ParagraphMode::Line, ParagraphMode::Blank]);
        proptest!(ProptestConfig::with_cases(400), |(text in break_texts(), mode in modes, at in 0.0f64..1.1)| {
            // Past 1.0: the whole text, complete.
            let cut = boundaries(&text, &[at.min(1.0)])[0];
            let head = &text.as_bytes()[..cut];
            let complete = cut == text.len();
            let Some(b) = paragraph_breaks(head, mode, complete).last() else {
                return Ok(());
            };
            prop_assert!(b <= cut);
            let (before, after) = text.split_at(b);
            let lines = line_breaks(before.as_bytes());
            let mut parts = paragraphs_within(before, mode, 96);
            parts.extend(paragraphs_within(after, mode, 96).into_iter().map(|p| Paragraph {
                start: p.start + b as u32,
                end: p.end + b as u32,
                line: p.line + lines,
            }));
            prop_assert_eq!(parts, paragraphs_within(&text, mode, 96), "{:?} at {}", text, b);
        });
    }

    #[test]
    fn line_breaks_count_as_line_starts_does() {
        let cases: &[&str] = &["", "a", "a\nb", "a\r\nb\rc\n", "\n\n", "\r\r\n", "x\r"];
        for text in cases {
            let starts = line_starts(text);
            for offset in 0..=text.len() as u32 {
                let before = &text.as_bytes()[..offset as usize];
                // An offset between \r and \n belongs to the line the pair ends.
                if offset > 0
                    && before.ends_with(b"\r")
                    && text.as_bytes().get(offset as usize) == Some(&b'\n')
                {
                    continue;
                }
                assert_eq!(
                    1 + line_breaks(before),
                    line_of(&starts, offset),
                    "{text:?} at {offset}"
                );
            }
        }
    }

    /// Seed article 000_4f8e26fc6f496ae2.txt, line 3 (one sentence).
    const SEED_LINE_3: &str = r#"قال وزير الخارجية الروسي سيرغي لافروف بعد لقاء جون كير وزير الخارجية الامريكي ، اتفقنا على لقاء خبراء روس وامريكان في نهاية الشهر الجاري لمناقشة التحضير لـ "جنيف-2" واضاف الوزير الامريكي أن مؤتمر "جنيف-2" الذي تسعى واشنطن وموسكو إلى عقده تعتبر خطوة نحو ايجاد هذا الحل السياسي، دون أن يذكر أي مواعيد محتملة لعقده."#;
    /// Seed article, line 4 (three sentences).
    const SEED_LINE_4: &str = r#"وشدد كيري على أن الخلافات لا يجوز أن تعيق التعاون بين البلدين. وأكد كيري أنه على الرغم من الاختلاف في الرأي بين روسيا والولايات المتحدة بشأن سورية، ترى واشنطن أيضا أن الحل في سورية يجب أن يكون سياسيا، ويجب تسوية الأزمة عبر الحوار من أجل تفادي انهيار سورية وغرقها في الفوضى. وأضاف الوزير الامريكي أن مؤتمر "جنيف-2" الذي تسعى واشنطن وموسكو إلى عقده تعتبر خطوة نحو ايجاد هذا الحل السياسي، دون أن يذكر أي مواعيد محتملة لعقده."#;
    /// Seed article, line 6 (`واشنطن.. "إن`: `..` is not a break).
    const SEED_LINE_6: &str = r#"وقال لافروف في مؤتمر صحفي مشترك اليوم مع كل من كيري ووزيري الدفاع الروسي سيرغي شويغو والأمريكي تشاك هاغل في واشنطن.. "إن المسألة السورية تحتل المرتبة الأولى في لائحة أولوياتنا ونشدد على الحاجة لإطلاق العملية السياسية وعقد الموءتمر الدولي حول سورية جنيف2 "."#;

    // -----------------------------------------------------------------------
    // Helpers
    // -----------------------------------------------------------------------

    fn para_texts(text: &str, mode: ParagraphMode) -> Vec<(String, u32)> {
        paragraphs(text, mode)
            .iter()
            .map(|p| (text[p.start as usize..p.end as usize].to_string(), p.line))
            .collect()
    }

    fn sentence_texts(text: &str) -> Vec<&str> {
        sentences(text, 0, text.len())
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    // -----------------------------------------------------------------------
    // Paragraphs
    // -----------------------------------------------------------------------

    const WRAPPED: &str = "This is a hard-wrapped paragraph of prose that\n\
        continues on the next line and then on a\n\
        third one.\n\
        \n\
        A second block, also wrapped at\n\
        a short width.\n";

    const LONG_LINES: &str = "This line is a whole paragraph and it is long enough that nobody would ever hard-wrap it like this one, really.\n\
        Another paragraph on its own line, again long enough to go past the one hundred character limit of the rule.\n\
        \n\
        Short one.\n";

    #[test]
    fn paragraph_table() {
        use ParagraphMode::{Auto, Blank, Line};
        #[allow(clippy::type_complexity)]
        let rows: &[(&str, &str, ParagraphMode, &[(&str, u32)], &str)] = &[
            ("P01", "", Line, &[], "empty text"),
            ("P02", "", Blank, &[], "empty text, blank mode"),
            (
                "P03",
                "a\nb",
                Line,
                &[("a", 1), ("b", 2)],
                "no trailing newline",
            ),
            (
                "P04",
                "a\nb\n",
                Line,
                &[("a", 1), ("b", 2)],
                "trailing newline",
            ),
            (
                "P05",
                "a\r\nb\r\n",
                Line,
                &[("a", 1), ("b", 2)],
                "CRLF is one terminator",
            ),
            (
                "P06",
                "a\rb\r\rc",
                Line,
                &[("a", 1), ("b", 2), ("c", 4)],
                "lone CR ends a line",
            ),
            (
                "P07",
                "\u{FEFF}Hello\nWorld",
                Line,
                &[("Hello", 1), ("World", 2)],
                "leading BOM excluded",
            ),
            (
                "P08",
                "\u{FEFF}\nx",
                Line,
                &[("x", 2)],
                "BOM-only first line is blank",
            ),
            (
                "P09",
                " \t\n\u{200F} \u{A0}\nx",
                Line,
                &[("x", 3)],
                "whitespace-only lines are blank",
            ),
            (
                "P10",
                "  a b  \n",
                Line,
                &[("a b", 1)],
                "trimmed, inner space kept",
            ),
            (
                "P11",
                "\u{1A}ab\u{1A}c\u{1A}",
                Line,
                &[("ab\u{1A}c", 1)],
                "U+001A trimmed at ends only",
            ),
            (
                "P12",
                "\u{200F}مرحبا بكم\u{200F}\r\n",
                Line,
                &[("مرحبا بكم", 1)],
                "RLM trimmed",
            ),
            (
                "P13",
                "\n\r\nx",
                Line,
                &[("x", 3)],
                "LF then CRLF: two empty lines",
            ),
            (
                "P14",
                "a\n\rb",
                Line,
                &[("a", 1), ("b", 3)],
                "LF then lone CR: two terminators",
            ),
            ("P15", "  \n\r\n\t", Line, &[], "only whitespace"),
            (
                "P16",
                "l1\nl2\n\nl3\r\nl4\n  \nl5",
                Blank,
                &[("l1\nl2", 1), ("l3\r\nl4", 4), ("l5", 7)],
                "blank mode joins runs of non-blank lines",
            ),
            (
                "P17",
                "a\rb\r\rc",
                Blank,
                &[("a\rb", 1), ("c", 4)],
                "blank mode with lone CR",
            ),
            (
                "P18",
                "\n\n  a \n b\n\n",
                Blank,
                &[("a \n b", 3)],
                "blank mode trims ends only",
            ),
            (
                "P19",
                "a\n\u{FEFF} \nb",
                Blank,
                &[("a", 1), ("b", 3)],
                "invisible-only line is blank",
            ),
            (
                "P20",
                "\u{FEFF}x\r\ny\r\n\r\n",
                Blank,
                &[("x\r\ny", 1)],
                "BOM and CRLF in blank mode",
            ),
            (
                "P21",
                WRAPPED,
                Auto,
                &[
                    (
                        "This is a hard-wrapped paragraph of prose that\ncontinues on the next line and then on a\nthird one.",
                        1,
                    ),
                    ("A second block, also wrapped at\na short width.", 5),
                ],
                "auto -> blank for hard-wrapped text",
            ),
            (
                "P22",
                LONG_LINES,
                Auto,
                &[
                    (
                        "This line is a whole paragraph and it is long enough that nobody would ever hard-wrap it like this one, really.",
                        1,
                    ),
                    (
                        "Another paragraph on its own line, again long enough to go past the one hundred character limit of the rule.",
                        2,
                    ),
                    ("Short one.", 4),
                ],
                "auto -> line when lines are long",
            ),
            (
                "P23",
                "a\n\nb\n\nc",
                Auto,
                &[("a", 1), ("b", 3), ("c", 5)],
                "auto -> line: blocks of one line",
            ),
        ];
        for (id, input, mode, expected, why) in rows {
            let got = para_texts(input, *mode);
            let want: Vec<(String, u32)> =
                expected.iter().map(|(t, l)| (t.to_string(), *l)).collect();
            assert_eq!(got, want, "{id}: {why}");
        }
    }

    #[test]
    fn resolve_mode_table() {
        use ParagraphMode::{Auto, Blank, Line};
        let seed = format!("{SEED_LINE_3}\n{SEED_LINE_4}\n{SEED_LINE_6}\n");
        let rows: &[(&str, &str, ParagraphMode, ParagraphMode, &str)] = &[
            (
                "M01",
                WRAPPED,
                Auto,
                Blank,
                "short lines in multi-line blocks",
            ),
            (
                "M02",
                LONG_LINES,
                Auto,
                Line,
                "90th percentile of line length > 100",
            ),
            (
                "M03",
                "a\nb\nc\nd",
                Auto,
                Line,
                "no blank line separating blocks",
            ),
            (
                "M04",
                "a\n\nb\n\nc\n\nd\ne",
                Auto,
                Line,
                "fewer than half the lines in multi-line blocks",
            ),
            ("M05", "a\n\nb\n\nc", Auto, Line, "all blocks have one line"),
            ("M06", "", Auto, Line, "empty text"),
            (
                "M07",
                &seed,
                Auto,
                Line,
                "seed article: one long paragraph per line",
            ),
            ("M08", "a\nb", Blank, Blank, "explicit modes unchanged"),
            ("M09", "a\n\nb\nc", Line, Line, "explicit modes unchanged"),
            (
                "M10",
                "a\nb\n\nc\n\nd",
                Auto,
                Blank,
                "half of the lines in multi-line blocks",
            ),
        ];
        for (id, input, mode, want, why) in rows {
            assert_eq!(resolve_mode(input, *mode), *want, "{id}: {why}");
        }
    }

    #[test]
    fn line_numbers() {
        let text = "a\r\nb\rc\n\nd\n";
        assert_eq!(line_starts(text), vec![0, 3, 5, 7, 8, 10]);
        assert_eq!(line_starts(""), vec![0]);
        let ls = line_starts(text);
        assert_eq!(line_of(&ls, 0), 1);
        assert_eq!(line_of(&ls, 2), 1, "inside CRLF belongs to line 1");
        assert_eq!(line_of(&ls, 3), 2);
        assert_eq!(line_of(&ls, 5), 3);
        assert_eq!(line_of(&ls, 8), 5);
        assert_eq!(line_of(&ls, 1000), 6);
        assert_eq!(line_of(&[], 7), 1);
        for p in paragraphs(text, ParagraphMode::Line) {
            assert_eq!(p.line, line_of(&ls, p.start));
        }
    }

    // -----------------------------------------------------------------------
    // Sentences
    // -----------------------------------------------------------------------

    /// Stand-in for memo vector S14 (whose full input is not reproduced in the
    /// memo): a long run-on sentence with commas only and no terminator.
    const RUN_ON: &str = "القاهرة ـ أعلن المتحدث باسم الوزارة، أمس، أن الاجتماع المقرر مع الوفود \
        الأجنبية تأجل إلى موعد لاحق، وأن الوفود التي وصلت إلى العاصمة ستبقى في الفنادق حتى \
        يتم تحديد موعد جديد، مشيرا إلى أن الوزارة ستبلغ جميع الأطراف بالموعد الجديد فور \
        الاتفاق عليه مع الجهات المعنية دون استثناء";

    #[test]
    fn sentence_table() {
        #[allow(clippy::type_complexity)]
        let rows: &[(&str, &str, &[&str], &str)] = &[
            (
                "S01",
                "وأضاف المتحدث أن المؤتمر سيعقد غدا. وقال إن الوفود وصلت.",
                &[
                    "وأضاف المتحدث أن المؤتمر سيعقد غدا.",
                    "وقال إن الوفود وصلت.",
                ],
                "plain Arabic full stops",
            ),
            (
                "S02",
                "وأضاف.. إن جنيف-2 لن ينجح دون توافق.",
                &["وأضاف.. إن جنيف-2 لن ينجح دون توافق."],
                "`..` is used like `:`",
            ),
            (
                "S03",
                "وأضاف: إن جنيف 2 لن ينجح دون توافق.",
                &["وأضاف: إن جنيف 2 لن ينجح دون توافق."],
                "colon never ends a sentence",
            ),
            (
                "S04",
                "وأضاف… إن الوضع صعب. ثم غادر",
                &["وأضاف… إن الوضع صعب.", "ثم غادر"],
                "U+2026 is not a terminator",
            ),
            (
                "S05",
                "قال الوزير: «لن نشارك في جنيف 2». وأضاف أن القرار نهائي.",
                &[
                    "قال الوزير: «لن نشارك في جنيف 2».",
                    "وأضاف أن القرار نهائي.",
                ],
                "guillemets, period after the closing quote",
            ),
            (
                "S06",
                "قال الوزير: لن نشارك في جنيف 2. وأضاف أن القرار نهائي.",
                &["قال الوزير: لن نشارك في جنيف 2.", "وأضاف أن القرار نهائي."],
                "same boundaries as S05 without quotes",
            ),
            (
                "S07",
                "هل ستشارك؟ قال: نعم.",
                &["هل ستشارك؟", "قال: نعم."],
                "Arabic question mark",
            ),
            (
                "S08",
                "هل ستشارك ؟ قال: نعم .",
                &["هل ستشارك ؟", "قال: نعم ."],
                "space before the terminator",
            ),
            (
                "S09",
                "وصل د. محمد إلى القاهرة. ثم غادر.",
                &["وصل د. محمد إلى القاهرة.", "ثم غادر."],
                "one-letter Arabic abbreviation",
            ),
            (
                "S10",
                "ارتفع المؤشر بنسبة 3.5 في المئة، وسجل ٣٫٥ نقطة.",
                &["ارتفع المؤشر بنسبة 3.5 في المئة، وسجل ٣٫٥ نقطة."],
                "decimal numbers",
            ),
            (
                "S11",
                "انتهى الاجتماع.وأضاف المتحدث أن الوفود غادرت.",
                &["انتهى الاجتماع.", "وأضاف المتحدث أن الوفود غادرت."],
                "glued Arabic sentences break (rule 3e)",
            ),
            (
                "S12",
                "ولد عام 1950 م. في القاهرة.",
                &["ولد عام 1950 م. في القاهرة."],
                "م. abbreviation",
            ),
            (
                "S13",
                "كتب بالأردية۔ دوسرا جملہ۔",
                &["كتب بالأردية۔", "دوسرا جملہ۔"],
                "Urdu full stop",
            ),
            (
                "S14",
                RUN_ON,
                &[RUN_ON],
                "run-on stays one sentence (no rule 7 fallback)",
            ),
            (
                "S15",
                "He paid $3.5 million. Then he left.",
                &["He paid $3.5 million.", "Then he left."],
                "decimal number",
            ),
            (
                "S16",
                "Dr. Smith arrived. He left...",
                &["Dr. Smith arrived.", "He left..."],
                "listed abbreviation",
            ),
            (
                "S17",
                "Wait... what? Yes.",
                &["Wait... what?", "Yes."],
                "`...` is not a terminator",
            ),
            (
                "S18",
                "He said \"Stop.\" Then left.",
                &["He said \"Stop.\"", "Then left."],
                "closing quote stays with its sentence",
            ),
            (
                "S19",
                "The U.S. economy grew. It did.",
                &["The U.S. economy grew.", "It did."],
                "dotted initialism",
            ),
            (
                "S20",
                "He left at 5 p.m. yesterday. OK.",
                &["He left at 5 p.m. yesterday.", "OK."],
                "p.m. followed by lowercase",
            ),
            (
                "S21",
                "End.Next sentence. end.next one.",
                &["End.", "Next sentence. end.next one."],
                "glued uppercase breaks, lowercase does not",
            ),
            (
                "S22",
                "Hello!!! Really?! Yes.",
                &["Hello!!!", "Really?!", "Yes."],
                "runs of strong terminators",
            ),
            (
                "S23",
                "我们今天去北京。他们明天来！真的吗？",
                &["我们今天去北京。", "他们明天来！", "真的吗？"],
                "CJK terminators without spaces",
            ),
            (
                "S24",
                "First line\nSecond line without stop",
                &["First line\nSecond line without stop"],
                "DEPARTS from memo: a single newline inside a paragraph is a space",
            ),
            (
                "S24b",
                "First line\n\nSecond line without stop",
                &["First line", "Second line without stop"],
                "a blank line inside the range is a hard break",
            ),
            (
                "S25",
                "J. K. Rowling wrote it. Fine.",
                &["J. K. Rowling wrote it.", "Fine."],
                "single-letter initials",
            ),
            (
                "S26",
                "Version 2.0 is out. Get it.",
                &["Version 2.0 is out.", "Get it."],
                "digit on both sides",
            ),
            (
                "S27",
                "قال: &quot;نعم&quot;. ثم غادر",
                &["قال: &quot;نعم&quot;.", "ثم غادر"],
                "entity-encoded quotes",
            ),
            // Extra rows.
            (
                "X01",
                "Line one.\r\n\r\nLine two.",
                &["Line one.", "Line two."],
                "CRLF blank line",
            ),
            (
                "X02",
                "a wrapped\r\nline. Next one",
                &["a wrapped\r\nline.", "Next one"],
                "single CRLF is a space",
            ),
            (
                "X03",
                "\"Why?\", he asked. I don't. Fine.",
                &["\"Why?\", he asked.", "I don't.", "Fine."],
                "comma after `?` continues; contraction is not an abbreviation",
            ),
            (
                "X04",
                "She has a Ph.D. in physics. Mr. Brown, etc. and more.",
                &["She has a Ph.D. in physics.", "Mr. Brown, etc. and more."],
                "Ph.D., Mr., etc.",
            ),
            (
                "X05",
                "?? Hello. . World",
                &["?? Hello. .", "World"],
                "pieces without letters join a neighbour",
            ),
            ("X06", ". . .", &[". . ."], "no letters at all: one piece"),
            ("X07", "   ", &[], "whitespace only"),
            ("X08", "", &[], "empty"),
            (
                "X09",
                "See example.com today. Visit Yahoo!mail now.",
                &["See example.com today.", "Visit Yahoo!mail now."],
                "glued lowercase after `.` or `!`",
            ),
            (
                "X10",
                "الطول 5 سم. وقال: نعم.",
                &["الطول 5 سم. وقال: نعم."],
                "listed Arabic abbreviation",
            ),
            (
                "X11",
                "ق.م. ولد في روما. ثم عاد.",
                &["ق.م. ولد في روما.", "ثم عاد."],
                "Arabic dotted initialism",
            ),
            (
                "X12",
                "Es ist „gut.“ Dann ging er.",
                &["Es ist „gut.“", "Dann ging er."],
                "German closing quote",
            ),
            (
                "X13",
                "هل؟!وقال نعم",
                &["هل؟!", "وقال نعم"],
                "glued Arabic after a strong terminator",
            ),
            (
                "X14",
                "\u{FEFF}Hi there. \u{200F}Bye.\u{1A}",
                &["Hi there.", "Bye."],
                "invisible characters trimmed",
            ),
        ];
        for (id, input, expected, why) in rows {
            assert_eq!(sentence_texts(input), *expected, "{id}: {why}");
        }
    }

    #[test]
    fn seed_line_4_has_three_sentences() {
        let got = sentence_texts(SEED_LINE_4);
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[0].ends_with("بين البلدين."), "{}", got[0]);
        assert!(got[1].ends_with("في الفوضى."), "{}", got[1]);
        assert_eq!(
            got[2],
            "وأضاف الوزير الامريكي أن مؤتمر \"جنيف-2\" الذي تسعى واشنطن وموسكو إلى عقده تعتبر خطوة نحو ايجاد هذا الحل السياسي، دون أن يذكر أي مواعيد محتملة لعقده."
        );
        assert_eq!(got.join(" "), SEED_LINE_4);
    }

    #[test]
    fn seed_lines_3_and_6_are_one_sentence() {
        assert_eq!(sentence_texts(SEED_LINE_3), vec![SEED_LINE_3]);
        assert!(SEED_LINE_6.contains("واشنطن.. \"إن"));
        assert_eq!(sentence_texts(SEED_LINE_6), vec![SEED_LINE_6]);
    }

    #[test]
    fn seed_lines_in_a_file() {
        let text = format!("\u{FEFF}{SEED_LINE_3}\r\n{SEED_LINE_4}\n\n{SEED_LINE_6}");
        let paras = paragraphs(&text, ParagraphMode::Auto);
        assert_eq!(paras.len(), 3);
        assert_eq!(paras[1].line, 2);
        assert_eq!(paras[2].line, 4);
        let p = paras[1];
        let got = sentences(&text, p.start as usize, p.end as usize);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].start, p.start as usize);
        assert_eq!(got[2].end, p.end as usize);
    }

    #[test]
    fn sentences_use_absolute_offsets_and_survive_bad_ranges() {
        let text = "Zed. One two. Three.";
        let got = sentences(text, 5, text.len());
        assert_eq!(got, vec![5..13, 14..20]);
        assert!(sentences(text, 10, 3).is_empty());
        assert_eq!(sentences(text, 0, 10_000).len(), 3);
        let ar = "قال. نعم";
        // Offsets inside a multi-byte character are moved inward.
        for a in 0..=ar.len() + 2 {
            for b in 0..=ar.len() + 2 {
                for r in sentences(ar, a, b) {
                    assert!(ar.is_char_boundary(r.start) && ar.is_char_boundary(r.end));
                    assert!(r.start >= a && r.end <= b && r.start < r.end);
                }
            }
        }
    }

    // -----------------------------------------------------------------------
    // Pseudo-random invariants
    // -----------------------------------------------------------------------

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const ALPHABET: &[&str] = &[
        "a",
        "B",
        "word",
        "Dr",
        "U.S.",
        "ق",
        "قال",
        "وأضاف",
        "我",
        "们",
        "。",
        "！",
        ".",
        ".",
        "..",
        "…",
        "؟",
        "?",
        "!",
        "\"",
        "'",
        "«",
        "»",
        ")",
        "،",
        ":",
        "1",
        "٣",
        "\n",
        "\n",
        "\r",
        "\r\n",
        " ",
        " ",
        " ",
        "\t",
        "\u{FEFF}",
        "\u{200F}",
        "\u{1A}",
        "\u{A0}",
        "\u{2029}",
        "é",
        "\u{64E}",
    ];

    fn check_spans(text: &str, spans: &[Range<usize>], range: Range<usize>, what: &str) {
        let mut prev_end = range.start;
        for r in spans {
            assert!(r.start < r.end, "{what}: empty span {r:?} in {text:?}");
            assert!(
                r.start >= prev_end,
                "{what}: overlap/order {spans:?} in {text:?}"
            );
            assert!(r.end <= range.end, "{what}: out of range {r:?} in {text:?}");
            assert!(
                text.is_char_boundary(r.start) && text.is_char_boundary(r.end),
                "{what}: not on char boundary {r:?} in {text:?}"
            );
            let s = &text[r.clone()];
            let first = s.chars().next().unwrap();
            let last = s.chars().next_back().unwrap();
            assert!(!is_ws(first) && !is_ws(last), "{what}: untrimmed {s:?}");
            prev_end = r.end;
        }
        for (i, c) in text[range.clone()].char_indices() {
            let i = i + range.start;
            if !is_ws(c) {
                assert!(
                    spans.iter().any(|r| r.start <= i && i < r.end),
                    "{what}: byte {i} ({c:?}) not covered by {spans:?} in {text:?}"
                );
            }
        }
    }

    #[test]
    fn random_strings_keep_invariants() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..4000 {
            let len = rng.below(40);
            let mut text = String::new();
            if rng.below(4) == 0 {
                text.push('\u{FEFF}');
            }
            for _ in 0..len {
                text.push_str(ALPHABET[rng.below(ALPHABET.len())]);
            }
            let ls = line_starts(&text);
            assert_eq!(ls.first(), Some(&0));
            assert!(ls.windows(2).all(|w| w[0] < w[1]));
            for mode in [
                ParagraphMode::Line,
                ParagraphMode::Blank,
                ParagraphMode::Auto,
            ] {
                let paras = paragraphs(&text, mode);
                let spans: Vec<Range<usize>> = paras
                    .iter()
                    .map(|p| p.start as usize..p.end as usize)
                    .collect();
                check_spans(&text, &spans, 0..text.len(), "paragraphs");
                if resolve_mode(&text, mode) == ParagraphMode::Line {
                    for s in &spans {
                        assert!(!text[s.clone()].contains(['\n', '\r']));
                    }
                }
                for p in &paras {
                    assert_eq!(p.line, line_of(&ls, p.start), "line of {p:?} in {text:?}");
                    let (a, b) = (p.start as usize, p.end as usize);
                    let sents = sentences(&text, a, b);
                    assert!(!sents.is_empty());
                    check_spans(&text, &sents, a..b, "sentences");
                }
            }
            // Arbitrary (possibly invalid) ranges must not panic.
            let a = rng.below(text.len() + 3);
            let b = rng.below(text.len() + 3);
            for r in sentences(&text, a, b) {
                assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            }
        }
    }

    #[test]
    fn large_input_is_linear() {
        // 2 MB of one paragraph: must finish quickly even in a debug build.
        let unit = "وأضاف المتحدث.. أن U.S. الاجتماع 3.5 انتهى. ";
        let text = unit.repeat(2_000_000 / unit.len());
        // One paragraph, in pieces of up to 64 KiB (2 MB / 64 KiB = 30.5).
        let paras = paragraphs(&text, ParagraphMode::Blank);
        assert_eq!(paras.len(), text.len().div_ceil(MAX_PARAGRAPH_BYTES));
        assert!(paras
            .iter()
            .all(|p| (p.end - p.start) as usize <= MAX_PARAGRAPH_BYTES));
        let sents = sentences(&text, 0, text.len());
        assert_eq!(sents.len(), 2_000_000 / unit.len());
        let dots = ".".repeat(1_000_000);
        assert_eq!(sentences(&dots, 0, dots.len()).len(), 1);
        let letters = format!("{}.", "a".repeat(1_000_000));
        assert_eq!(sentences(&letters, 0, letters.len()).len(), 1);
    }
}
