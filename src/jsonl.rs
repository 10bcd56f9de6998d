//! JSON Lines input: one document per line, in `.jsonl`, `.jsonl.gz` or `.jsonl.zst`
//! files (`.ndjson` likewise).
//!
//! Each line is a JSON object. Its text field (default `text`) is the document, and its
//! id field (default `id`, a string or a number) names it in the report as `path#id`; a
//! record without one is named by its 1-based line number. Offsets in the report are
//! byte offsets into the decoded text field.
//!
//! * A bad line (not JSON, not an object, no string text field, not UTF-8) is a warning
//!   naming `path:line`, and is skipped; the file goes on.
//! * A corrupt or truncated compressed stream is one warning; the records decoded
//!   before the error are kept.
//!
//! Decompression is streaming. The decompressed lines are gathered in chunks of about
//! [`CHUNK_BYTES`], and the lines of a chunk are parsed in parallel, in order, so
//! documents come out in line order whatever the thread count.
//!
//! Only the two fields are decoded: the rest of a record is checked as JSON and skipped,
//! which also gives the exact byte span of the text field in the line. [`write_cleaned`]
//! uses that span to replace the text and nothing else, so every other field of a
//! record, the key order and the formatting stay byte-identical.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::ops::ControlFlow;

use crate::corpus::{self, Document, InputFile, ReadOptions, Warning, MAX_FILE_BYTES};

/// Decompressed bytes gathered before a chunk of lines is parsed in parallel.
pub const CHUNK_BYTES: usize = 8 << 20;

/// Bad lines of one file reported one by one; the rest are counted in one warning.
pub const MAX_LINE_WARNINGS: usize = 20;

/// Longest line read: a text field must fit the 32-bit offsets of a document, and the
/// decoded text is never longer than its JSON form.
const MAX_LINE_BYTES: usize = MAX_FILE_BYTES as usize;

/// Compression of a JSON Lines file, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// `.jsonl`, `.ndjson`
    None,
    /// `.jsonl.gz`, `.ndjson.gz` (gzip; concatenated members are read as one stream)
    Gzip,
    /// `.jsonl.zst`, `.ndjson.zst` (zstd; several frames are read as one stream)
    Zstd,
}

/// The JSON Lines format of `path`, if its name says it is one (case-insensitive).
pub fn format_of(path: &Path) -> Option<Compression> {
    // The suffixes hold no separator, so the end of the whole path is the end of the
    // file name; no component parsing or allocation (this runs several times per file).
    let name = path.as_os_str().as_encoded_bytes();
    let ends = |bytes: &[u8], suffix: &str| {
        bytes.len() >= suffix.len()
            && bytes[bytes.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    let (stem, compression) = if ends(name, ".gz") {
        (&name[..name.len() - 3], Compression::Gzip)
    } else if ends(name, ".zst") {
        (&name[..name.len() - 4], Compression::Zstd)
    } else {
        (name, Compression::None)
    };
    (ends(stem, ".jsonl") || ends(stem, ".ndjson")).then_some(compression)
}

/// One good record of a line, as parsed by [`parse_line`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The id as text: a string id as it is, a number as written in the line, or the
    /// 1-based line number when the record has no usable id.
    pub id: String,
    /// The decoded text field.
    pub text: String,
    /// Byte span of the text field's JSON value (quotes included) in the line.
    pub text_span: Range<usize>,
}

/// Decodes the text of a record again from the bytes of its JSON string value (quotes
/// included), as [`parse_line`] decoded it. `None` if they are not such a string.
pub fn decode_text(value: &[u8]) -> Option<String> {
    // Validated with SIMD first: from a `&str`, serde_json does not validate again
    // (from bytes it runs the standard library's slower check on every string).
    let json = simdutf8::basic::from_utf8(value).ok()?;
    decode_string_value(json).ok()
}

/// A JSON string value (quotes included) decoded by [`decode_json_string`], or by
/// serde_json when that declines it, for the value or for the error.
fn decode_string_value(json: &str) -> serde_json::Result<String> {
    match decode_json_string(json) {
        Some(text) => Ok(text),
        None => serde_json::from_str(json),
    }
}

/// Decodes a JSON string value (`json` is the value exactly, quotes included) into a
/// `String` made at its final size, as serde_json would decode it: the text field of
/// every record goes through here, once when it is read and again when its spans are
/// read back, and serde_json grows its buffer at each escape. `None` for anything but
/// a well-formed string of plain escapes and paired surrogates, which the caller hands
/// to serde_json instead (for the value, or for the error that names what is wrong).
fn decode_json_string(json: &str) -> Option<String> {
    let inner = json.strip_prefix('"')?.strip_suffix('"')?;
    let bytes = inner.as_bytes();
    // JSON forbids raw control chars in a string; serde_json rejects them. Tested a
    // block at a time without stopping early, so that the test is vectorized.
    if bytes
        .chunks(64)
        .any(|block| block.iter().fold(false, |control, &b| control | (b < 0x20)))
    {
        return None;
    }
    let mut out = String::with_capacity(inner.len());
    let mut at = 0;
    while let Some(k) = memchr::memchr2(b'\\', b'"', bytes.get(at..)?) {
        let escape = at + k;
        out.push_str(inner.get(at..escape)?);
        // An unescaped quote inside the value: not one string.
        if bytes.get(escape) != Some(&b'\\') {
            return None;
        }
        let (c, len) = match bytes.get(escape + 1)? {
            b'"' => ('"', 2),
            b'\\' => ('\\', 2),
            b'/' => ('/', 2),
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => {
                let unit = hex4(bytes.get(escape + 2..escape + 6)?)?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A leading surrogate must be followed by an escaped trailing one.
                        if bytes.get(escape + 6..escape + 8)? != b"\\u" {
                            return None;
                        }
                        let low = hex4(bytes.get(escape + 8..escape + 12)?)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        let cp = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        (char::from_u32(cp)?, 12)
                    }
                    _ => (char::from_u32(unit)?, 6),
                }
            }
            _ => return None,
        };
        out.push(c);
        at = escape + len;
    }
    out.push_str(inner.get(at..)?);
    Some(out)
}

/// The value of four hex digits.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &d| {
        let v = char::from(d).to_digit(16)?;
        Some(acc << 4 | v)
    })
}

