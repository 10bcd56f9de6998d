//! The documents of an in-memory run, without their bytes where the file can be read
//! again.
//!
//! A text file is read, analyzed and dropped: the stages need only its token hashes, and
//! the assemble stage, the report and the cleaner read the few spans they quote from the
//! file again. Holding every text through the run would add the corpus size to the peak
//! memory, as much as the token hashes themselves.
//!
//! A file must not change during the run. Its size, modification time and inode are
//! recorded before it is read and checked each time it is read again; a change is an
//! error that names the file, never a quote of other bytes.
//!
//! A record of an uncompressed JSON Lines file keeps only the span of its text's JSON
//! string in the file, and is decoded again when quoted. A compressed file cannot be
//! read by offset: its records' decoded texts are written to a [`TextStore`], an
//! unnamed temporary file, and read back from there (or held in memory when the run
//! has no store).

use std::borrow::Cow;
use std::fs;
use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::corpus::{self, Document, InputFile, Names};
use crate::error::{Error, Result};
use crate::jsonl;
use crate::report::DocSource;

/// What identifies the contents of a file without reading them: size, modification
/// time and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileStamp {
    /// The stamp of a file's metadata.
    pub fn of(meta: &fs::Metadata) -> FileStamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.len
    }

    /// The stamp of the file at `path` now.
    pub fn read(path: &std::path::Path) -> io::Result<FileStamp> {
        fs::metadata(path).map(|m| FileStamp::of(&m))
    }
}

/// How one listed file's documents are held.
#[derive(Debug)]
pub enum Held {
    /// Not held: read again from the file, which had this stamp.
    File(FileStamp),
    /// Records of an uncompressed JSON Lines file, which had this stamp: each left on
    /// disk or held (see [`Record::of`]).
    Records(FileStamp, Vec<Record>),
    /// Held in memory.
    Documents(Vec<Document>),
    /// Records of a compressed JSON Lines file, their texts in the run's [`TextStore`]
    /// (see [`TextStore::store`]).
    Stored(Vec<Stored>),
}

/// A record of a compressed JSON Lines file.
#[derive(Debug)]
pub enum Stored {
    /// In the [`TextStore`]: its name, and the span of its text there.
    InStore(String, Range<u64>),
    /// Held in memory: the store could not take it.
    Held(Document),
}

/// The decoded texts of the records of compressed JSON Lines files, in an unnamed
/// temporary file. Holding them would add them to the peak memory (2.6 times the text
/// instead of 1.7 for a JSON Lines file of news); written here they are in the page
/// cache, which the system can write out and drop. The readers of several files
/// append to it at once. On Linux the file has no name: it is gone when the process
/// ends, however it ends.
#[derive(Debug)]
pub struct TextStore {
    file: fs::File,
    /// Bytes taken so far: where the next batch goes.
    len: AtomicU64,
}

impl TextStore {
    /// A new, empty store in directory `dir`.
    pub fn new(dir: &Path) -> io::Result<TextStore> {
        Ok(TextStore {
            file: tempfile::tempfile_in(dir)?,
            len: AtomicU64::new(0),
        })
    }

    /// Writes the texts of `docs` to a range of the store, and gives each its place
    /// there. If a write fails (a full disk), the batch is held in memory instead: the
    /// run goes on. A document with invalid UTF-8 (which a JSON string never is) is held.
    pub fn store(&self, docs: Vec<Document>) -> Vec<Stored> {
        let storable = |d: &Document| d.raw.is_none();
        let texts = || {
            docs.iter()
                .filter(|d| storable(d))
                .map(|d| d.text.as_bytes())
        };
        let bytes: usize = texts().map(<[u8]>::len).sum();
        let at = self.len.fetch_add(bytes as u64, Ordering::Relaxed);
        if self.write_all(texts(), at, bytes).is_err() {
            return docs.into_iter().map(Stored::Held).collect();
        }
        let mut next = at;
        docs.into_iter()
            .map(|d| {
                if !storable(&d) {
                    return Stored::Held(d);
                }
                let span = next..next + d.text.len() as u64;
                next = span.end;
                Stored::InStore(d.name, span)
            })
            .collect()
    }