/// Parses one line (without its line terminator). `Ok(None)` for a blank line, which
/// is not a record; `Err` says why the line is not a record.
pub fn parse_line(line: &[u8], number: u64, opts: &ReadOptions) -> Result<Option<Record>, String> {
    // SIMD validation; the `compat` flavour also says where a bad line goes wrong.
    let json = simdutf8::compat::from_utf8(line).map_err(|e| {
        format!(
            "not valid UTF-8 (at byte {} of the line)",
            e.valid_up_to() + 1
        )
    })?;
    // A UTF-8 byte order mark may open the file.
    let json = if number == 1 {
        json.strip_prefix('\u{FEFF}').unwrap_or(json)
    } else {
        json
    };
    if json.trim_ascii().is_empty() {
        return Ok(None);
    }
    let seed = FieldsSeed {
        text: &opts.text_field,
        id: &opts.id_field,
    };
    let mut de = serde_json::Deserializer::from_str(json);
    let fields = seed
        .deserialize(&mut de)
        .and_then(|f| de.end().map(|()| f))
        .map_err(|e| describe_json_error(&e))?;
    let Some(raw_text) = fields.text else {
        return Err(format!("no field `{}`", opts.text_field));
    };
    let text: String = decode_string_value(raw_text.get()).map_err(|e| {
        if raw_text.get().starts_with('"') {
            format!("field `{}`: {}", opts.text_field, describe_json_error(&e))
        } else {
            format!("field `{}` is not a string", opts.text_field)
        }
    })?;
    // The raw value borrows from `line`, so its address gives its offset.
    let start = raw_text.get().as_ptr() as usize - line.as_ptr() as usize;
    let text_span = start..start + raw_text.get().len();
    let id = fields
        .id
        .and_then(|raw| {
            let raw = raw.get();
            match raw.as_bytes().first() {
                Some(b'"') => serde_json::from_str::<String>(raw).ok(),
                Some(b'-' | b'0'..=b'9') => Some(raw.to_string()),
                _ => None,
            }
        })
        .unwrap_or_else(|| number.to_string());
    Ok(Some(Record {
        id,
        text,
        text_span,
    }))
}

/// A serde_json error without the "at line 1 column N" that refers to the line alone.
fn describe_json_error(e: &serde_json::Error) -> String {
    if e.classify() == serde_json::error::Category::Data {
        return "not a JSON object".to_string();
    }
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    format!("invalid JSON at column {}: {message}", e.column())
}

/// The two fields of a record, as raw JSON borrowed from the line.
struct Fields<'de> {
    text: Option<&'de RawValue>,
    id: Option<&'de RawValue>,
}

/// Deserializes a JSON object into [`Fields`], skipping every other field.
struct FieldsSeed<'a> {
    text: &'a str,
    id: &'a str,
}

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_> {
    type Value = Fields<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Fields<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_> {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut fields = Fields {
            text: None,
            id: None,
        };
        // As for any JSON object read by serde_json, a repeated key's last value wins.
        while let Some(key) = map.next_key_seed(KeySeed(&self))? {
            match key {
                Key::Text => fields.text = Some(map.next_value()?),
                Key::Id => fields.id = Some(map.next_value()?),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }
}

/// Which field a key names; compared without allocating.
enum Key {
    Text,
    Id,
    Other,
}

struct KeySeed<'s, 'a>(&'s FieldsSeed<'a>);

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = Key;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(if key == self.0.text {
            Key::Text
        } else if key == self.0.id {
            Key::Id
        } else {
            Key::Other
        })
    }
}

/// Counts the bytes read from the file on disk (compressed bytes for a compressed file).
struct Counting<'a, R> {
    inner: R,
    on_bytes: &'a (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_bytes)(n as u64);
        Ok(n)
    }
}

/// A streaming reader of the decompressed bytes of `path`. The file is opened as
/// [`corpus::open_regular`] does (never blocking on a FIFO), and only the bytes it had
/// when opened are read. `on_bytes` is told of every read from the file.
fn open<'a>(
    path: &Path,
    compression: Compression,
    on_bytes: &'a (dyn Fn(u64) + Sync),
) -> io::Result<Box<dyn BufRead + Send + 'a>> {
    let (file, len) = corpus::open_nonblocking(path)?;
    let counted = Counting {
        inner: file.take(len),
        on_bytes,
    };
    Ok(match compression {
        Compression::None => Box::new(BufReader::with_capacity(1 << 20, counted)),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, counted)),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            1 << 20,
            zstd::stream::read::Decoder::new(counted)?,
        )),
    })
}

/// How [`next_line`] ended.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// No more input.
    End,
    /// A line is in the buffer; `terminated` if it ended with `\n` (not included).
    Read { terminated: bool },
    /// The line was longer than the limit: its bytes went to `spill`, and the buffer is
    /// as it was.
    Overlong,
}

/// Appends the next line to `buf` (without its `\n`), at most `limit` bytes. The bytes
/// of a longer line are passed to `spill` instead. On an error the buffer is left as it
/// was: a partial line is never kept.
fn next_line(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
    spill: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<Line> {
    let start = buf.len();
    let mut overlong = false;
    loop {
        let available = match r.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        };
        if available.is_empty() {
            return Ok(if overlong {
                Line::Overlong
            } else if buf.len() == start {
                Line::End
            } else {
                Line::Read { terminated: false }
            });
        }
        let (taken, done) = match memchr_newline(available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let part = &available[..taken - usize::from(done)];
        if overlong {
            spill(&available[..taken])?;
        } else if buf.len() - start + part.len() > limit {
            overlong = true;
            spill(&buf[start..])?;
            buf.truncate(start);
            spill(&available[..taken])?;
        } else {
            buf.extend_from_slice(part);
        }
        r.consume(taken);
        if done {
            return Ok(if overlong {
                Line::Overlong
            } else {
                Line::Read { terminated: true }
            });
        }
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

/// The path of a line of a file, `path:line`, as warnings name it.
fn line_path(path: &Path, line: u64) -> PathBuf {
    let mut named = path.as_os_str().to_os_string();
    named.push(format!(":{line}"));
    PathBuf::from(named)
}

/// Collects the warnings of one file: bad lines one by one up to
/// [`MAX_LINE_WARNINGS`], then counted.
struct LineWarnings<'a> {
    path: &'a Path,
    warnings: Vec<Warning>,
    bad: usize,
}

impl LineWarnings<'_> {
    fn bad_line(&mut self, line: u64, why: &str) {
        self.bad += 1;
        if self.bad <= MAX_LINE_WARNINGS {
            self.warnings.push(Warning {
                path: line_path(self.path, line),
                message: format!("{why}; line skipped"),
                skipped: false,
            });
        }
    }

    fn finish(mut self) -> Vec<Warning> {
        if self.bad > MAX_LINE_WARNINGS {
            self.warnings.push(Warning {
                path: self.path.to_path_buf(),
                message: format!(
                    "{} bad lines in all, {} more than listed above; all skipped",
                    self.bad,
                    self.bad - MAX_LINE_WARNINGS
                ),
                skipped: false,
            });
        }
        self.warnings
    }
}

/// Reads the documents of a JSON Lines file: one per good record, in line order, with
/// `id` 0. `on_bytes` is told of every read from the file.
pub fn read_documents(
    file: &InputFile,
    compression: Compression,
    opts: &ReadOptions,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> (Vec<Document>, Vec<Warning>) {
    read_limited(file, compression, opts, on_bytes, MAX_LINE_BYTES)
}

fn read_limited(
    file: &InputFile,
    compression: Compression,
    opts: &ReadOptions,
    on_bytes: &(dyn Fn(u64) + Sync),
    limit: usize,
) -> (Vec<Document>, Vec<Warning>) {
    let mut docs = Vec::new();
    let tuning = Tuning::for_file(file, limit, u64::MAX);
    let warnings = read_batches(file, compression, opts, on_bytes, tuning, &mut |batch| {
        docs.extend(batch);
        ControlFlow::Continue(())
    });
    (docs, warnings)
}

/// [`read_documents`], handing the documents to `each` in batches, in line order, as
/// they are read: a batch holds about `batch_bytes` of text (at least one record, at
/// most one chunk of the file beyond), so a file of any size is read in bounded
/// memory. Stops early if `each` breaks; the warnings are then those of the lines read.
pub fn read_documents_batched(
    file: &InputFile,
    compression: Compression,
    opts: &ReadOptions,
    on_bytes: &(dyn Fn(u64) + Sync),
    batch_bytes: u64,
    each: &mut dyn FnMut(Vec<Document>) -> ControlFlow<()>,
) -> Vec<Warning> {
    let tuning = Tuning::for_file(file, MAX_LINE_BYTES, batch_bytes);
    read_batches(file, compression, opts, on_bytes, tuning, each)
}

/// How [`read_batches`] reads a file.
#[derive(Clone, Copy, Debug)]
struct Tuning {
    /// Longest line read; a longer one is skipped.
    limit: usize,
    /// Text bytes of a batch (see [`read_documents_batched`]).
    batch_bytes: u64,
    /// Bytes of lines gathered before they are parsed in parallel.
    chunk_bytes: usize,
    /// Whether a thread of its own gathers the next chunk while one is parsed and its
    /// batches are handed on.
    pipelined: bool,
}

impl Tuning {
    /// Chunks of [`CHUNK_BYTES`], or of `batch_bytes` if that is less (a spilled run
    /// under a small memory limit reads small batches; its chunks are no larger, with
    /// [`MIN_CHUNK_BYTES`] at least), gathered by a thread of their own if `file` is
    /// larger than [`PIPELINE_MIN_BYTES`] on disk (a smaller one is about one chunk)
    /// and the run has more than one thread (`--threads 1` keeps to one).
    fn for_file(file: &InputFile, limit: usize, batch_bytes: u64) -> Tuning {
        let batch = usize::try_from(batch_bytes).unwrap_or(usize::MAX);
        Tuning {
            limit,
            batch_bytes,
            chunk_bytes: CHUNK_BYTES.min(batch).max(MIN_CHUNK_BYTES),
            pipelined: file.len.is_some_and(|len| len > PIPELINE_MIN_BYTES)
                && rayon::current_num_threads() > 1,
        }
    }
}

fn read_batches(
    file: &InputFile,
    compression: Compression,
    opts: &ReadOptions,
    on_bytes: &(dyn Fn(u64) + Sync),
    tuning: Tuning,
    each: &mut dyn FnMut(Vec<Document>) -> ControlFlow<()>,
) -> Vec<Warning> {
    let reader = match open(file.path(), compression, on_bytes) {
        Ok(reader) => reader,
        Err(e) => {
            let warning = Warning {
                path: file.path().to_path_buf(),
                message: e.to_string(),
                skipped: true,
            };
            return vec![warning];
        }
    };
    let mut gatherer = Gatherer {
        reader,
        limit: tuning.limit,
        chunk_bytes: tuning.chunk_bytes,
        number: 0,
        consumed: 0,
    };
    let mut batcher = Batcher {
        file,
        compression,
        opts,
        limit: tuning.limit,
        batch_bytes: tuning.batch_bytes,
        each,
        docs: Vec::new(),
        batched: 0,
        handed: 0,
        lines: LineWarnings {
            path: file.path(),
            warnings: Vec::new(),
            bad: 0,
        },
        stream_error: None,
    };
    let pipelined = tuning.pipelined
        && std::thread::scope(|scope| {
            let (to_parse, chunks) = mpsc::sync_channel::<Chunk>(0);
            let (to_refill, spent) = mpsc::channel::<Chunk>();
            let gatherer = &mut gatherer;
            let spawned = std::thread::Builder::new()
                .name("neardup-jsonl".to_string())
                .spawn_scoped(scope, move || loop {
                    let chunk = gatherer.next_chunk(spent.try_recv().unwrap_or_default());
                    let at_end = chunk.at_end;
                    // The receiver is gone when the batcher stopped early.
                    if to_parse.send(chunk).is_err() || at_end {
                        break;
                    }
                });
            if spawned.is_err() {
                return false;
            }
            for mut chunk in chunks.iter() {
                let flow = batcher.take(&mut chunk);
                let _ = to_refill.send(chunk);
                if flow.is_break() {
                    break;
                }
            }
            true
        });
    if !pipelined {
        let mut chunk = Chunk::default();
        loop {
            chunk = gatherer.next_chunk(chunk);
            if batcher.take(&mut chunk).is_break() {
                break;
            }
        }
    }
    batcher.finish(gatherer.number)
}

/// Smallest chunk of lines gathered before they are parsed (see [`Tuning::for_file`]).
const MIN_CHUNK_BYTES: usize = 64 << 10;

/// Files larger than this on disk are read by a thread of their own (decompressed and
/// cut into lines) while the lines read before are parsed and analyzed.
const PIPELINE_MIN_BYTES: u64 = 1 << 20;

/// One chunk of lines of a file, as [`Gatherer::next_chunk`] gathers them.
#[derive(Default)]
struct Chunk {
    /// The lines' bytes, one after the other, without their `\n`.
    data: Vec<u8>,
    /// Line number, span in `data` and offset in the decoded stream of each line.
    spans: Vec<(u64, Range<usize>, u64)>,
    /// Numbers of the lines skipped for their length, in order.
    overlong: Vec<u64>,
    /// The stream ended with this chunk, at its end or at `error`.
    at_end: bool,
    /// The error that ended the stream.
    error: Option<io::Error>,
}

/// Cuts the decoded stream of a file into chunks of lines, each ended by the line that
/// brings it to `chunk_bytes` or past.
/// Sequential: the parse of a chunk is what runs in parallel.
struct Gatherer<'a> {
    reader: Box<dyn BufRead + Send + 'a>,
    limit: usize,
    chunk_bytes: usize,
    /// Lines read so far.
    number: u64,
    /// Bytes of the decoded stream consumed so far: where the next line starts.
    consumed: u64,
}

impl Gatherer<'_> {
    /// The next chunk, gathered in the buffers of `chunk` (a spent one, or a new one).
    fn next_chunk(&mut self, mut chunk: Chunk) -> Chunk {
        chunk.data.clear();
        chunk.data.reserve(self.chunk_bytes + (1 << 16));
        chunk.spans.clear();
        chunk.overlong.clear();
        chunk.at_end = false;
        chunk.error = None;
        while chunk.data.len() < self.chunk_bytes {
            let start = chunk.data.len();
            let mut skipped = 0u64;
            let mut count_skipped = |bytes: &[u8]| {
                skipped += bytes.len() as u64;
                Ok(())
            };
            match next_line(
                &mut *self.reader,
                &mut chunk.data,
                self.limit,
                &mut count_skipped,
            ) {
                Ok(Line::End) => {
                    chunk.at_end = true;
                    break;
                }
                Ok(Line::Read { terminated }) => {
                    self.number += 1;
                    chunk
                        .spans
                        .push((self.number, start..chunk.data.len(), self.consumed));
                    self.consumed += (chunk.data.len() - start) as u64 + u64::from(terminated);
                }
                Ok(Line::Overlong) => {
                    self.number += 1;
                    self.consumed += skipped;
                    chunk.overlong.push(self.number);
                }
                Err(e) => {
                    chunk.error = Some(e);
                    chunk.at_end = true;
                    break;
                }
            }
        }
        chunk
    }
}