    /// Writes `texts` (`bytes` in all) one after the other from byte `at`, through a
    /// buffer of [`STORE_WRITE_BYTES`]: one of the batch's size would be a fresh mapping
    /// to fault in, on top of the page cache's own copy.
    fn write_all<'t>(
        &self,
        texts: impl Iterator<Item = &'t [u8]>,
        mut at: u64,
        bytes: usize,
    ) -> io::Result<()> {
        let mut buf = Vec::with_capacity(STORE_WRITE_BYTES.min(bytes));
        for mut text in texts {
            while !text.is_empty() {
                let (part, rest) = text.split_at(text.len().min(STORE_WRITE_BYTES - buf.len()));
                buf.extend_from_slice(part);
                text = rest;
                if buf.len() == STORE_WRITE_BYTES {
                    crate::spill::write_at(&self.file, &buf, at)?;
                    at += buf.len() as u64;
                    buf.clear();
                }
            }
        }
        crate::spill::write_at(&self.file, &buf, at)
    }

    /// The bytes stored at `span`.
    fn read(&self, span: Range<u64>) -> io::Result<Vec<u8>> {
        let len = usize::try_from(span.end.saturating_sub(span.start)).map_err(io::Error::other)?;
        let mut buf = vec![0u8; len];
        crate::spill::read_at(&self.file, &mut buf, span.start)?;
        Ok(buf)
    }
}

/// Bytes [`TextStore::store`] writes at a time.
const STORE_WRITE_BYTES: usize = 1 << 20;

/// A record of an uncompressed JSON Lines file.
#[derive(Debug)]
pub enum Record {
    /// Not held: its name, and the span of its text's JSON string in the file.
    OnDisk(String, Range<u64>),
    /// Held in memory.
    Held(Document),
}

impl Record {
    /// `doc`, a record of an uncompressed JSON Lines file of `len` bytes when stamped:
    /// left on disk if its JSON string lies in those bytes, else held.
    pub fn of(doc: Document, len: u64) -> Record {
        match doc.json_span.clone() {
            Some(span) if span.end <= len => Record::OnDisk(doc.name, span),
            _ => Record::Held(doc),
        }
    }
}

impl Held {
    /// How to hold `docs`, read from `file` when it had `stamp` (taken before the
    /// read). A text file read whole, as one document of the stamped size, and the
    /// records of an uncompressed JSON Lines file are left on disk.
    pub fn new(file: &InputFile, stamp: Option<FileStamp>, docs: Vec<Document>) -> Held {
        let Some(stamp) = stamp else {
            return Held::Documents(docs);
        };
        match jsonl::format_of(file.path()) {
            None if docs.len() == 1 && docs[0].bytes().len() as u64 == stamp.len => {
                Held::File(stamp)
            }
            Some(jsonl::Compression::None) => Held::Records(
                stamp,
                docs.into_iter().map(|d| Record::of(d, stamp.len)).collect(),
            ),
            _ => Held::Documents(docs),
        }
    }
}

/// Where one document is.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// The whole file.
    File,
    /// Record `i` of [`FileTexts::records`].
    Record(u32),
    /// Document `i` of [`FileTexts::held`].
    Held(u32),
    /// Document `i` of [`FileTexts::records`], its span one of the [`TextStore`].
    Stored(u32),
}

/// One document: its file, and where it is.
#[derive(Clone, Copy, Debug)]
struct Entry {
    file: u32,
    slot: Slot,
}

/// The documents of a run, in input order, read back from their files when not held.
#[derive(Debug)]
pub struct FileTexts<'a> {
    files: &'a [InputFile],
    docs: Vec<Entry>,
    /// Stamp of each listed file whose documents are on disk.
    stamps: Vec<Option<FileStamp>>,
    /// Span of the text's JSON string of each record on disk, or of its text in
    /// `store` (see [`Slot`]), and its name.
    records: Vec<Range<u64>>,
    record_names: Names,
    held: Vec<Document>,
    store: Option<TextStore>,
    total_bytes: u64,
    /// Files opened again, the latest last (see [`OPEN_FILES`]).
    open: Mutex<Vec<(u32, Arc<fs::File>)>>,
}