/// Parses chunks of lines in parallel and hands their documents on in batches.
struct Batcher<'a, 'e> {
    file: &'a InputFile,
    compression: Compression,
    opts: &'a ReadOptions,
    /// Longest line read (see [`Gatherer`]).
    limit: usize,
    batch_bytes: u64,
    each: &'e mut dyn FnMut(Vec<Document>) -> ControlFlow<()>,
    /// Documents not handed on yet, and their text bytes.
    docs: Vec<Document>,
    batched: u64,
    /// Records handed on so far.
    handed: usize,
    lines: LineWarnings<'a>,
    stream_error: Option<io::Error>,
}

impl Batcher<'_, '_> {
    /// Parses the lines of `chunk` and hands on every full batch, then the rest if the
    /// stream ended. `Break` when the stream ended or `each` stopped the read.
    fn take(&mut self, chunk: &mut Chunk) -> ControlFlow<()> {
        // Bad lines are reported in line order: the long ones were left out of the spans.
        let mut overlong = chunk.overlong.iter().copied().peekable();
        let limit = self.limit;
        let mut report_overlong = |lines: &mut LineWarnings<'_>, before: u64| {
            while let Some(n) = overlong.next_if(|&n| n < before) {
                lines.bad_line(n, &format!("line longer than {limit} bytes"));
            }
        };
        let (data, opts) = (&chunk.data, self.opts);
        let parsed: Vec<Result<Option<Record>, String>> = chunk
            .spans
            .par_iter()
            .map(|(n, span, _)| parse_line(&data[span.clone()], *n, opts))
            .collect();
        for ((n, _, line_at), outcome) in chunk.spans.iter().zip(parsed) {
            report_overlong(&mut self.lines, *n);
            match outcome {
                Ok(Some(record)) => {
                    self.batched += record.text.len() as u64;
                    self.docs.push(Document {
                        id: 0,
                        name: format!("{}#{}", self.file.name(), record.id),
                        text: record.text,
                        raw: None,
                        // Offsets in the decoded stream are offsets in the file only
                        // when it is not compressed.
                        json_span: (self.compression == Compression::None).then(|| {
                            line_at + record.text_span.start as u64
                                ..line_at + record.text_span.end as u64
                        }),
                        part: None,
                    })
                }
                Ok(None) => {}
                Err(why) => self.lines.bad_line(*n, &why),
            }
            if self.batched >= self.batch_bytes {
                self.batched = 0;
                if self.hand_on().is_break() {
                    return ControlFlow::Break(());
                }
            }
        }
        report_overlong(&mut self.lines, u64::MAX);
        if chunk.at_end {
            self.stream_error = chunk.error.take();
            let _ = self.hand_on();
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// Hands the documents held on, if any.
    fn hand_on(&mut self) -> ControlFlow<()> {
        if self.docs.is_empty() {
            return ControlFlow::Continue(());
        }
        self.handed += self.docs.len();
        (self.each)(std::mem::take(&mut self.docs))
    }

    /// The warnings of the read, `number` lines long.
    fn finish(self, number: u64) -> Vec<Warning> {
        let mut warnings = self.lines.finish();
        if let Some(e) = self.stream_error {
            warnings.push(Warning {
                path: self.file.path().to_path_buf(),
                message: format!(
                    "{} after line {number}: {e}; the {} records read before it are kept",
                    stream_trouble(self.compression),
                    self.handed,
                ),
                skipped: false,
            });
        }
        warnings
    }
}

fn stream_trouble(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "read error",
        Compression::Gzip => "corrupt or truncated gzip stream",
        Compression::Zstd => "corrupt or truncated zstd stream",
    }
}

/// A writer with the compression of the input file.
enum Sink<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Sink<W> {
    fn new(out: W, compression: Compression) -> io::Result<Sink<W>> {
        Ok(match compression {
            Compression::None => Sink::Plain(out),
            Compression::Gzip => Sink::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::default(),
            )),
            Compression::Zstd => Sink::Zstd(zstd::stream::write::Encoder::new(out, 3)?),
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w,
            Sink::Zstd(w) => w,
        }
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Sink::Plain(w) => Ok(w),
            Sink::Gzip(w) => w.finish(),
            Sink::Zstd(w) => w.finish(),
        }
    }
}

/// Writes the cleaned copy of a JSON Lines file to `out`, with the input's compression.
///
/// `cleaned` gives one entry per document read from the file, in order, as the file is
/// copied (so that they need not all be held): the new text, or `None` if the record
/// is unchanged; an error stops the copy and is returned. A changed record gets the new
/// text in its text field and keeps every other byte; every other line (unchanged
/// records, bad lines, blank lines) is copied as it is. Returns a caveat to report, if
/// the copy is not complete or the file no longer matches what was read.
pub fn write_cleaned<W: Write>(
    file: &InputFile,
    compression: Compression,
    opts: &ReadOptions,
    cleaned: impl IntoIterator<Item = io::Result<Option<String>>>,
    out: W,
) -> io::Result<(W, Option<String>)> {
    write_cleaned_limited(file, compression, opts, cleaned, out, MAX_LINE_BYTES)
}

fn write_cleaned_limited<W: Write>(
    file: &InputFile,
    compression: Compression,
    opts: &ReadOptions,
    cleaned: impl IntoIterator<Item = io::Result<Option<String>>>,
    out: W,
    limit: usize,
) -> io::Result<(W, Option<String>)> {
    let mut reader = open(file.path(), compression, &|_| {})?;
    let mut sink = Sink::new(out, compression)?;
    let mut line = Vec::new();
    let mut records = cleaned.into_iter();
    let mut number = 0u64;
    let mut caveat = None;
    loop {
        line.clear();
        let w = sink.writer();
        let read = next_line(&mut *reader, &mut line, limit, &mut |bytes| {
            w.write_all(bytes)
        });
        let terminated = match read {
            Ok(Line::End) => break,
            Ok(Line::Overlong) => {
                number += 1;
                continue;
            }
            Ok(Line::Read { terminated }) => terminated,
            Err(e) => {
                caveat = Some(format!(
                    "{} after line {number}: {e}; the cleaned copy holds the lines before it",
                    stream_trouble(compression)
                ));
                break;
            }
        };
        number += 1;
        let record = parse_line(&line, number, opts).ok().flatten();
        let new_text = match record {
            Some(record) => match records.next() {
                Some(new_text) => new_text?.map(|t| (record.text_span, t)),
                None => {
                    caveat = Some(mismatch());
                    None
                }
            },
            None => None,
        };
        match new_text {
            Some((span, text)) => {
                w.write_all(&line[..span.start])?;
                serde_json::to_writer(&mut *w, &text)?;
                w.write_all(&line[span.end..])?;
            }
            None => w.write_all(&line)?,
        }
        if terminated {
            w.write_all(b"\n")?;
        }
    }
    if caveat.is_none() && records.next().is_some() {
        caveat = Some(mismatch());
    }
    Ok((sink.finish()?, caveat))
}