impl<'a> FileTexts<'a> {
    /// No documents yet, from the listed `files`.
    pub fn new(files: &'a [InputFile]) -> FileTexts<'a> {
        FileTexts {
            files,
            docs: Vec::new(),
            stamps: vec![None; files.len()],
            records: Vec::new(),
            record_names: Names::default(),
            held: Vec::new(),
            store: None,
            total_bytes: 0,
            open: Mutex::new(Vec::new()),
        }
    }

    /// Appends the documents of listed file `file` (files are appended in list order).
    /// `bytes` is their total size.
    pub fn push(&mut self, file: u32, held: Held, bytes: u64) {
        self.total_bytes += bytes;
        let mut stamp_file = |stamp| {
            if let Some(s) = self.stamps.get_mut(file as usize) {
                *s = Some(stamp);
            }
        };
        match held {
            Held::File(stamp) => {
                stamp_file(stamp);
                self.docs.push(Entry {
                    file,
                    slot: Slot::File,
                });
            }
            Held::Records(stamp, records) => {
                stamp_file(stamp);
                for record in records {
                    match record {
                        Record::OnDisk(name, span) => {
                            self.push_span(file, &name, span, Slot::Record)
                        }
                        Record::Held(doc) => self.hold(file, doc),
                    }
                }
            }
            Held::Documents(docs) => {
                for doc in docs {
                    self.hold(file, doc);
                }
            }
            Held::Stored(records) => {
                for record in records {
                    match record {
                        Stored::InStore(name, span) => {
                            self.push_span(file, &name, span, Slot::Stored)
                        }
                        Stored::Held(doc) => self.hold(file, doc),
                    }
                }
            }
        }
    }

    /// Adds a document of listed file `file` named `name`, whose text is at `span` of
    /// the file (`Slot::Record`) or of the store (`Slot::Stored`).
    fn push_span(&mut self, file: u32, name: &str, span: Range<u64>, slot: fn(u32) -> Slot) {
        let i = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
        let file_name = self.files.get(file as usize).map_or("", |f| f.name());
        self.record_names.push_in(name, file_name);
        self.records.push(span);
        self.docs.push(Entry {
            file,
            slot: slot(i),
        });
    }

    /// Takes `store`, which holds the texts of the documents pushed as [`Held::Stored`].
    pub fn set_store(&mut self, store: TextStore) {
        self.store = Some(store);
    }

    /// Adds `doc`, of listed file `file`, held in memory.
    fn hold(&mut self, file: u32, mut doc: Document) {
        doc.id = u32::try_from(self.docs.len()).unwrap_or(u32::MAX);
        let i = u32::try_from(self.held.len()).unwrap_or(u32::MAX);
        self.docs.push(Entry {
            file,
            slot: Slot::Held(i),
        });
        self.held.push(doc);
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// True if no document was read.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Total bytes of all documents.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Where document `doc` is.
    fn place(&self, doc: u32) -> Place<'_> {
        let Some(entry) = self.docs.get(doc as usize) else {
            return Place::Missing;
        };
        let on_disk = match (
            self.files.get(entry.file as usize),
            self.stamps.get(entry.file as usize).copied().flatten(),
        ) {
            (Some(file), Some(stamp)) => Some(OnDisk {
                index: entry.file,
                file,
                stamp,
            }),
            _ => None,
        };
        match (entry.slot, on_disk) {
            (Slot::Held(i), _) => self
                .held
                .get(i as usize)
                .map_or(Place::Missing, Place::Held),
            (Slot::File, Some(at)) => Place::File(at),
            (Slot::Record(i), Some(at)) => match self.records.get(i as usize) {
                Some(span) => Place::Record(at, span.clone(), i),
                None => Place::Missing,
            },
            (Slot::Stored(i), _) => match (
                self.files.get(entry.file as usize),
                self.records.get(i as usize),
            ) {
                (Some(file), Some(span)) => Place::Stored(file, span.clone(), i),
                _ => Place::Missing,
            },
            _ => Place::Missing,
        }
    }

    /// Document `doc`, a JSON Lines record of `text`.
    fn record(&self, doc: u32, text: String) -> Document {
        Document {
            id: doc,
            name: self.name(doc).into_owned(),
            text,
            raw: None,
            json_span: None,
            part: None,
        }
    }

    /// The text of a stored record of `file`, read back from the store.
    fn stored_text(&self, file: &InputFile, span: Range<u64>) -> Result<String> {
        String::from_utf8(self.stored_bytes(file, span)?).map_err(|_| {
            Error::io(
                file.path(),
                io::Error::other("the temporary text store gave back other bytes"),
            )
        })
    }

    /// Bytes `span` of the store, which hold (part of) a record of `file`.
    fn stored_bytes(&self, file: &InputFile, span: Range<u64>) -> Result<Vec<u8>> {
        let store = self.store.as_ref().ok_or_else(|| {
            Error::io(
                file.path(),
                io::Error::other("the run's text store is gone"),
            )
        })?;
        store.read(span).map_err(|e| {
            Error::io(
                file.path(),
                io::Error::other(format!(
                    "reading a record back from the temporary text store: {e}"
                )),
            )
        })
    }
}

/// Where a document is.
enum Place<'t> {
    Held(&'t Document),
    /// A whole text file.
    File(OnDisk<'t>),
    /// A record of a JSON Lines file: the span of its JSON string, and its index in
    /// [`FileTexts::records`] (its name is made only when asked for: most lookups
    /// read the text).
    Record(OnDisk<'t>, Range<u64>, u32),
    /// A record of a compressed JSON Lines file: its file, the span of its text in the
    /// [`TextStore`], and its index in [`FileTexts::records`].
    Stored(&'t InputFile, Range<u64>, u32),
    Missing,
}

/// A listed file read again: its position in the list, and its stamp.
#[derive(Clone, Copy)]
struct OnDisk<'t> {
    index: u32,
    file: &'t InputFile,
    stamp: FileStamp,
}

impl FileTexts<'_> {
    /// The text of a record of `at`, decoded again from the span of its JSON string.
    fn record_text(&self, at: OnDisk<'_>, span: Range<u64>) -> Result<String> {
        let value = Reopened::open(&self.open, at)?.read(span.start, span.end)?;
        jsonl::decode_text(&value).ok_or_else(|| {
            Error::io(
                at.file.path(),
                io::Error::other(
                    "changed during the run: a record's text is no longer where it was read",
                ),
            )
        })
    }
}

/// A file opened again, checked to be as it was read.
struct Reopened<'t> {
    file: &'t InputFile,
    handle: Arc<fs::File>,
    len: u64,
}

/// Files kept open by [`FileTexts`] for the next reads, at most: a JSON Lines file is
/// read again once per quoted record.
const OPEN_FILES: usize = 64;

impl<'t> Reopened<'t> {
    /// Opens the file of `at` again, or takes its handle from `cache`, and checks that
    /// it still has its stamp. A handle kept open reads the file it was opened on even if
    /// a new file is renamed over the path: the bytes that were analyzed.
    fn open(cache: &Mutex<Vec<(u32, Arc<fs::File>)>>, at: OnDisk<'t>) -> Result<Reopened<'t>> {
        let OnDisk { index, file, stamp } = at;
        let fail = |e: io::Error| Error::io(file.path(), e);
        let lock = || {
            cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let cached = lock()
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, h)| Arc::clone(h));
        let (handle, meta) = match cached {
            Some(handle) => {
                let meta = handle.metadata().map_err(fail)?;
                (handle, meta)
            }
            None => {
                let (handle, meta) = corpus::open_with_metadata(file.path()).map_err(fail)?;
                let handle = Arc::new(handle);
                let mut open = lock();
                if open.len() >= OPEN_FILES {
                    open.remove(0);
                }
                open.push((index, Arc::clone(&handle)));
                (handle, meta)
            }
        };
        if FileStamp::of(&meta) != stamp {
            return Err(fail(io::Error::other(
                "changed during the run (size, modification time or inode); \
                 its spans cannot be quoted",
            )));
        }
        Ok(Reopened {
            file,
            handle,
            len: stamp.len,
        })
    }

    /// Bytes `start..end`, clamped to the file.
    fn read(&self, start: u64, end: u64) -> Result<Vec<u8>> {
        let end = end.min(self.len);
        let start = start.min(end);
        let mut buf = vec![0u8; (end - start) as usize];
        crate::spill::read_at(&self.handle, &mut buf, start)
            .map_err(|e| Error::io(self.file.path(), e))?;
        Ok(buf)
    }
}

/// Spans of one file closer than this are read as one range.
const READ_GAP: u32 = 4096;

/// The spans `run` of one document (indices into `wanted`, sorted by span) in groups
/// read as one range: each group, with the first byte and the end of its range. A
/// span that overlaps the range so far, or starts within [`READ_GAP`] of its end,
/// joins it.
fn close_groups<'r>(
    wanted: &'r [Span],
    run: &'r [usize],
) -> impl Iterator<Item = (&'r [usize], u32, u32)> + 'r {
    let mut k = 0;
    std::iter::from_fn(move || {
        let (_, from, mut to) = wanted[*run.get(k)?];
        let mut m = k + 1;
        while m < run.len() && wanted[run[m]].1 <= to.saturating_add(READ_GAP) {
            to = to.max(wanted[run[m]].2);
            m += 1;
        }
        let group = run.get(k..m)?;
        k = m;
        Some((group, from, to))
    })
}

impl DocSource for FileTexts<'_> {
    fn name(&self, doc: u32) -> Cow<'_, str> {
        match self.place(doc) {
            Place::Held(d) => Cow::Borrowed(&d.name),
            Place::File(at) => Cow::Borrowed(at.file.name()),
            Place::Record(at, _, i) => self.record_names.get_in(i as usize, at.file.name()),
            Place::Stored(file, _, i) => self.record_names.get_in(i as usize, file.name()),
            Place::Missing => Cow::Borrowed(""),
        }
    }

    fn document(&self, doc: u32) -> Result<Cow<'_, Document>> {
        match self.place(doc) {
            Place::Held(d) => Ok(Cow::Borrowed(d)),
            Place::File(at) => {
                let bytes = Reopened::open(&self.open, at)?.read(0, u64::MAX)?;
                Ok(Cow::Owned(Document::from_bytes(
                    doc,
                    at.file.name().to_string(),
                    bytes,
                )))
            }
            Place::Record(at, span, _) => {
                Ok(Cow::Owned(self.record(doc, self.record_text(at, span)?)))
            }
            Place::Stored(file, span, _) => {
                Ok(Cow::Owned(self.record(doc, self.stored_text(file, span)?)))
            }
            Place::Missing => Ok(Cow::Owned(Document::from_bytes(
                doc,
                String::new(),
                Vec::new(),
            ))),
        }
    }

    fn slice(&self, doc: u32, start: u32, end: u32) -> Result<Cow<'_, [u8]>> {
        Ok(self.slices(&[(doc, start, end)])?.pop().unwrap_or_default())
    }

    fn slices(&self, wanted: &[(u32, u32, u32)]) -> Result<Vec<Cow<'_, [u8]>>> {
        let mut out: Vec<Cow<'_, [u8]>> = vec![Cow::Borrowed(&[][..]); wanted.len()];
        let mut order: Vec<usize> = (0..wanted.len()).collect();
        order.sort_unstable_by_key(|&i| wanted[i]);
        for run in order.chunk_by(|&a, &b| wanted[a].0 == wanted[b].0) {
            let doc = wanted[run[0]].0;
            // Span `i` cut from `bytes`, which start at byte `base` of the document.
            let cut = |bytes: &[u8], base: u32, i: usize| {
                let (_, start, end) = wanted[i];
                let (start, end) = (start.saturating_sub(base), end.saturating_sub(base));
                let span = start as usize..(end.max(start) as usize).min(bytes.len());
                Cow::Owned(bytes.get(span).unwrap_or(&[]).to_vec())
            };
            match self.place(doc) {
                Place::Held(d) => {
                    for &i in run {
                        let (_, start, end) = wanted[i];
                        out[i] = Cow::Borrowed(d.slice(start, end));
                    }
                }
                Place::Record(at, span, _) => {
                    // Decoded once for all its spans.
                    let text = self.record_text(at, span)?;
                    for &i in run {
                        out[i] = cut(text.as_bytes(), 0, i);
                    }
                }
                Place::Stored(file, span, _) => {
                    // As a text file: spans that overlap or lie close are one read.
                    for (group, from, to) in close_groups(wanted, run) {
                        let start = span.start.saturating_add(from.into()).min(span.end);
                        let end = span.start.saturating_add(to.into()).clamp(start, span.end);
                        let bytes = self.stored_bytes(file, start..end)?;
                        for &i in group {
                            out[i] = cut(&bytes, from, i);
                        }
                    }
                }
                Place::File(at) => {
                    // One open per document; spans that overlap or lie close are one
                    // read.
                    let reopened = Reopened::open(&self.open, at)?;
                    for (group, from, to) in close_groups(wanted, run) {
                        let bytes = reopened.read(from.into(), to.into())?;
                        for &i in group {
                            out[i] = cut(&bytes, from, i);
                        }
                    }
                }
                Place::Missing => {}
            }
        }
        Ok(out)
    }

    fn file_of(&self, doc: u32) -> Option<u32> {
        self.docs.get(doc as usize).map(|e| e.file)
    }

    fn opens_files(&self) -> bool {
        true
    }

    fn documents(&self) -> usize {
        self.docs.len()
    }
}