fn mismatch() -> String {
    "the file changed since it was read; its cleaned copy may not match the report".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ReadOptions {
        ReadOptions::default()
    }

    /// The cleaned copy of `file` with the records' `cleaned` texts, and its caveat.
    fn cleaned_copy(
        file: &InputFile,
        compression: Compression,
        cleaned: Vec<Option<String>>,
    ) -> (Vec<u8>, Option<String>) {
        let texts = cleaned.into_iter().map(Ok);
        write_cleaned(file, compression, &opts(), texts, Vec::new()).unwrap()
    }

    fn compress(body: &[u8], compression: Compression) -> Vec<u8> {
        let mut sink = Sink::new(Vec::new(), compression).unwrap();
        sink.writer().write_all(body).unwrap();
        sink.finish().unwrap()
    }

    fn decompress(bytes: &[u8], compression: Compression) -> Vec<u8> {
        let mut out = Vec::new();
        match compression {
            Compression::None => out.extend_from_slice(bytes),
            Compression::Gzip => {
                flate2::read::MultiGzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Compression::Zstd => {
                zstd::stream::read::Decoder::new(bytes)
                    .unwrap()
                    .read_to_end(&mut out)
                    .unwrap();
            }
        }
        out
    }

    fn input(dir: &Path, name: &str, bytes: &[u8]) -> InputFile {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        InputFile::new(path, name.to_string())
    }

    fn read(file: &InputFile) -> (Vec<Document>, Vec<Warning>) {
        let compression = format_of(file.path()).expect("a JSON Lines name");
        read_documents(file, compression, &opts(), &|_| {})
    }

    /// serde_json's decoding of a JSON string value, or `None` if it rejects it.
    fn serde_string(json: &str) -> Option<String> {
        serde_json::from_str(json).ok()
    }

    #[test]
    fn strings_decode_as_serde_json_decodes_them() {
        let cases = [
            r#""""#,
            r#""plain""#,
            r#""مرحبا بالعالم""#,
            r#""a\nb\r\tc\"d\\e\/f\bg\fh""#,
            r#""\u00e9\u0627\u0000\uFFFF""#,
            r#""\ud83d\ude00 pair""#,
            r#""\uD83D\uDE00""#,
            r#""ends with escape\n""#,
            // Rejected by both, or left to serde_json:
            r#""lone \ud83d here""#,
            r#""lone trailing \ude00""#,
            r#""bad \x escape""#,
            r#""short \u12""#,
            r#""bad hex \u12g4""#,
            r#""quote " inside""#,
            r#""dangling \""#,
            "\"raw\ncontrol\"",
            "\"tab\tinside\"",
            r#"not a string"#,
            r#"42"#,
            r#""unterminated"#,
        ];
        for json in cases {
            let fast = decode_json_string(json);
            if let Some(text) = &fast {
                assert_eq!(Some(text.clone()), serde_string(json), "{json}");
            }
            assert_eq!(decode_text(json.as_bytes()), serde_string(json), "{json}");
        }
        // The plain cases take the fast path.
        assert_eq!(
            decode_json_string(r#""\ud83d\ude00 pair""#).as_deref(),
            Some("😀 pair")
        );
        assert_eq!(decode_json_string(r#""a\nb""#).as_deref(), Some("a\nb"));
    }

    #[test]
    fn random_strings_decode_as_serde_json_decodes_them() {
        let mut rng = crate::test_rng(17);
        let pieces = [
            "a",
            "é",
            "ن",
            "😀",
            " ",
            "\\n",
            "\\\"",
            "\\\\",
            "\\/",
            "\\t",
            "\\u0041",
            "\\u062D",
            "\\ud83d\\ude00",
            "\\ud83d",
            "\\ude00",
            "\\q",
            "\"",
            "\u{1}",
            "\\u00",
        ];
        let mut fast_paths = 0;
        for _ in 0..20_000 {
            let mut json = String::from("\"");
            for _ in 0..rng(8) {
                json.push_str(pieces[rng(pieces.len() as u64) as usize]);
            }
            json.push('"');
            let fast = decode_json_string(&json);
            if fast.is_some() {
                fast_paths += 1;
                assert_eq!(fast, serde_string(&json), "{json}");
            }
            assert_eq!(decode_text(json.as_bytes()), serde_string(&json), "{json}");
        }
        // Both paths were taken.
        assert!((2_000..18_000).contains(&fast_paths), "{fast_paths}");
    }

    #[test]
    fn formats_from_names() {
        let cases = [
            ("a.jsonl", Some(Compression::None)),
            ("a.ndjson", Some(Compression::None)),
            ("a.JSONL.gz", Some(Compression::Gzip)),
            ("dir/a.jsonl.zst", Some(Compression::Zstd)),
            ("a.ndjson.zst", Some(Compression::Zstd)),
            ("a.json", None),
            ("a.txt", None),
            ("a.txt.gz", None),
            ("jsonl", None),
            ("sub.jsonl/a.txt", None),
            ("sub.txt/a.NDJSON", Some(Compression::None)),
            (".jsonl", Some(Compression::None)),
            ("a.gz", None),
        ];
        for (name, want) in cases {
            assert_eq!(format_of(Path::new(name)), want, "{name}");
        }
    }

    #[test]
    fn lines_parse_or_say_why_not() {
        // (line, number, Ok((id, text)) or Err(part of the message), why)
        type Case<'a> = (&'a str, u64, Result<(&'a str, &'a str), &'a str>, &'a str);
        let cases: [Case; 14] = [
            (
                r#"{"id": 7, "text": "hello", "x": [1]}"#,
                3,
                Ok(("7", "hello")),
                "number id",
            ),
            (
                r#"{"text": "a\nb", "id": "doc-1"}"#,
                1,
                Ok(("doc-1", "a\nb")),
                "escapes decoded",
            ),
            (
                r#"{"id": 1.50, "text": "t"}"#,
                2,
                Ok(("1.50", "t")),
                "number as written",
            ),
            (
                r#"{"text": "hi"}"#,
                9,
                Ok(("9", "hi")),
                "no id: line number",
            ),
            (
                r#"{"id": null, "text": "hi"}"#,
                4,
                Ok(("4", "hi")),
                "null id: line number",
            ),
            (
                r#"{"id": "a\"b", "text": ""}"#,
                1,
                Ok(("a\"b", "")),
                "escaped id, empty text",
            ),
            (
                "\u{FEFF}{\"text\": \"bom\"}",
                1,
                Ok(("1", "bom")),
                "BOM on line 1",
            ),
            (
                r#"{"te\u0078t": "key escaped"}"#,
                1,
                Ok(("1", "key escaped")),
                "escaped key",
            ),
            ("{oops", 2, Err("invalid JSON at column"), "syntax"),
            (r#"{"id": 1}"#, 4, Err("no field `text`"), "missing text"),
            ("[1, 2]", 5, Err("not a JSON object"), "array"),
            (
                r#"{"text": 5}"#,
                6,
                Err("field `text` is not a string"),
                "number text",
            ),
            (
                r#"{"text": "a"} {"#,
                7,
                Err("invalid JSON"),
                "trailing characters",
            ),
            (
                r#"{"text": "\ud800"}"#,
                8,
                Err("field `text`: invalid JSON"),
                "lone surrogate",
            ),
        ];
        for (line, number, want, why) in cases {
            let got = parse_line(line.as_bytes(), number, &opts());
            match (got, want) {
                (Ok(Some(r)), Ok((id, text))) => {
                    assert_eq!((r.id.as_str(), r.text.as_str()), (id, text), "{why}");
                    let raw = &line[r.text_span];
                    assert_eq!(serde_json::from_str::<String>(raw).unwrap(), text, "{why}");
                }
                (Err(message), Err(part)) => assert!(message.contains(part), "{why}: {message}"),
                (got, _) => panic!("{why}: got {got:?}"),
            }
        }
        assert_eq!(parse_line(b"  \r", 1, &opts()), Ok(None));
        let bad = parse_line(b"{\"text\": \"a\xffb\"}", 1, &opts()).unwrap_err();
        assert!(bad.contains("not valid UTF-8"), "{bad}");
    }

    #[test]
    fn field_options_pick_other_fields() {
        let custom = ReadOptions {
            text_field: "body".to_string(),
            id_field: "url".to_string(),
        };
        let line = br#"{"text": "not this", "body": "this one", "url": "https://x/1", "id": 3}"#;
        let r = parse_line(line, 1, &custom).unwrap().unwrap();
        assert_eq!(
            (r.id.as_str(), r.text.as_str()),
            ("https://x/1", "this one")
        );
        let err = parse_line(br#"{"text": "t"}"#, 1, &custom).unwrap_err();
        assert!(err.contains("no field `body`"), "{err}");
    }

    #[test]
    fn documents_are_named_and_bad_lines_reported() {
        let dir = tempfile::tempdir().unwrap();
        let body = "{\"id\":\"a\",\"text\":\"one two\"}\n\nnot json\n{\"text\":\"three\"}\n[1]\n{\"id\":9,\"text\":\"last\"}";
        let file = input(dir.path(), "x.jsonl", body.as_bytes());
        let (docs, warnings) = read(&file);
        let names: Vec<&str> = docs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["x.jsonl#a", "x.jsonl#4", "x.jsonl#9"]);
        assert_eq!(docs[2].text, "last", "a last line without \\n is read");
        assert!(docs.iter().all(|d| d.id == 0));
        let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].contains(
                "x.jsonl:3: warning: invalid JSON at column 2: expected ident; line skipped"
            ),
            "{shown:?}"
        );
        assert!(
            shown[1].contains("x.jsonl:5: warning: not a JSON object"),
            "{shown:?}"
        );
    }

    #[test]
    fn many_bad_lines_are_counted_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let body = "oops\n".repeat(MAX_LINE_WARNINGS + 5) + "{\"text\":\"ok\"}\n";
        let (docs, warnings) = read(&input(dir.path(), "x.jsonl", body.as_bytes()));
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].name, format!("x.jsonl#{}", MAX_LINE_WARNINGS + 6));
        assert_eq!(warnings.len(), MAX_LINE_WARNINGS + 1);
        let last = warnings.last().unwrap().to_string();
        assert!(last.contains("25 bad lines in all, 5 more"), "{last}");
    }

    #[test]
    fn chunks_keep_line_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut body = String::new();
        let n = 3 * CHUNK_BYTES / 1000;
        for i in 0..n {
            body.push_str(&format!(
                "{{\"id\":{i},\"text\":\"{}\"}}\n",
                "w ".repeat(490)
            ));
        }
        let (docs, warnings) = read(&input(dir.path(), "big.jsonl", body.as_bytes()));
        assert!(warnings.is_empty());
        assert_eq!(docs.len(), n);
        assert!(docs
            .iter()
            .enumerate()
            .all(|(i, d)| d.name == format!("big.jsonl#{i}")));
    }

    #[test]
    fn overlong_lines_are_skipped_and_copied_through() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{{\"text\":\"{}\"}}", "x".repeat(100));
        let body = format!("{{\"text\":\"a\"}}\n{long}\n{{\"text\":\"b\"}}\n");
        let file = input(dir.path(), "x.jsonl", body.as_bytes());
        let (docs, warnings) = read_limited(&file, Compression::None, &opts(), &|_| {}, 50);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].name, "x.jsonl#3");
        assert!(warnings[0]
            .to_string()
            .contains("x.jsonl:2: warning: line longer than 50 bytes"));
        let cleaned = [Some("A".to_string()), None];
        let (out, caveat) = write_cleaned_limited(
            &file,
            Compression::None,
            &opts(),
            cleaned.map(Ok),
            Vec::new(),
            50,
        )
        .unwrap();
        assert_eq!(caveat, None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{{\"text\":\"A\"}}\n{long}\n{{\"text\":\"b\"}}\n")
        );
    }

    #[test]
    fn batches_come_in_order_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let body: String = (0..40)
            .map(|i| format!("{{\"id\":{i},\"text\":\"{}\"}}\n", "w ".repeat(i % 7 + 1)))
            .collect();
        let body = body + "not json\n";
        for (name, compression) in [
            ("b.jsonl", Compression::None),
            ("b.jsonl.gz", Compression::Gzip),
        ] {
            let file = input(dir.path(), name, &compress(body.as_bytes(), compression));
            let (whole, whole_warnings) = read(&file);
            assert_eq!(whole.len(), 40);
            for batch_bytes in [1, 10, 25, u64::MAX] {
                let mut batches: Vec<Vec<Document>> = Vec::new();
                let warnings = read_documents_batched(
                    &file,
                    compression,
                    &opts(),
                    &|_| {},
                    batch_bytes,
                    &mut |b| {
                        batches.push(b);
                        ControlFlow::Continue(())
                    },
                );
                assert_eq!(warnings, whole_warnings, "{name} {batch_bytes}");
                let sizes: Vec<u64> = batches
                    .iter()
                    .map(|b| b.iter().map(|d| d.text.len() as u64).sum())
                    .collect();
                // Every batch but the last reaches the size; none exceeds it by more than
                // its last record.
                for (b, size) in batches.iter().zip(&sizes).rev().skip(1) {
                    assert!(*size >= batch_bytes, "{name} {batch_bytes}: {sizes:?}");
                    let last = b.last().map_or(0, |d| d.text.len() as u64);
                    assert!(
                        *size - last < batch_bytes,
                        "{name} {batch_bytes}: {sizes:?}"
                    );
                }
                let key = |d: &Document| (d.name.clone(), d.text.clone(), d.json_span.clone());
                let joined: Vec<_> = batches.iter().flatten().map(key).collect();
                assert_eq!(
                    joined,
                    whole.iter().map(key).collect::<Vec<_>>(),
                    "{name} {batch_bytes}"
                );
            }
            // Breaking stops the read: no batch after it.
            let seen = batches_until_a_break(|each| {
                read_documents_batched(&file, compression, &opts(), &|_| {}, 1, each);
            });
            assert_eq!(seen, 3, "{name}");
        }
    }

    /// How many batches `read` hands on to a consumer that stops at the third.
    fn batches_until_a_break(
        read: impl FnOnce(&mut dyn FnMut(Vec<Document>) -> ControlFlow<()>),
    ) -> usize {
        let mut seen = 0;
        read(&mut |_| {
            seen += 1;
            if seen == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        seen
    }

    #[test]
    fn pipelined_reads_give_what_one_thread_gives() {
        let dir = tempfile::tempdir().unwrap();
        let mut body = String::new();
        // Enough lines for two zstd blocks: a truncated stream still gives the first.
        for i in 0..3000 {
            match i % 37 {
                5 => body.push_str("not json\n"),
                11 => body.push_str(&format!(
                    "{{\"id\":{i},\"text\":\"{}\"}}\n",
                    "x".repeat(300)
                )),
                _ => body.push_str(&format!(
                    "{{\"id\":{i},\"text\":\"{}\"}}\n",
                    "word ".repeat(i % 13 + 1)
                )),
            }
        }
        let key = |d: &Document| (d.name.clone(), d.text.clone(), d.json_span.clone());
        let read_tuned = |file: &InputFile, compression, tuning: Tuning| {
            let mut batches = Vec::new();
            let warnings = read_batches(file, compression, &opts(), &|_| {}, tuning, &mut |b| {
                batches.push(b.iter().map(key).collect::<Vec<_>>());
                ControlFlow::Continue(())
            });
            (batches, warnings)
        };
        for (name, compression) in [
            ("p.jsonl", Compression::None),
            ("p.jsonl.gz", Compression::Gzip),
            ("p.jsonl.zst", Compression::Zstd),
        ] {
            let full = compress(body.as_bytes(), compression);
            let truncated = &full[..full.len() * 3 / 4];
            for (bytes, case) in [(&full[..], "whole"), (truncated, "truncated")] {
                let file = input(dir.path(), name, bytes);
                for batch_bytes in [1, 200, u64::MAX] {
                    let tuning = |chunk_bytes, pipelined| Tuning {
                        limit: 256,
                        batch_bytes,
                        chunk_bytes,
                        pipelined,
                    };
                    let want = read_tuned(&file, compression, tuning(CHUNK_BYTES, false));
                    let docs = want.0.iter().flatten().count();
                    assert!(
                        docs > 0 && (docs > 2500) == (case == "whole"),
                        "{name} {case}"
                    );
                    for chunk_bytes in [1, 100, 5000, CHUNK_BYTES] {
                        let got = read_tuned(&file, compression, tuning(chunk_bytes, true));
                        assert_eq!(got, want, "{name} {case} {batch_bytes} {chunk_bytes}");
                    }
                }
                // Breaking stops a pipelined read too: no batch after it.
                let tuning = Tuning {
                    limit: 256,
                    batch_bytes: 1,
                    chunk_bytes: 100,
                    pipelined: true,
                };
                let seen = batches_until_a_break(|each| {
                    read_batches(&file, compression, &opts(), &|_| {}, tuning, each);
                });
                assert_eq!(seen, 3, "{name} {case}");
            }
        }
    }

    #[test]
    fn compressed_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let body = "{\"id\":\"a\", \"text\" : \"one two\",\"meta\":{\"n\":1.0e3}}\r\nnot json\n{\"id\":\"b\",\"text\":\"three\"}\n";
        for (name, compression) in [
            ("x.jsonl", Compression::None),
            ("x.jsonl.gz", Compression::Gzip),
            ("x.jsonl.zst", Compression::Zstd),
        ] {
            let file = input(dir.path(), name, &compress(body.as_bytes(), compression));
            let counted = std::sync::atomic::AtomicU64::new(0);
            let (docs, warnings) = read_documents(&file, compression, &opts(), &|n| {
                counted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            });
            assert_eq!(counted.into_inner(), file.path().metadata().unwrap().len());
            assert_eq!(docs.len(), 2, "{name}");
            assert_eq!(docs[0].name, format!("{name}#a"));
            assert_eq!(docs[0].text, "one two");
            assert_eq!(docs[1].text, "three");
            assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
            assert!(warnings[0]
                .to_string()
                .contains(&format!("{name}:2: warning")));

            let cleaned = vec![Some("one \"é\"".to_string()), None];
            let (out, caveat) = cleaned_copy(&file, compression, cleaned);
            assert_eq!(caveat, None);
            assert_eq!(
                String::from_utf8(decompress(&out, compression)).unwrap(),
                "{\"id\":\"a\", \"text\" : \"one \\\"é\\\"\",\"meta\":{\"n\":1.0e3}}\r\nnot json\n{\"id\":\"b\",\"text\":\"three\"}\n",
                "{name}: only the text value changes"
            );
        }
    }

    #[test]
    fn concatenated_gzip_members_are_one_stream() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = compress(b"{\"text\":\"one\"}\n", Compression::Gzip);
        bytes.extend(compress(b"{\"text\":\"two\"}\n", Compression::Gzip));
        let (docs, warnings) = read(&input(dir.path(), "x.jsonl.gz", &bytes));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn truncated_streams_keep_the_records_before_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut body = String::new();
        for i in 0..20_000 {
            body.push_str(&format!(
                "{{\"id\":{i},\"text\":\"record {i} {}\"}}\n",
                i * 7919
            ));
        }
        for (name, compression) in [
            ("t.jsonl.gz", Compression::Gzip),
            ("t.jsonl.zst", Compression::Zstd),
        ] {
            let full = compress(body.as_bytes(), compression);
            let file = input(dir.path(), name, &full[..full.len() * 2 / 3]);
            let (docs, warnings) = read(&file);
            assert!(
                !docs.is_empty() && docs.len() < 20_000,
                "{name}: {}",
                docs.len()
            );
            for (i, d) in docs.iter().enumerate() {
                assert_eq!(d.name, format!("{name}#{i}"));
            }
            assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
            let shown = warnings[0].to_string();
            assert!(shown.contains("corrupt or truncated"), "{shown}");
            assert!(
                shown.contains(&format!(
                    "the {} records read before it are kept",
                    docs.len()
                )),
                "{shown}"
            );
            assert!(!warnings[0].skipped);

            let (_, caveat) = cleaned_copy(&file, compression, vec![None; docs.len()]);
            assert!(caveat.unwrap().contains("holds the lines before it"));
        }
        let garbage = input(dir.path(), "g.jsonl.gz", b"this is not gzip at all\n");
        let (docs, warnings) = read(&garbage);
        assert!(docs.is_empty());
        assert!(warnings[0]
            .to_string()
            .contains("corrupt or truncated gzip stream after line 0"));
    }

    #[test]
    fn a_changed_file_is_a_caveat_when_cleaning() {
        let dir = tempfile::tempdir().unwrap();
        let file = input(
            dir.path(),
            "x.jsonl",
            b"{\"text\":\"a\"}\n{\"text\":\"b\"}\n",
        );
        let (_, caveat) =
            write_cleaned(&file, Compression::None, &opts(), [Ok(None)], Vec::new()).unwrap();
        assert!(caveat.unwrap().contains("changed since it was read"));
    }
}