/// A span of a document: (document, start, end), as [`DocSource::slices`] takes them.
pub type Span = (u32, u32, u32);

/// Bytes of report spans taken while they were at hand: the assemble stage reads every
/// paragraph that holds a passage, and keeps the passages' own bytes here (within a
/// budget), so that the report need not open those files again.
#[derive(Clone, Debug, Default)]
pub struct SpanTexts {
    /// The spans (document, start, end), sorted and distinct.
    spans: Vec<Span>,
    /// `bytes[ends[i - 1]..ends[i]]` are span `i`'s (from 0 for the first).
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

impl SpanTexts {
    /// The texts of `spans`, each span with its bytes. A span given twice is held once:
    /// its bytes are the same each time, the document's.
    pub fn new(mut spans: Vec<(Span, &[u8])>) -> SpanTexts {
        use rayon::prelude::*;
        spans.par_sort_unstable_by_key(|&(span, _)| span);
        spans.dedup_by_key(|&mut (span, _)| span);
        let mut out = SpanTexts {
            spans: Vec::with_capacity(spans.len()),
            ends: Vec::with_capacity(spans.len()),
            bytes: Vec::with_capacity(spans.iter().map(|(_, b)| b.len()).sum()),
        };
        for (span, bytes) in spans {
            out.spans.push(span);
            out.bytes.extend_from_slice(bytes);
            out.ends.push(out.bytes.len());
        }
        out
    }

    /// The spans of all `parts`, in one.
    pub fn concat(mut parts: Vec<SpanTexts>) -> SpanTexts {
        parts.retain(|p| !p.spans.is_empty());
        if parts.len() <= 1 {
            return parts.pop().unwrap_or_default();
        }
        SpanTexts::new(parts.iter().flat_map(SpanTexts::iter).collect())
    }

    /// Each span with its bytes, in order.
    fn iter(&self) -> impl Iterator<Item = (Span, &[u8])> + '_ {
        self.spans
            .iter()
            .enumerate()
            .map(|(i, &span)| (span, self.text(i)))
    }

    /// The bytes of the `i`th span.
    fn text(&self, i: usize) -> &[u8] {
        let from = i.checked_sub(1).map_or(0, |p| self.ends[p]);
        self.bytes.get(from..self.ends[i]).unwrap_or_default()
    }

    /// Number of bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The bytes of span `(doc, start, end)`, if held.
    pub fn get(&self, span: Span) -> Option<&[u8]> {
        let i = self.spans.binary_search(&span).ok()?;
        Some(self.text(i))
    }
}

/// A [`DocSource`] that quotes the spans of a [`SpanTexts`] from memory, and reads any
/// other from `inner`.
pub struct WithSpanTexts<'a, S: ?Sized> {
    held: &'a SpanTexts,
    inner: &'a S,
}

impl<'a, S: DocSource + ?Sized> WithSpanTexts<'a, S> {
    /// `inner`, its spans held in `held` taken from there.
    pub fn new(held: &'a SpanTexts, inner: &'a S) -> WithSpanTexts<'a, S> {
        WithSpanTexts { held, inner }
    }
}

impl<S: DocSource + ?Sized> DocSource for WithSpanTexts<'_, S> {
    fn name(&self, doc: u32) -> Cow<'_, str> {
        self.inner.name(doc)
    }

    fn document(&self, doc: u32) -> Result<Cow<'_, Document>> {
        self.inner.document(doc)
    }

    fn slice(&self, doc: u32, start: u32, end: u32) -> Result<Cow<'_, [u8]>> {
        match self.held.get((doc, start, end)) {
            Some(bytes) => Ok(Cow::Borrowed(bytes)),
            None => self.inner.slice(doc, start, end),
        }
    }

    fn slices(&self, wanted: &[Span]) -> Result<Vec<Cow<'_, [u8]>>> {
        let held: Vec<Option<&[u8]>> = wanted.iter().map(|&w| self.held.get(w)).collect();
        let missing: Vec<Span> = wanted
            .iter()
            .zip(&held)
            .filter(|(_, h)| h.is_none())
            .map(|(&w, _)| w)
            .collect();
        let mut read = if missing.is_empty() {
            Vec::new()
        } else {
            self.inner.slices(&missing)?
        }
        .into_iter();
        Ok(held
            .into_iter()
            .map(|h| match h {
                Some(bytes) => Cow::Borrowed(bytes),
                None => read.next().unwrap_or_default(),
            })
            .collect())
    }

    fn documents(&self) -> usize {
        self.inner.documents()
    }

    fn opens_files(&self) -> bool {
        self.inner.opens_files()
    }

    fn file_of(&self, doc: u32) -> Option<u32> {
        self.inner.file_of(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(dir: &std::path::Path, name: &str, bytes: &[u8]) -> InputFile {
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap();
        let mut f = InputFile::new(path, name.to_string());
        f.len = Some(bytes.len() as u64);
        f
    }

    fn hold(files: &[InputFile]) -> FileTexts<'_> {
        let mut texts = FileTexts::new(files);
        for (i, f) in files.iter().enumerate() {
            let stamp = FileStamp::read(f.path()).ok();
            let (docs, _) = corpus::read_input(f, &corpus::ReadOptions::default());
            let bytes = docs.iter().map(|d| d.bytes().len() as u64).sum();
            texts.push(i as u32, Held::new(f, stamp, docs), bytes);
        }
        texts
    }

    #[test]
    fn text_files_and_records_are_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            listed(dir.path(), "a.txt", b"first \xff file\n"),
            listed(
                dir.path(),
                "b.jsonl",
                b"{\"id\":1,\"text\":\"one\"}\n{\"id\":2,\"text\":\"two two\"}\n",
            ),
            listed(dir.path(), "c.txt", "ثالث".as_bytes()),
        ];
        let texts = hold(&files);
        assert_eq!(texts.len(), 4);
        assert!(texts.held.is_empty());
        assert_eq!(texts.records.len(), 2);
        assert_eq!(texts.total_bytes(), 13 + 3 + 7 + 8);
        assert_eq!(texts.name(0), "a.txt");
        assert_eq!(texts.name(2), "b.jsonl#2");
        assert_eq!(texts.file_of(2), Some(1));
        assert_eq!(texts.file_of(3), Some(2));
        assert_eq!(&*texts.slice(0, 5, 8).unwrap(), b" \xff ");
        assert_eq!(&*texts.slice(2, 4, 7).unwrap(), b"two");
        assert_eq!(texts.name(1), "b.jsonl#1");
        assert_eq!(texts.document(1).unwrap().text, "one");
        let spans = texts.slices(&[(2, 4, 7), (1, 0, 3), (2, 0, 3)]).unwrap();
        assert_eq!(spans, [&b"two"[..], b"one", b"two"]);
        assert_eq!(&*texts.slice(3, 2, 8).unwrap(), "الث".as_bytes());
        let doc = texts.document(0).unwrap();
        assert_eq!(doc.text, "first \u{1A} file\n");
        assert_eq!(doc.bytes(), b"first \xff file\n");
        assert_eq!(texts.document(3).unwrap().text, "ثالث");
        // Past the end, nothing; an unknown document is empty.
        assert!(texts.slice(3, 8, 20).unwrap().is_empty());
        assert!(texts.slice(9, 0, 5).unwrap().is_empty());
    }

    #[test]
    fn compressed_records_are_read_back_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let body = "{\"id\":\"x\",\"text\":\"one\"}\n{\"id\":7,\"text\":\"ثاني two\"}\n\
                    {\"id\":8,\"text\":\"\"}\n{\"text\":\"no id\"}\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, body.as_bytes()).unwrap();
        let files = vec![
            listed(dir.path(), "a.txt", b"text file\n"),
            listed(dir.path(), "r.jsonl.gz", &gz.finish().unwrap()),
        ];
        let store = TextStore::new(dir.path()).unwrap();
        let mut texts = FileTexts::new(&files);
        let (docs, _) = corpus::read_input(&files[0], &corpus::ReadOptions::default());
        let stamp = FileStamp::read(files[0].path()).ok();
        texts.push(0, Held::new(&files[0], stamp, docs), 10);
        let (docs, _) = corpus::read_input(&files[1], &corpus::ReadOptions::default());
        let want: Vec<(String, String)> = docs
            .iter()
            .map(|d| (d.name.clone(), d.text.clone()))
            .collect();
        // Two batches, as a file read in batches stores them.
        let mut docs = docs;
        let second = docs.split_off(2);
        let mut stored = store.store(docs);
        stored.extend(store.store(second));
        assert!(stored.iter().all(|s| matches!(s, Stored::InStore(..))));
        texts.push(1, Held::Stored(stored), 17);
        texts.set_store(store);
        assert!(texts.held.is_empty());
        assert_eq!(texts.len(), 5);
        for (i, (name, text)) in want.iter().enumerate() {
            let doc = 1 + i as u32;
            assert_eq!(texts.name(doc), name.as_str());
            assert_eq!(texts.file_of(doc), Some(1));
            assert_eq!(&texts.document(doc).unwrap().text, text);
        }
        assert_eq!(texts.name(4), "r.jsonl.gz#4");
        let spans = texts
            .slices(&[(2, 9, 12), (1, 0, 3), (2, 0, 8), (0, 0, 4)])
            .unwrap();
        assert_eq!(spans, [&b"two"[..], b"one", "ثاني".as_bytes(), b"text"]);
        assert!(texts.slice(3, 0, 5).unwrap().is_empty());

        // Texts larger than one write, and across writes, come back whole.
        let store = TextStore::new(dir.path()).unwrap();
        let big: String = "أب ab ".repeat(STORE_WRITE_BYTES / 3);
        let batch: Vec<Document> = ["x", &big, "", "y z", &big[5..]]
            .iter()
            .enumerate()
            .map(|(i, t)| Document::from_bytes(0, format!("r.jsonl.gz#{i}"), t.as_bytes().to_vec()))
            .collect();
        let want: Vec<String> = batch.iter().map(|d| d.text.clone()).collect();
        for (stored, text) in store.store(batch).into_iter().zip(&want) {
            let Stored::InStore(_, span) = stored else {
                panic!("held");
            };
            assert_eq!(store.read(span).unwrap(), text.as_bytes());
        }

        // A store that cannot be written holds the batch in memory.
        let read_only = TextStore {
            file: fs::File::open(files[0].path()).unwrap(),
            len: AtomicU64::new(0),
        };
        let doc = Document::from_bytes(0, "r.jsonl.gz#1".to_string(), b"kept".to_vec());
        let stored = read_only.store(vec![doc]);
        assert!(matches!(&stored[..], [Stored::Held(d)] if d.text == "kept"));
    }

    #[test]
    fn records_past_the_stamped_size_are_held() {
        // A file that grew while it was read: its second record lies past the size it
        // was stamped with, so only the first is read again from the file.
        let dir = tempfile::tempdir().unwrap();
        let first = b"{\"id\":1,\"text\":\"one\"}\n";
        let body = [&first[..], b"{\"id\":2,\"text\":\"two two\"}\n"].concat();
        let files = vec![listed(dir.path(), "g.jsonl", &body)];
        let stamp = FileStamp::read(files[0].path()).unwrap();
        let stamp = FileStamp {
            len: first.len() as u64,
            ..stamp
        };
        let (docs, _) = corpus::read_input(&files[0], &corpus::ReadOptions::default());
        let records: Vec<Record> = docs
            .into_iter()
            .map(|d| Record::of(d, stamp.size()))
            .collect();
        assert!(matches!(records[0], Record::OnDisk(..)));
        assert!(matches!(records[1], Record::Held(..)));
        let mut texts = FileTexts::new(&files);
        texts.push(0, Held::Records(stamp, records), 10);
        assert_eq!((texts.records.len(), texts.held.len()), (1, 1));
        assert_eq!(texts.name(1), "g.jsonl#2");
        assert_eq!(&*texts.slice(1, 4, 7).unwrap(), b"two");
        assert_eq!(texts.document(1).unwrap().id, 1);
        // The record on disk is checked against the stamp, which the file no longer
        // matches: an error, not a quote of other bytes.
        assert!(texts.slice(0, 0, 3).is_err());
    }

    #[test]
    fn compressed_records_and_unstamped_files_are_held() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"{\"text\":\"zipped\"}\n").unwrap();
        let files = vec![
            listed(dir.path(), "c.jsonl.gz", &gz.finish().unwrap()),
            listed(dir.path(), "d.txt", b"plain"),
        ];
        let (docs, _) = corpus::read_input(&files[1], &corpus::ReadOptions::default());
        let mut texts = hold(&files[..1]);
        texts.files = &files;
        texts.stamps.push(None);
        texts.push(1, Held::new(&files[1], None, docs), 5);
        assert_eq!(texts.held.len(), 2);
        assert_eq!(&*texts.slice(0, 0, 3).unwrap(), b"zip");
        assert_eq!(&*texts.slice(1, 1, 5).unwrap(), b"lain");
        // Held texts are quoted even when the files change.
        fs::remove_file(files[1].path()).unwrap();
        assert_eq!(&*texts.slice(1, 1, 5).unwrap(), b"lain");
    }

    #[test]
    fn a_file_changed_during_the_run_is_an_error_naming_it() {
        // A text file rewritten with another size; a JSON Lines file rewritten with the
        // same size (its modification time may not move within its resolution, but
        // the record's text is no longer a JSON string where it was).
        // (name, bytes before, bytes after, the span 0..4 quoted before)
        type Case<'a> = (&'a str, &'a [u8], &'a [u8], &'a [u8]);
        let cases: [Case; 2] = [
            (
                "a.txt",
                b"some words here\n",
                b"other words, longer now\n",
                b"some",
            ),
            (
                "r.jsonl",
                b"{\"text\":\"first\"}\n",
                b"{\"text\" :\"first\"}",
                b"firs",
            ),
        ];
        for (name, before, after, quoted) in cases {
            let dir = tempfile::tempdir().unwrap();
            let files = vec![listed(dir.path(), name, before)];
            let texts = hold(&files);
            assert_eq!(&*texts.slice(0, 0, 4).unwrap(), quoted);
            fs::write(files[0].path(), after).unwrap();
            let err = texts.slice(0, 0, 4).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains("changed"), "{err}");
            assert!(texts.document(0).is_err());
            fs::remove_file(files[0].path()).unwrap();
            let err = texts.slice(0, 0, 4).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    /// Held spans are quoted from memory, in place among those read from the source;
    /// a span held twice, or in two parts, is one span.
    #[test]
    fn held_spans_are_quoted_from_memory_and_others_read() {
        let docs = vec![
            Document::from_bytes(0, "a.txt".to_string(), b"alpha beta gamma".to_vec()),
            Document::from_bytes(1, "b.txt".to_string(), "ألف باء".as_bytes().to_vec()),
        ];
        // Bytes the documents do not hold, to tell which path quoted them.
        let parts = vec![
            SpanTexts::new(vec![((1, 0, 6), &b"HELD-1"[..]), ((0, 6, 10), b"HELD")]),
            SpanTexts::default(),
            SpanTexts::new(vec![((0, 6, 10), &b"HELD"[..]), ((0, 0, 5), b"HELD0")]),
        ];
        let held = SpanTexts::concat(parts);
        assert_eq!(held.bytes(), 6 + 4 + 5);
        assert_eq!(held.get((0, 6, 10)), Some(&b"HELD"[..]));
        assert_eq!(held.get((0, 6, 11)), None);
        let quoted = WithSpanTexts::new(&held, docs.as_slice());
        let wanted = [(0, 11, 16), (1, 0, 6), (0, 6, 10), (1, 7, 13), (0, 0, 5)];
        let got = quoted.slices(&wanted).unwrap();
        let want: [&[u8]; 5] = [b"gamma", b"HELD-1", b"HELD", "باء".as_bytes(), b"HELD0"];
        assert_eq!(got, want);
        assert_eq!(&*quoted.slice(0, 6, 10).unwrap(), b"HELD");
        assert_eq!(&*quoted.slice(0, 0, 4).unwrap(), b"alph");
        assert_eq!(quoted.name(1), "b.txt");
        assert_eq!(quoted.documents(), 2);
    }
}
