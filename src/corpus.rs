//! Finding and reading input files.
//!
//! This is one of the two I/O edges of the pipeline. It turns paths into [`Document`]s
//! (original bytes plus a same-length UTF-8 view) and reports, without failing the run,
//! every file it had to skip. A text file is one document; a JSON Lines file is one
//! document per record ([`crate::jsonl`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::jsonl;
use crate::segment::{self, ModeCounter, ParagraphMode};
use crate::texts::FileStamp;

/// Files at or above this size are skipped: spans are stored as `u32` byte offsets.
pub const MAX_FILE_BYTES: u64 = u32::MAX as u64;

/// Stands in, in [`Document::text`], for each byte of the input that is not valid UTF-8.
/// It is one byte wide, so offsets into the text are offsets into the file, and the
/// normalizer treats it as a word separator.
pub const INVALID_BYTE: char = '\u{1A}';

/// An input file found by [`list_files`], not yet read: where to read it
/// ([`Self::path`]), its name in the report ([`Self::name`]), where it goes in a cleaned
/// corpus ([`Self::rel_path`]) and its size when listed.
///
/// A listing holds one of these per file, millions of them for a large corpus, so the
/// three are held in one string when they can be: when the path is UTF-8 and the name
/// and the relative path are its tails, as they are for every file found below a
/// directory named in UTF-8. That is one allocation a file instead of three.
#[derive(Clone, Debug)]
pub struct InputFile {
    names: FileNames,
    /// Its size when it was listed, if known. A file whose size differs when it is read
    /// is being written to, and is skipped.
    pub len: Option<u64>,
}

/// The path, name and relative path of an [`InputFile`].
#[derive(Clone, Debug)]
enum FileNames {
    /// A UTF-8 path whose tails from `name_at` and from `rel_at` (byte offsets, at
    /// character boundaries) are the name and the relative path.
    Tails {
        path: Box<str>,
        name_at: u32,
        rel_at: u32,
    },
    /// Any other file: the three, each held whole.
    Held(Box<HeldNames>),
}

/// The path, name and relative path of an [`InputFile`] that are not one string.
#[derive(Clone, Debug)]
struct HeldNames {
    path: PathBuf,
    name: String,
    rel_path: PathBuf,
}

impl InputFile {
    /// A file to read from `path`, named `name` in the report, of unknown size. Its
    /// relative path is the name's normal components.
    pub fn new(path: PathBuf, name: String) -> InputFile {
        let rel_path = relative_parts(Path::new(&name));
        InputFile::named(path, name, rel_path)
    }

    /// A file to read from `path`, named `name` in the report, going to `rel_path` in a
    /// cleaned corpus, of unknown size.
    pub fn named(path: PathBuf, name: String, rel_path: PathBuf) -> InputFile {
        let tails = path.to_str().and_then(|p| {
            let at = |tail: &str| {
                p.ends_with(tail)
                    .then(|| u32::try_from(p.len() - tail.len()).ok())
                    .flatten()
            };
            Some((at(&name)?, at(rel_path.to_str()?)?))
        });
        let names = match (tails, path.into_os_string().into_string()) {
            (Some((name_at, rel_at)), Ok(path)) => FileNames::Tails {
                path: path.into_boxed_str(),
                name_at,
                rel_at,
            },
            (_, path) => FileNames::Held(Box::new(HeldNames {
                path: path.map_or_else(PathBuf::from, PathBuf::from),
                name,
                rel_path,
            })),
        };
        InputFile { names, len: None }
    }

    /// Bytes this entry takes in a listing: its own and its strings', with 16 bytes of
    /// the allocator's for each string.
    pub fn held_bytes(&self) -> usize {
        const ALLOCATION: usize = 16;
        std::mem::size_of::<InputFile>()
            + match &self.names {
                FileNames::Tails { path, .. } => path.len() + ALLOCATION,
                FileNames::Held(held) => {
                    std::mem::size_of::<HeldNames>()
                        + held.path.as_os_str().len()
                        + held.name.len()
                        + held.rel_path.as_os_str().len()
                        + 4 * ALLOCATION
                }
            }
    }

    /// The same file, with its listed size.
    pub fn with_len(mut self, len: Option<u64>) -> InputFile {
        self.len = len;
        self
    }

    /// Where to read it.
    pub fn path(&self) -> &Path {
        match &self.names {
            FileNames::Tails { path, .. } => Path::new(&**path),
            FileNames::Held(held) => &held.path,
        }
    }

    /// Its name in the report: the path relative to the scanned directory with `/`
    /// separators, or the path as given for a file named directly. A file name that is
    /// not UTF-8 is converted lossily here (and only here).
    pub fn name(&self) -> &str {
        match &self.names {
            FileNames::Tails { path, name_at, .. } => tail(path, *name_at),
            FileNames::Held(held) => &held.name,
        }
    }

    /// The same name as a relative OS path, without lossy conversion and without `.`,
    /// `..` or root components: where the file goes in a cleaned corpus.
    pub fn rel_path(&self) -> &Path {
        match &self.names {
            FileNames::Tails { path, rel_at, .. } => Path::new(tail(path, *rel_at)),
            FileNames::Held(held) => &held.rel_path,
        }
    }
}

/// `s` from byte `at`, a character boundary [`InputFile::named`] found.
fn tail(s: &str, at: u32) -> &str {
    s.get(at as usize..).unwrap_or_default()
}

impl PartialEq for InputFile {
    fn eq(&self, other: &InputFile) -> bool {
        self.path() == other.path()
            && self.name() == other.name()
            && self.rel_path() == other.rel_path()
            && self.len == other.len
    }
}

impl Eq for InputFile {}

/// Something a run could not do fully, reported on stderr; the run goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The file or directory concerned; for a line of a JSON Lines file, `path:line`
    /// (the line number is 1-based).
    pub path: PathBuf,
    /// What happened.
    pub message: String,
    /// True if the file was skipped, false if it was read with a caveat.
    pub skipped: bool,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.skipped { "skipped" } else { "warning" };
        write!(f, "{}: {what}: {}", self.path.display(), self.message)
    }
}

/// One document, read: a text file, or one record of a JSON Lines file.
#[derive(Clone, Debug)]
pub struct Document {
    /// Position of the document in the input (files in the sorted input list, the
    /// records of a JSON Lines file in line order): the stable document id.
    pub id: u32,
    /// Name in the report: the file's name, and for a JSON Lines record `name#id`.
    pub name: String,
    /// The text. For a text file, byte for byte the file except that each invalid UTF-8
    /// byte is replaced by [`INVALID_BYTE`], so offsets into it are offsets into the
    /// file. For a JSON Lines record, the decoded text field.
    pub text: String,
    /// The original bytes, kept only when they differ from `text` (invalid UTF-8).
    pub raw: Option<Vec<u8>>,
    /// For a record of an uncompressed JSON Lines file, the byte span in the file of the
    /// JSON string its text was decoded from (quotes included), so that the text can be
    /// read again without holding it.
    pub json_span: Option<std::ops::Range<u64>>,
    /// For one part of a text file read in parts ([`Batching::parts`]), where the part
    /// is in its file. The parts of a file come in order, and together are its bytes.
    pub part: Option<Part>,
}

/// Where a part of a text file read in parts ([`Batching::parts`]) is in its file. The
/// part starts after a paragraph break ([`segment::paragraph_breaks`]), so it
/// splits into the paragraphs the whole file has there, with their offsets moved by
/// `offset` and their lines by `lines`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// Byte offset of the part in its file: 0 for the first part.
    pub offset: u32,
    /// Line breaks in the file before the part.
    pub lines: u32,
    /// The paragraph mode, resolved over the whole file ([`segment::ModeCounter`]).
    pub mode: ParagraphMode,
}

/// How [`read_input_batched`] hands over a file's documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batching {
    /// Documents go to the callback in batches of about this many bytes of text
    /// (`u64::MAX`: all at once).
    pub bytes: u64,
    /// When set, a text file larger than `bytes` is read in parts of about `bytes`
    /// ([`Document::part`]), cut at paragraph breaks of this mode; otherwise it is one
    /// document.
    pub text_parts: Option<ParagraphMode>,
}

impl Batching {
    /// Every document at once.
    pub const WHOLE: Batching = Batching {
        bytes: u64::MAX,
        text_parts: None,
    };

    /// Records in batches of about `bytes`; a text file whole.
    pub fn records(bytes: u64) -> Batching {
        Batching {
            bytes,
            text_parts: None,
        }
    }

    /// Records in batches of about `bytes`, and a text file larger than that in parts
    /// of about `bytes`, cut at paragraph breaks of `mode`.
    pub fn parts(bytes: u64, mode: ParagraphMode) -> Batching {
        Batching {
            bytes,
            text_parts: Some(mode),
        }
    }
}

impl Document {
    /// Builds a document from the original bytes.
    pub fn from_bytes(id: u32, name: String, bytes: Vec<u8>) -> Document {
        // SIMD validation: several times faster than the standard library's on
        // non-ASCII text, where it was 6 % of a run's CPU time.
        if simdutf8::basic::from_utf8(&bytes).is_ok() {
            // SAFETY: `bytes` was just validated as UTF-8, and is not changed since.
            let text = unsafe { String::from_utf8_unchecked(bytes) };
            return Document {
                id,
                name,
                text,
                raw: None,
                json_span: None,
                part: None,
            };
        }
        let text = decode_keeping_offsets(&bytes);
        Document {
            id,
            name,
            text,
            raw: Some(bytes),
            json_span: None,
            part: None,
        }
    }

    /// The original bytes of the file (of the decoded text field, for a record).
    pub fn bytes(&self) -> &[u8] {
        self.raw.as_deref().unwrap_or(self.text.as_bytes())
    }

    /// The original bytes of a span.
    pub fn slice(&self, start: u32, end: u32) -> &[u8] {
        self.bytes()
            .get(start as usize..end as usize)
            .unwrap_or(&[])
    }
}

/// Names packed in one string and read back by position: a name costs its bytes and
/// one offset, not a `String` of its own. The name of a JSON Lines record, `file#id`,
/// keeps only its id, and a document named as its file (a text file) keeps nothing
/// (see [`Names::push_in`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    all: String,
    /// End of each name in `all`.
    ends: Vec<usize>,
    /// What each entry of `all` is.
    kinds: Vec<NameKind>,
}

/// What an entry of [`Names`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NameKind {
    /// The whole name.
    Own,
    /// The id of a record, named `file#id`.
    Record,
    /// Nothing: the name is its file's.
    File,
}

impl Names {
    /// Appends `name`, the next position's.
    pub(crate) fn push(&mut self, name: &str) {
        self.push_kind(name, NameKind::Own);
    }

    fn push_kind(&mut self, stored: &str, kind: NameKind) {
        self.all.push_str(stored);
        self.ends.push(self.all.len());
        self.kinds.push(kind);
    }

    /// Appends `name`, the name of a document of the file named `file`: a record's
    /// `file#id` keeps only its id, and a name that is the file's keeps nothing.
    pub(crate) fn push_in(&mut self, name: &str, file: &str) {
        if file.is_empty() {
            return self.push(name);
        }
        match name.strip_prefix(file) {
            Some("") => self.push_kind("", NameKind::File),
            Some(rest) => match rest.strip_prefix('#') {
                Some(id) => self.push_kind(id, NameKind::Record),
                None => self.push(name),
            },
            None => self.push(name),
        }
    }

    /// The name at position `i` of a document of the file named `file` (see
    /// [`Names::push_in`]).
    pub(crate) fn get_in<'a>(&'a self, i: usize, file: &'a str) -> Cow<'a, str> {
        let name = self.get(i);
        match self.kinds.get(i) {
            Some(NameKind::Record) => Cow::Owned(format!("{file}#{name}")),
            Some(NameKind::File) => Cow::Borrowed(file),
            Some(NameKind::Own) | None => Cow::Borrowed(name),
        }
    }

    /// The name at position `i` (empty past the end).
    pub(crate) fn get(&self, i: usize) -> &str {
        let start = match i.checked_sub(1) {
            Some(prev) => self.ends.get(prev).copied().unwrap_or(usize::MAX),
            None => 0,
        };
        self.ends
            .get(i)
            .and_then(|&end| self.all.get(start..end))
            .unwrap_or("")
    }
}

/// The text view of original bytes, as [`Document::from_bytes`] makes it: borrowed when
/// they are valid UTF-8. A slice of a document cut at character boundaries of its text
/// decodes to the same slice of that text (UTF-8 synchronizes at every boundary).
pub fn decoded(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => std::borrow::Cow::Owned(decode_keeping_offsets(bytes)),
    }
}

/// Lossy UTF-8 decoding that keeps every offset: each invalid byte becomes one
/// [`INVALID_BYTE`].
fn decode_keeping_offsets(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for _ in chunk.invalid() {
            text.push(INVALID_BYTE);
        }
    }
    text
}

/// Lists the regular files under `roots`, in a deterministic order: roots in the order
/// given, files of a directory sorted by path. Hidden entries (name starting with `.`)
/// are left out unless `hidden`. A root that does not exist is an error; anything
/// unreadable below a root is a warning. Special files (FIFOs, sockets, devices) are
/// never listed, and so never opened. A file reached twice under the same name (roots
/// that overlap, such as `corpus` and `./corpus`) is listed once.
pub fn list_files(roots: &[PathBuf], hidden: bool) -> Result<(Vec<InputFile>, Vec<Warning>)> {
    // What each root is, first: a missing root fails the run before any walk.
    let metas = roots
        .iter()
        .map(|root| {
            fs::metadata(root).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound if root.is_symlink() => Error::io(
                    root,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "broken symlink"),
                ),
                std::io::ErrorKind::NotFound => Error::MissingPath(root.clone()),
                _ => Error::io(root, e),
            })
        })
        .collect::<Result<Vec<fs::Metadata>>>()?;
    // The directories are walked in parallel (each walk is parallel too, but reads one
    // directory at a time), then joined in the roots' order.
    let walked: Vec<(Vec<InputFile>, Vec<Warning>)> = roots
        .par_iter()
        .zip(&metas)
        .with_max_len(1)
        .map(|(root, meta)| {
            let mut warned = Vec::new();
            if !meta.is_dir() {
                return (Vec::new(), warned);
            }
            let prefix = (roots.len() > 1).then_some(root.as_path());
            let files = walk_dir(root, prefix, hidden, &mut warned);
            warned.sort_by(|a, b| a.path.cmp(&b.path));
            (files, warned)
        })
        .collect();
    let mut pieces = Vec::with_capacity(roots.len());
    let mut warnings = Vec::new();
    for ((root, meta), (walked, warned)) in roots.iter().zip(&metas).zip(walked) {
        if meta.is_dir() {
            pieces.push(walked);
            warnings.extend(warned);
        } else if meta.is_file() {
            pieces.push(vec![InputFile::named(
                root.clone(),
                display_name(root),
                relative_parts(root),
            )
            .with_len(Some(meta.len()))]);
        } else {
            warnings.push(Warning {
                path: root.clone(),
                message: NOT_REGULAR.to_string(),
                skipped: true,
            });
        }
    }
    let files = joined(pieces);
    // Under one root every file has its own relative path.
    let files = if roots.len() > 1 {
        drop_repeats(files, &mut warnings)
    } else {
        files
    };
    for f in &files {
        if f.rel_path().to_str().is_none() {
            warnings.push(Warning {
                path: f.path().to_path_buf(),
                message: format!("file name is not UTF-8; reported as {:?}", f.name()),
                skipped: false,
            });
        }
    }
    Ok((files, warnings))
}

/// Removes the second listing of a file reached twice under the same relative path
/// (overlapping roots). Two different files that share a relative path are both kept.
/// The list is filtered in place, and the map of relative paths borrows them: a list
/// of millions of files is not copied.
fn drop_repeats(mut files: Vec<InputFile>, warnings: &mut Vec<Warning>) -> Vec<InputFile> {
    let mut repeats = Vec::new();
    {
        let mut first: HashMap<&Path, usize> = HashMap::with_capacity(files.len());
        for (i, f) in files.iter().enumerate() {
            match first.entry(f.rel_path()) {
                std::collections::hash_map::Entry::Occupied(seen) => {
                    let kept = &files[*seen.get()];
                    if same_file(kept.path(), f.path()) {
                        warnings.push(Warning {
                            path: f.path().to_path_buf(),
                            message: format!(
                                "already listed as {}; read once",
                                kept.path().display()
                            ),
                            skipped: false,
                        });
                        repeats.push(i);
                    }
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
    }
    // `repeats` is in increasing order, as `retain` visits the files.
    let mut repeats = repeats.into_iter().peekable();
    let mut i = 0;
    files.retain(|_| {
        let keep = repeats.next_if_eq(&i).is_none();
        i += 1;
        keep
    });
    files
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The normal components of `path`: no root, no `.`, no `..`.
fn relative_parts(path: &Path) -> PathBuf {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect()
}

/// Lists the files under directory `root` in the order [`sort_listing`] gives, each with
/// its size, and what could not be listed into `warnings`. Symbolic links are followed,
/// which costs a `stat` of every entry by path; so the walk first trusts the types the
/// directory reports ([`TypedWalk`]), and only if it meets a link does it start again
/// following links.
fn walk_dir(
    root: &Path,
    prefix: Option<&Path>,
    hidden: bool,
    warnings: &mut Vec<Warning>,
) -> Vec<InputFile> {
    let typed = TypedWalk {
        hidden,
        met_link: AtomicBool::new(false),
        warnings: Mutex::new(Vec::new()),
    };
    let pieces = typed.dir(root, Below::prefix(prefix).as_ref());
    if !typed.met_link.into_inner() {
        warnings.extend(
            typed
                .warnings
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        return joined(pieces);
    }
    drop(pieces);
    sort_listing(walk_followed(root, prefix, hidden, warnings))
}

/// What the names and relative paths of the files below a directory start with.
struct Below {
    name: String,
    rel: PathBuf,
}

impl Below {
    /// What the files of a root scanned with others start with: the root as given
    /// (without a trailing `/`) and its normal components.
    fn prefix(prefix: Option<&Path>) -> Option<Below> {
        prefix.map(|p| Below {
            name: display_name(p).trim_end_matches('/').to_string(),
            rel: relative_parts(p),
        })
    }

    /// The name and relative path of `name` and `rel` below `below`, if any.
    fn join(below: Option<&Below>, name: String, rel: &Path) -> (String, PathBuf) {
        match below {
            Some(b) => (format!("{}/{name}", b.name), b.rel.join(rel)),
            None => (name, rel.to_path_buf()),
        }
    }
}

/// The walk of a tree without links: each directory's entries are sorted by name, so
/// the files come out in the order of [`sort_listing`] with no sort of the whole list
/// and no sort key per file, and a file's size is read by `fstatat` on its directory's
/// handle (what [`fs::DirEntry::metadata`] does on Linux), so that the kernel looks up
/// only the file's own name, not every component of its path.
///
/// Directories are listed in parallel, and so are the sizes of one directory's files.
/// A directory's handle is closed before its subdirectories are opened: the handles
/// held grow with the threads (and the tasks one thread steals while it waits), not
/// with the depth of the tree.
struct TypedWalk {
    hidden: bool,
    /// Set at the first link met; the walks still going then stop.
    met_link: AtomicBool,
    warnings: Mutex<Vec<Warning>>,
}

/// An entry of a directory being listed, sorted by name: a regular file, with its size
/// once read, or a subdirectory.
enum Entry<F> {
    File(F),
    Dir(OsString),
}

/// The name of an entry of [`TypedWalk::dir`], as bytes.
fn entry_name(e: &Entry<(OsString, fs::DirEntry)>) -> &[u8] {
    match e {
        Entry::File((n, _)) | Entry::Dir(n) => n.as_encoded_bytes(),
    }
}

impl TypedWalk {
    fn warn(&self, path: PathBuf, message: String) {
        self.warnings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Warning {
                path,
                message,
                skipped: true,
            });
    }

    /// The files below directory `path`, whose names and relative paths start with
    /// `below`'s (none at a root, unless several roots are scanned).
    fn dir(&self, path: &Path, below: Option<&Below>) -> Vec<Vec<InputFile>> {
        if self.met_link.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let reader = match fs::read_dir(path) {
            Ok(reader) => reader,
            Err(err) => {
                self.warn(path.to_path_buf(), describe_io(&err, path));
                return Vec::new();
            }
        };
        let mut entries = Vec::new();
        for entry in reader {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    self.warn(path.to_path_buf(), describe_io(&err, path));
                    break;
                }
            };
            let file_name = entry.file_name();
            if !self.hidden && is_hidden(&file_name) {
                continue;
            }
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(err) => {
                    let at = entry.path();
                    self.warn(at.clone(), describe_io(&err, &at));
                    continue;
                }
            };
            if file_type.is_symlink() {
                self.met_link.store(true, Ordering::Relaxed);
                return Vec::new();
            }
            if file_type.is_dir() {
                entries.push(Entry::Dir(file_name));
            } else if file_type.is_file() {
                entries.push(Entry::File((file_name, entry)));
            } else {
                self.warn(entry.path(), NOT_REGULAR.to_string());
            }
        }
        entries.sort_unstable_by(|a, b| entry_name(a).cmp(entry_name(b)));
        let child = |file_name: &OsStr| {
            let name = file_name.to_string_lossy().into_owned();
            Below::join(below, name, Path::new(file_name))
        };
        // Runs of files between subdirectories, each made one piece of the listing.
        let mut parts: Vec<Entry<Vec<(OsString, fs::DirEntry)>>> = Vec::new();
        for e in entries {
            match (e, parts.last_mut()) {
                (Entry::File(f), Some(Entry::File(run))) => run.push(f),
                (Entry::File(f), _) => parts.push(Entry::File(vec![f])),
                (Entry::Dir(n), _) => parts.push(Entry::Dir(n)),
            }
        }
        // The files' sizes, in parallel; the directory's handle closes with the last of
        // its entries, here, before any subdirectory is opened.
        let parts: Vec<Entry<Vec<InputFile>>> = parts
            .into_iter()
            .map(|part| match part {
                Entry::File(run) => Entry::File(
                    run.into_par_iter()
                        .with_min_len(SIZED_BATCH)
                        .map(|(file_name, entry)| {
                            let (name, rel_path) = child(&file_name);
                            InputFile::named(path.join(&file_name), name, rel_path)
                                .with_len(entry.metadata().ok().map(|m| m.len()))
                        })
                        .collect(),
                ),
                Entry::Dir(n) => Entry::Dir(n),
            })
            .collect();
        let below: Vec<Vec<Vec<InputFile>>> = parts
            .par_iter()
            .filter_map(|e| match e {
                Entry::Dir(n) => Some(n),
                Entry::File(_) => None,
            })
            .map(|n| {
                let (name, rel) = child(n);
                self.dir(&path.join(n), Some(&Below { name, rel }))
            })
            .collect();
        let mut below = below.into_iter();
        let mut pieces = Vec::new();
        for part in parts {
            match part {
                Entry::File(run) => pieces.push(run),
                Entry::Dir(_) => pieces.extend(below.next().unwrap_or_default()),
            }
        }
        pieces
    }
}

/// A listed file with its sort key (see [`sized_and_keyed`]).
type Keyed = (Vec<u8>, InputFile);

/// The files of `pieces`, in order. Each piece is freed as soon as it is moved, and
/// what is freed goes back to the system as the list grows, so the list is not held
/// twice (the pieces lie in the worker threads' heaps, which keep what is freed). A
/// single piece is taken as it is.
fn joined(mut pieces: Vec<Vec<InputFile>>) -> Vec<InputFile> {
    if pieces.len() == 1 {
        return pieces.pop().unwrap_or_default();
    }
    let mut files = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
    let mut moved = 0;
    for piece in pieces {
        moved += piece.len();
        files.extend(piece);
        if moved >= RELEASE_AFTER_FILES {
            crate::pipeline::release_free_memory();
            moved = 0;
        }
    }
    files
}

/// Files moved into a joined listing between two hand-backs of freed memory: 16 MiB
/// of [`InputFile`]s.
const RELEASE_AFTER_FILES: usize = 1 << 18;

/// Files whose sizes one task reads while the walk goes on.
const SIZED_BATCH: usize = 512;

/// The walk of [`walk_dir`] that follows links, with the sizes of the files read as it
/// goes.
///
/// Reading a directory is sequential, and so is the walk, but a size costs a `stat`,
/// about a microsecond each on 70,000 small files: the walk hands every batch of
/// [`SIZED_BATCH`] files to another thread, which reads their sizes (and makes their
/// sort keys) while the walk reads the next entries.
fn walk_followed(
    root: &Path,
    prefix: Option<&Path>,
    hidden: bool,
    warnings: &mut Vec<Warning>,
) -> Vec<Keyed> {
    let sized: Mutex<Vec<Vec<Keyed>>> = Mutex::new(Vec::new());
    let keep = |batch| {
        sized
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(batch)
    };
    rayon::scope(|scope| {
        let mut batch = Vec::with_capacity(SIZED_BATCH);
        walk(root, prefix, hidden, warnings, &mut |file| {
            batch.push(file);
            if batch.len() == SIZED_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(SIZED_BATCH));
                scope.spawn(|_| keep(sized_and_keyed(full)));
            }
        });
        keep(sized_and_keyed(batch));
    });
    sized
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

/// One walk of [`walk_followed`], handing each file found (without its size) to
/// `found`.
fn walk(
    root: &Path,
    prefix: Option<&Path>,
    hidden: bool,
    warnings: &mut Vec<Warning>,
    found: &mut dyn FnMut(InputFile),
) {
    let below = Below::prefix(prefix);
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| hidden || e.depth() == 0 || !is_hidden(e.file_name()));
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf());
                let message = if err.loop_ancestor().is_some() {
                    "symlink loop".to_string()
                } else if let Some(io) = err.io_error() {
                    describe_io(io, &path)
                } else {
                    err.to_string()
                };
                warnings.push(Warning {
                    path,
                    message,
                    skipped: true,
                });
                continue;
            }
        };
        let file_type = entry.file_type();
        if file_type.is_dir() {
            continue;
        }
        if !file_type.is_file() {
            warnings.push(Warning {
                path: entry.path().to_path_buf(),
                message: NOT_REGULAR.to_string(),
                skipped: true,
            });
            continue;
        }
        let (name, rel_path) = match plain_below(entry.path(), root) {
            Some(name) => (name.to_string(), PathBuf::from(name)),
            None => {
                let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                (name, relative_parts(rel))
            }
        };
        let (name, rel_path) = Below::join(below.as_ref(), name, &rel_path);
        found(InputFile::named(entry.into_path(), name, rel_path));
    }
}

/// `path` below `root`, a directory it was found below, as a string, if it is UTF-8
/// made only of normal components joined by single `/`s: then it is the file's report
/// name and relative path. The walk joins entry names onto the root, so on Unix this
/// is the rest of the path's bytes after the root's and a `/`, cut without parsing
/// either into components.
fn plain_below<'p>(path: &'p Path, root: &Path) -> Option<&'p str> {
    if !cfg!(unix) {
        return None;
    }
    let (p, r) = (
        path.as_os_str().as_encoded_bytes(),
        root.as_os_str().as_encoded_bytes(),
    );
    let rest = p.strip_prefix(r)?;
    let rest = if r.ends_with(b"/") {
        rest
    } else {
        rest.strip_prefix(b"/")?
    };
    let rest = std::str::from_utf8(rest).ok()?;
    let plain = !rest.is_empty()
        && rest
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    plain.then_some(rest)
}

/// `files`, each with its size, and its sort key for [`sort_listing`]: its relative
/// path with every separator made a 0 byte, which no name holds and which sorts before
/// any other byte, so that keys compare as the paths' components do.
fn sized_and_keyed(files: Vec<InputFile>) -> Vec<Keyed> {
    files
        .into_iter()
        .map(|mut f| {
            f.len = fs::metadata(f.path()).ok().map(|m| m.len());
            let key = f
                .rel_path()
                .as_os_str()
                .as_encoded_bytes()
                .iter()
                .map(|&b| {
                    if std::path::is_separator(char::from(b)) {
                        0
                    } else {
                        b
                    }
                })
                .collect();
            (key, f)
        })
        .collect()
}

/// The files [`walk_dir`] listed under one root, in the order of a depth-first walk
/// with each directory's entries sorted by name. (The caller sorts the walk's warnings
/// by path.)
///
/// The walk itself is not sorted: sorting each directory's entries by name parses
/// paths at every comparison, a fifth of a listing's time on a directory of 70,000
/// files. Here each file has one key (see [`sized_and_keyed`]).
fn sort_listing(mut keyed: Vec<Keyed>) -> Vec<InputFile> {
    keyed.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, f)| f).collect()
}

fn describe_io(err: &std::io::Error, path: &Path) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound if path.is_symlink() => "broken symlink".to_string(),
        std::io::ErrorKind::NotFound => {
            "no longer exists (removed after it was listed)".to_string()
        }
        _ => err.to_string(),
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

fn display_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '/' {
        s.into_owned()
    } else {
        s.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

/// Outcome of reading one file: a document, possibly with a warning, or a skip.
#[derive(Debug)]
pub enum ReadOutcome {
    /// The file was read; the warning, if any, says what was odd (invalid UTF-8).
    Read(Document, Option<Warning>),
    /// The file was skipped, for the reason given.
    Skipped(Warning),
}

/// Reads one file. Never fails the run: any problem becomes a skip with a warning.
///
/// The listing never lists a special file, so a FIFO or a device is opened only if one
/// is swapped in for a listed file. Even then it cannot block the scan: the file is
/// opened non-blocking and checked through its handle before a byte is read. A file
/// that vanished since it was listed, or whose size differs from its listed size or
/// changes while it is read (it is being written), is skipped: its text would not be
/// consistent.
pub fn read_file(id: u32, file: &InputFile) -> ReadOutcome {
    read_file_stamped(id, file).0
}

/// [`read_file`], with the stamp of the file taken through its handle before it was
/// read, if it got that far.
///
/// A small file costs little more than its system calls, so there are few: one open,
/// one `fstat` for the checks and the stamp, the reads (one for a file that does not
/// change, see [`read_to_len`]) and the close. No `stat` by path repeats the listing's.
fn read_file_stamped(id: u32, file: &InputFile) -> (ReadOutcome, Option<FileStamp>) {
    let skip = |message: String| {
        ReadOutcome::Skipped(Warning {
            path: file.path().to_path_buf(),
            message,
            skipped: true,
        })
    };
    let (handle, len, stamp) = match open_listed(file) {
        Ok(opened) => opened,
        Err((message, stamp)) => return (skip(message), stamp),
    };
    let bytes = match read_to_len(handle, len) {
        Ok(bytes) => bytes,
        Err(err) => return (skip(describe_io(&err, file.path())), Some(stamp)),
    };
    if bytes.contains(&0) {
        return (skip(nul_reason(&bytes).to_string()), Some(stamp));
    }
    let doc = Document::from_bytes(id, file.name().to_string(), bytes);
    let warning = doc.raw.as_ref().map(|_| Warning {
        path: file.path().to_path_buf(),
        message: INVALID_UTF8.to_string(),
        skipped: false,
    });
    (ReadOutcome::Read(doc, warning), Some(stamp))
}

/// Reads the text file `file` in parts of about `part_bytes` ([`Part`]), each cut after a
/// paragraph break of `mode` ([`segment::paragraph_breaks`]; a paragraph longer than a
/// part makes its part longer), and hands each to `each` as it is read. The file
/// is checked first, read through once: a file with a NUL byte is skipped, as
/// [`read_input`] skips it, before any part is handed over, and an `Auto` mode is
/// resolved over the whole file.
fn read_text_parts(
    file: &InputFile,
    mode: ParagraphMode,
    part_bytes: u64,
    on_bytes: &(dyn Fn(u64) + Sync),
    each: &mut dyn FnMut(Vec<Document>) -> ControlFlow<()>,
) -> InputRead {
    let warn = |message: String, skipped: bool| Warning {
        path: file.path().to_path_buf(),
        message,
        skipped,
    };
    let skipped = |message: String, stamp: Option<FileStamp>| InputRead {
        warnings: vec![warn(message, true)],
        stamp,
        ..InputRead::default()
    };
    let (mut handle, len, stamp) = match open_listed(file) {
        Ok(opened) => opened,
        Err((message, stamp)) => return skipped(message, stamp),
    };
    let skipped = |message: String| skipped(message, Some(stamp));
    let mode = match check_text(&mut handle, len, mode) {
        Ok(Ok(mode)) => mode,
        Ok(Err(message)) => return skipped(message.to_string()),
        Err(err) => return skipped(describe_io(&err, file.path())),
    };
    if let Err(err) = std::io::Seek::rewind(&mut handle) {
        return skipped(describe_io(&err, file.path()));
    }
    let part_bytes = usize::try_from(part_bytes).unwrap_or(usize::MAX);
    let mut invalid = false;
    let mut warnings = Vec::new();
    let parts = for_each_part(
        &mut Read::take(handle, len),
        mode,
        part_bytes,
        &mut |part| {
            on_bytes(part.bytes.len() as u64);
            let mut doc = Document::from_bytes(0, file.name().to_string(), part.bytes);
            invalid |= doc.raw.is_some();
            doc.part = Some(Part {
                offset: u32::try_from(part.offset).unwrap_or(u32::MAX),
                lines: part.lines,
                mode,
            });
            each(vec![doc])
        },
    );
    match parts {
        Ok(read) if read != len => warnings.push(warn(
            format!("changed size while it was read ({len} bytes, then {read})"),
            false,
        )),
        Ok(_) => {}
        Err(err) => warnings.push(warn(describe_io(&err, file.path()), false)),
    }
    if invalid {
        warnings.push(warn(INVALID_UTF8.to_string(), false));
    }
    InputRead {
        docs: Vec::new(),
        warnings,
        stamp: Some(stamp),
    }
}

/// One part of a text read in parts ([`for_each_part`]).
pub(crate) struct TextPart {
    /// Its byte offset in the text.
    pub offset: u64,
    /// Line breaks in the text before it.
    pub lines: u32,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Reads `reader` to its end in parts of about `part_bytes` (at least one byte), each
/// ending after a paragraph break of `mode`, resolved ([`segment::paragraph_breaks`]),
/// and hands each to `each` in order, until it breaks. A part ends at the last break in
/// its first `part_bytes` bytes; with none there, at the first break after, so a
/// paragraph longer than a part makes its part longer. Returns the bytes read.
pub(crate) fn for_each_part(
    reader: &mut impl Read,
    mode: ParagraphMode,
    part_bytes: usize,
    each: &mut dyn FnMut(TextPart) -> ControlFlow<()>,
) -> std::io::Result<u64> {
    let part_bytes = part_bytes.max(1);
    let mut buf: Vec<u8> = Vec::new();
    let (mut offset, mut lines, mut eof) = (0u64, 0u32, false);
    loop {
        // The byte after the first `want` tells whether a `\r` there ends its line. With
        // no break in them, `want` doubles and the first break is taken.
        let mut want = part_bytes;
        let cut = loop {
            fill(reader, &mut buf, want.saturating_add(1), &mut eof)?;
            let window = &buf[..buf.len().min(want.saturating_add(1))];
            let complete = eof && window.len() == buf.len();
            if complete && buf.len() <= part_bytes {
                break buf.len();
            }
            let mut breaks = segment::paragraph_breaks(window, mode, complete);
            let found = if want == part_bytes {
                breaks.last()
            } else {
                breaks.next()
            };
            match found {
                Some(cut) => break cut,
                None if complete => break buf.len(),
                None => want = want.saturating_mul(2),
            }
        };
        if cut == 0 {
            return Ok(offset);
        }
        let rest = buf.split_off(cut);
        let bytes = std::mem::replace(&mut buf, rest);
        let part = TextPart {
            offset,
            lines,
            bytes,
        };
        offset += cut as u64;
        lines = lines.saturating_add(segment::line_breaks(&part.bytes));
        if each(part).is_break() {
            return Ok(offset);
        }
    }
}

/// Reads from `reader` until `buf` holds `want` bytes or the reader ends (`eof`).
fn fill(
    reader: &mut impl Read,
    buf: &mut Vec<u8>,
    want: usize,
    eof: &mut bool,
) -> std::io::Result<()> {
    while !*eof && buf.len() < want {
        let at = buf.len();
        let room = (want - at).min(READ_BLOCK);
        buf.resize(at + room, 0);
        match reader.read(&mut buf[at..]) {
            Ok(0) => {
                buf.truncate(at);
                *eof = true;
            }
            Ok(n) => buf.truncate(at + n),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => buf.truncate(at),
            Err(err) => {
                buf.truncate(at);
                return Err(err);
            }
        }
    }
    Ok(())
}

/// Bytes a check or a part read asks for at once.
const READ_BLOCK: usize = 1 << 20;

/// Reads the `len` bytes of `reader` once: why the file is not read as text if it has
/// a NUL byte, else `mode` resolved over its text.
pub(crate) fn check_text(
    reader: &mut impl Read,
    len: u64,
    mode: ParagraphMode,
) -> std::io::Result<std::result::Result<ParagraphMode, &'static str>> {
    let mut counter = (mode == ParagraphMode::Auto).then(ModeCounter::default);
    let mut reader = Read::take(reader, len);
    let mut buf = Vec::with_capacity(READ_BLOCK + 4);
    let (mut eof, mut first, mut seen) = (false, true, 0u64);
    while !eof {
        fill(&mut reader, &mut buf, READ_BLOCK, &mut eof)?;
        seen += buf.len() as u64;
        if memchr::memchr(0, &buf).is_some() {
            return Ok(Err(if first { nul_reason(&buf) } else { NUL_BINARY }));
        }
        first = false;
        // Decoded up to a point where UTF-8 decoding starts afresh, the rest kept for
        // the next block.
        let cut = if eof {
            buf.len()
        } else {
            decodable_prefix(&buf)
        };
        if let Some(counter) = counter.as_mut() {
            counter.feed(&decoded(&buf[..cut]));
        }
        buf.drain(..cut);
        seen -= buf.len() as u64;
    }
    if seen != len {
        return Err(std::io::Error::other(format!(
            "changed size while it was read ({len} bytes, then {seen}); it is being written"
        )));
    }
    Ok(Ok(counter.map_or(mode, ModeCounter::finish)))
}

/// How much of `bytes`, the start of a longer text, decodes on its own as it does in
/// the whole ([`decoded`]): all of it when it ends with an ASCII byte, else up to its
/// last byte that is not a UTF-8 continuation byte, among the last four. When the last
/// four are all continuation bytes, the last cannot belong to a valid sequence, and all
/// of `bytes` is taken.
fn decodable_prefix(bytes: &[u8]) -> usize {
    if bytes.last().is_some_and(u8::is_ascii) {
        return bytes.len();
    }
    let from = bytes.len().saturating_sub(4);
    (from..bytes.len())
        .rev()
        .find(|&i| bytes[i] & 0xC0 != 0x80)
        .unwrap_or(bytes.len())
}

/// Why a text file with a NUL byte is skipped, given its first bytes.
fn nul_reason(start: &[u8]) -> &'static str {
    if start.starts_with(&[0xFF, 0xFE]) || start.starts_with(&[0xFE, 0xFF]) {
        "UTF-16 text is not read, only UTF-8 (contains NUL bytes)"
    } else {
        NUL_BINARY
    }
}

/// Why a text file with a NUL byte is skipped, unless it starts as UTF-16 does.
const NUL_BINARY: &str = "binary file (contains NUL bytes)";

/// Opens the listed file `file` to read it: its handle, its size (under the limit) and
/// its stamp; else why it is skipped, with its stamp if it was taken.
fn open_listed(
    file: &InputFile,
) -> std::result::Result<(fs::File, u64, FileStamp), (String, Option<FileStamp>)> {
    let (handle, meta) =
        open_with_metadata(file.path()).map_err(|err| (describe_io(&err, file.path()), None))?;
    let stamp = check_size(file, &meta).map_err(|message| (message, None))?;
    let len =
        check_limit(meta.len()).map_err(|err| (describe_io(&err, file.path()), Some(stamp)))?;
    Ok((handle, len, stamp))
}

/// The caveat of a text file that is not valid UTF-8.
const INVALID_UTF8: &str = "invalid UTF-8, decoded lossily (offsets refer to the original bytes)";

/// That `file` is still a regular file of its listed size: its stamp if so, why not
/// if not.
fn check_listed(file: &InputFile) -> std::result::Result<FileStamp, String> {
    let meta = fs::metadata(file.path()).map_err(|err| describe_io(&err, file.path()))?;
    if !meta.is_file() {
        return Err(NOT_REGULAR.to_string());
    }
    check_size(file, &meta)
}

/// That `meta`, the metadata of a regular file, gives `file`'s listed size: the file's
/// stamp if so, why not if not.
fn check_size(file: &InputFile, meta: &fs::Metadata) -> std::result::Result<FileStamp, String> {
    match file.len {
        Some(listed) if listed != meta.len() => Err(format!(
            "changed size since it was listed ({listed} bytes, now {}); it is being written",
            meta.len()
        )),
        _ => Ok(FileStamp::of(meta)),
    }
}

/// Why a special file is skipped.
const NOT_REGULAR: &str = "not a regular file (FIFO, socket or device)";

/// `len`, a file's size, if a file of that size can be read whole; an error if not.
fn check_limit(len: u64) -> std::io::Result<u64> {
    if len >= MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "file of {len} bytes is too large (limit {} bytes)",
            MAX_FILE_BYTES - 1
        )));
    }
    Ok(len)
}

/// Opens `path` for reading without ever blocking on a FIFO (non-blocking open on Unix,
/// which regular files ignore) and checks through the handle that it is a regular file
/// under the size limit. Returns the file and its size.
pub fn open_regular(path: &Path) -> std::io::Result<(fs::File, u64)> {
    let (f, len) = open_nonblocking(path)?;
    Ok((f, check_limit(len)?))
}

/// [`open_regular`] without the size limit, for files read as a stream of records.
pub(crate) fn open_nonblocking(path: &Path) -> std::io::Result<(fs::File, u64)> {
    open_with_metadata(path).map(|(f, meta)| (f, meta.len()))
}

/// [`open_nonblocking`], returning the file's metadata (read through the handle).
pub(crate) fn open_with_metadata(path: &Path) -> std::io::Result<(fs::File, fs::Metadata)> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let f = options.open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(NOT_REGULAR));
    }
    Ok((f, meta))
}

/// Reads the whole of `f`, an open regular file of `len` bytes. A file whose size
/// changes while it is read is an error.
///
/// The buffer has one byte more than expected, which tells a file that grows apart
/// from one that does not. A regular file reads short only at its end, so a read that
/// fills the buffer up to `len` and no further has met the end: a file that does not
/// change takes one read, not a second one that returns nothing.
fn read_to_len(mut f: impl Read, len: u64) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(std::io::Error::other)?;
    let mut bytes = vec![0u8; len + 1];
    let mut filled = 0;
    // At least one read, even for an empty file, which may have grown.
    loop {
        match f.read(bytes.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if filled >= len {
                    break;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    if filled != len {
        return Err(std::io::Error::other(format!(
            "changed size while it was read ({len} bytes, then {}); it is being written",
            if filled > len {
                "more".to_string()
            } else {
                filled.to_string()
            }
        )));
    }
    bytes.truncate(len);
    Ok(bytes)
}

/// How records are read from JSON Lines inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// The field of a record that holds its text.
    pub text_field: String,
    /// The field of a record that holds its id (a string or a number), which names the
    /// record in the report as `path#id`.
    pub id_field: String,
}

impl Default for ReadOptions {
    /// `text` and `id`, the fields most JSON Lines corpora use.
    fn default() -> ReadOptions {
        ReadOptions {
            text_field: "text".to_string(),
            id_field: "id".to_string(),
        }
    }
}

/// Reads one listed input: a text file gives one document (none if it is skipped), a
/// JSON Lines file ([`jsonl::format_of`]) one document per good record, in line order.
/// Every document has `id` 0: callers number the documents of all inputs in input
/// order. Never fails: each problem is a warning.
pub fn read_input(file: &InputFile, opts: &ReadOptions) -> (Vec<Document>, Vec<Warning>) {
    let read = read_input_observed(file, opts, &|_| {});
    (read.docs, read.warnings)
}

/// What reading one listed input gave.
#[derive(Debug, Default)]
pub struct InputRead {
    /// Its documents (see [`read_input`]).
    pub docs: Vec<Document>,
    /// What was odd, or why it was skipped.
    pub warnings: Vec<Warning>,
    /// The file's stamp, taken before it was opened; none if it was skipped before.
    /// A run that reads the file again checks it against this.
    pub stamp: Option<FileStamp>,
}

/// [`read_input`], calling `on_bytes` with the number of bytes read from the file on
/// disk as reading goes on (compressed bytes for a compressed file), for a progress
/// display. The calls add up to the file's size when it is read whole.
pub fn read_input_observed(
    file: &InputFile,
    opts: &ReadOptions,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> InputRead {
    let mut docs = Vec::new();
    let read = read_input_batched(file, opts, on_bytes, Batching::WHOLE, &mut |batch| {
        docs.extend(batch);
        ControlFlow::Continue(())
    });
    InputRead { docs, ..read }
}

/// [`read_input_observed`], handing the documents to `each` in batches of about
/// `batching.bytes` of text as they are read, so that a JSON Lines file of any size is
/// read in bounded memory. A text file is one document, one batch, unless
/// `batching.text_parts` is set and it is larger than a batch: it is then read in parts
/// of about a batch each, one batch each ([`Document::part`]). The returned
/// [`InputRead`] has no documents: `each` had them. Stops early if `each` breaks.
pub fn read_input_batched(
    file: &InputFile,
    opts: &ReadOptions,
    on_bytes: &(dyn Fn(u64) + Sync),
    batching: Batching,
    each: &mut dyn FnMut(Vec<Document>) -> ControlFlow<()>,
) -> InputRead {
    let Some(compression) = jsonl::format_of(file.path()) else {
        if let Some(mode) = batching.text_parts {
            if file.len.is_some_and(|len| len > batching.bytes) {
                return read_text_parts(file, mode, batching.bytes, on_bytes, each);
            }
        }
        let (outcome, stamp) = read_file_stamped(0, file);
        let warnings = match outcome {
            ReadOutcome::Read(doc, warning) => {
                on_bytes(doc.bytes().len() as u64);
                // A single document: there is nothing after it to stop.
                let _ = each(vec![doc]);
                warning.into_iter().collect()
            }
            ReadOutcome::Skipped(warning) => vec![warning],
        };
        return InputRead {
            docs: Vec::new(),
            warnings,
            stamp,
        };
    };
    let stamp = match check_listed(file) {
        Ok(stamp) => stamp,
        Err(message) => {
            return InputRead {
                warnings: vec![Warning {
                    path: file.path().to_path_buf(),
                    message,
                    skipped: true,
                }],
                ..InputRead::default()
            }
        }
    };
    let warnings =
        jsonl::read_documents_batched(file, compression, opts, on_bytes, batching.bytes, each);
    InputRead {
        docs: Vec::new(),
        warnings,
        stamp: Some(stamp),
    }
}

/// Reads `files` in parallel. Returns the documents read, in input order (and a JSON
/// Lines file's records in line order), numbered from 0 in that order, and the warnings
/// in the same order.
pub fn read_all(files: &[InputFile], opts: &ReadOptions) -> (Vec<Document>, Vec<Warning>) {
    use rayon::prelude::*;
    let per_file: Vec<(Vec<Document>, Vec<Warning>)> =
        files.par_iter().map(|f| read_input(f, opts)).collect();
    let mut docs = Vec::new();
    let mut warnings = Vec::new();
    for (file_docs, file_warnings) in per_file {
        docs.extend(file_docs);
        warnings.extend(file_warnings);
    }
    number_documents(&mut docs);
    (docs, warnings)
}

/// Sets each document's `id` to its position. Past `u32::MAX` documents, which do not
/// fit in memory anyway, ids saturate.
pub fn number_documents(docs: &mut [Document]) {
    for (i, doc) in docs.iter_mut().enumerate() {
        doc.id = u32::try_from(i).unwrap_or(u32::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader of `text` that hands out at most `chunk` bytes per read, and counts
    /// its reads.
    struct Chunked<'a> {
        text: &'a [u8],
        chunk: usize,
        reads: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.reads += 1;
            let n = buf.len().min(self.chunk).min(self.text.len());
            buf[..n].copy_from_slice(&self.text[..n]);
            self.text = &self.text[n..];
            Ok(n)
        }
    }

    /// A file read at its listed size gives its bytes, a file that grew or shrank is an
    /// error, however its reads are cut; a file that does not change is read in one
    /// read when the reads are not cut.
    #[test]
    fn files_are_read_at_their_listed_size() {
        let text = b"0123456789";
        /// Bytes on disk, listed size, bytes per read, read whole, reads.
        type Case = (&'static [u8], u64, usize, bool, Option<usize>);
        let cases: [Case; 9] = [
            (text, 10, usize::MAX, true, Some(1)),
            (text, 10, 3, true, None),
            (text, 10, 1, true, None),
            (b"", 0, usize::MAX, true, Some(1)),
            (text, 9, usize::MAX, false, None),
            (text, 9, 4, false, None),
            (text, 0, usize::MAX, false, None),
            (text, 11, usize::MAX, false, None),
            (text, 11, 2, false, None),
        ];
        for (on_disk, len, chunk, whole, reads) in cases {
            let mut reader = Chunked {
                text: on_disk,
                chunk,
                reads: 0,
            };
            let read = read_to_len(&mut reader, len);
            let case = format!("{} bytes listed as {len}, {chunk} per read", on_disk.len());
            if whole {
                assert_eq!(read.unwrap(), on_disk, "{case}");
            } else {
                let err = read.unwrap_err().to_string();
                assert!(
                    err.contains("changed size while it was read"),
                    "{case}: {err}"
                );
            }
            if let Some(reads) = reads {
                assert_eq!(reader.reads, reads, "{case}");
            }
        }
    }

    /// Reads `file` with [`Batching::parts`]: the documents handed over, and the warnings.
    fn read_parts(path: &Path, bytes: u64, mode: ParagraphMode) -> (Vec<Document>, Vec<Warning>) {
        let (files, _) = list_files(&[path.to_path_buf()], false).unwrap();
        let mut docs = Vec::new();
        let read = read_input_batched(
            &files[0],
            &ReadOptions::default(),
            &|_| {},
            Batching::parts(bytes, mode),
            &mut |batch| {
                assert_eq!(batch.len(), 1, "a part is a batch");
                docs.extend(batch);
                ControlFlow::Continue(())
            },
        );
        (docs, read.warnings)
    }

    /// A text file larger than a batch is handed over in parts: they are its bytes, each
    /// after a paragraph break of the file's mode (resolved over all of it), placed by
    /// offset and line, and split into the paragraphs the whole file has.
    #[test]
    fn text_files_are_read_in_parts_at_paragraph_breaks() {
        let dir = tempfile::tempdir().unwrap();
        let long = "a long line of words that goes on and on ".repeat(4);
        let mut wrapped = format!("{long}\n\n{long}\n\n");
        for i in 0..60 {
            wrapped.push_str(&format!("block {i} first\r\nsecond line\r\nthird\r\n\r\n"));
        }
        let mut lines = String::new();
        for i in 0..200 {
            lines.push_str(&format!("line {i} \u{627}\u{644}\u{646}\u{635}\r\n\r"));
        }
        let one_line = format!("start {}\nend\n", "word ".repeat(100));
        let mut invalid = b"good line\n".repeat(30);
        invalid.extend_from_slice(b"bad \xC3\xFF line\n");
        invalid.extend_from_slice(&b"more\n".repeat(30));
        let cases: Vec<(&str, Vec<u8>, ParagraphMode, ParagraphMode, usize)> = vec![
            // (name, bytes, mode asked, mode resolved, fewest parts)
            (
                "wrapped.txt",
                wrapped.into_bytes(),
                ParagraphMode::Auto,
                ParagraphMode::Blank,
                10,
            ),
            (
                "lines.txt",
                lines.into_bytes(),
                ParagraphMode::Line,
                ParagraphMode::Line,
                20,
            ),
            (
                "one-line.txt",
                one_line.into_bytes(),
                ParagraphMode::Line,
                ParagraphMode::Line,
                2,
            ),
            (
                "invalid.txt",
                invalid,
                ParagraphMode::Auto,
                ParagraphMode::Line,
                4,
            ),
        ];
        for (name, bytes, mode, resolved, fewest) in cases {
            let path = dir.path().join(name);
            fs::write(&path, &bytes).unwrap();
            let (docs, warnings) = read_parts(&path, 100, mode);
            assert!(docs.len() >= fewest, "{name}: {} parts", docs.len());
            let (mut offset, mut lines, mut joined) = (0, 0, Vec::new());
            let mut paragraphs = Vec::new();
            for (i, doc) in docs.iter().enumerate() {
                let part = doc.part.unwrap();
                assert_eq!(
                    (part.offset, part.lines),
                    (offset, lines),
                    "{name}: part {i}"
                );
                assert_eq!(part.mode, resolved, "{name}: part {i}");
                if i + 1 < docs.len() {
                    let last = *doc.bytes().last().unwrap();
                    assert!(
                        last == b'\n' || last == b'\r',
                        "{name}: part {i} ends a line"
                    );
                }
                paragraphs.extend(
                    segment::paragraphs(&doc.text, part.mode)
                        .into_iter()
                        .map(|p| segment::Paragraph {
                            start: p.start + offset,
                            end: p.end + offset,
                            line: p.line + lines,
                        }),
                );
                offset += doc.bytes().len() as u32;
                lines += segment::line_breaks(doc.bytes());
                joined.extend_from_slice(doc.bytes());
            }
            assert_eq!(joined, bytes, "{name}: the parts are the file");
            let whole = Document::from_bytes(0, name.into(), bytes);
            assert_eq!(paragraphs, segment::paragraphs(&whole.text, mode), "{name}");
            let caveats: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
            let want: &[&str] = if whole.raw.is_some() {
                &[INVALID_UTF8]
            } else {
                &[]
            };
            assert_eq!(caveats, want, "{name}");
        }
        // The first part of the wrapped file alone would resolve to `Line`: its mode is
        // the whole file's.
        let (docs, _) = read_parts(&dir.path().join("wrapped.txt"), 100, ParagraphMode::Auto);
        let first = &docs[0].text;
        assert_eq!(
            segment::resolve_mode(first, ParagraphMode::Auto),
            ParagraphMode::Line
        );
        // A line longer than a part is one part.
        let (docs, _) = read_parts(&dir.path().join("one-line.txt"), 100, ParagraphMode::Line);
        assert_eq!(docs[0].bytes().len(), "start ".len() + 500 + 1);

        // A NUL byte anywhere skips the file before any part is handed over; a file no
        // larger than a part is one document.
        let mut nul = b"text line\n".repeat(100);
        nul.extend_from_slice(b"\0\n");
        let path = dir.path().join("nul.txt");
        fs::write(&path, &nul).unwrap();
        let (docs, warnings) = read_parts(&path, 100, ParagraphMode::Line);
        assert!(docs.is_empty());
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].skipped && warnings[0].message == NUL_BINARY);
        let path = dir.path().join("small.txt");
        fs::write(&path, b"one\ntwo\n").unwrap();
        let (docs, warnings) = read_parts(&path, 100, ParagraphMode::Line);
        assert_eq!((docs.len(), docs[0].part, warnings.len()), (1, None, 0));
    }

    #[test]
    fn decodable_prefixes_end_where_decoding_starts_afresh() {
        let text = "aé漢😀";
        for cut in 0..=text.len() {
            let p = decodable_prefix(&text.as_bytes()[..cut]);
            assert!(p <= cut && text.is_char_boundary(p), "{cut}: {p}");
        }
        // Four continuation bytes: the last is stray, everything is taken.
        assert_eq!(decodable_prefix(b"ab\x80\x80\x80\x80"), 6);
        assert_eq!(decodable_prefix(b"ab\xF0\x9F\x98"), 2);
        assert_eq!(decodable_prefix(b"ab\xC3\xA9"), 2);
        assert_eq!(decodable_prefix(b"ab"), 2);
        // Decoded in blocks cut there (a block that gives nothing grows, as a check's
        // buffer does), a text with invalid bytes decodes as a whole.
        let bytes = b"x\xC3\xA9\xFF\xF0\x9F\x98\x80\x80\x80\x80\x80\x80y\xE6\xBC";
        for block in 1..8 {
            let (mut out, mut from) = (String::new(), 0);
            while from < bytes.len() {
                let mut end = from + block;
                let cut = loop {
                    if end >= bytes.len() {
                        break bytes.len();
                    }
                    match decodable_prefix(&bytes[from..end]) {
                        0 => end += 1,
                        p => break from + p,
                    }
                };
                out.push_str(&decoded(&bytes[from..cut]));
                from = cut;
            }
            assert_eq!(out, decoded(bytes), "blocks of {block}");
        }
    }

    /// A file's path, name and relative path read back as given, whether they are held
    /// as one string (the name and relative path are tails of a UTF-8 path) or apart;
    /// and a listed file takes at most 48 bytes besides its one string.
    #[test]
    fn input_files_keep_their_names_in_one_string_when_they_can() {
        let cases = [
            ("corpus/sub/a.txt", "sub/a.txt", "sub/a.txt", true),
            (
                "/abs/corpus/a.txt",
                "/abs/corpus/a.txt",
                "abs/corpus/a.txt",
                true,
            ),
            (
                "./corpus/é/b.txt",
                "./corpus/é/b.txt",
                "corpus/é/b.txt",
                true,
            ),
            ("a.txt", "a.txt", "a.txt", true),
            ("corpus/a.txt", "other.txt", "other.txt", false),
            ("corpus/a.txt", "a.txt", "corpus/x/a.txt", false),
            ("", "", "", true),
        ];
        for (path, name, rel, tails) in cases {
            let f = InputFile::named(path.into(), name.to_string(), rel.into());
            assert_eq!(f.path(), Path::new(path), "{path}");
            assert_eq!(f.name(), name, "{path}");
            assert_eq!(f.rel_path(), Path::new(rel), "{path}");
            assert_eq!(matches!(f.names, FileNames::Tails { .. }), tails, "{path}");
            let held = InputFile {
                names: FileNames::Held(Box::new(HeldNames {
                    path: path.into(),
                    name: name.to_string(),
                    rel_path: rel.into(),
                })),
                len: None,
            };
            assert_eq!(f, held, "{path}");
            assert_ne!(f, held.clone().with_len(Some(1)), "{path}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let path = PathBuf::from(OsStr::from_bytes(b"corpus/bad\xff.txt"));
            let f = InputFile::named(path.clone(), "bad\u{FFFD}.txt".into(), "bad".into());
            assert!(matches!(f.names, FileNames::Held(_)));
            assert_eq!(f.path(), path);
        }
        #[cfg(target_pointer_width = "64")]
        assert!(std::mem::size_of::<InputFile>() <= 48);
    }

    /// A file listed twice under one relative path is kept once, with a warning naming
    /// the first listing; two different files under one relative path are both kept,
    /// and the order is kept.
    #[test]
    fn repeated_listings_are_dropped_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["one", "two"] {
            fs::create_dir_all(d.join(sub)).unwrap();
            fs::write(d.join(sub).join("a.txt"), sub).unwrap();
        }
        fs::write(d.join("one/b.txt"), "b").unwrap();
        let file = |path: PathBuf, rel: &str| InputFile::named(path, rel.into(), rel.into());
        let files = vec![
            file(d.join("one/a.txt"), "a.txt"),
            file(d.join("two/a.txt"), "a.txt"),
            file(d.join("one/./a.txt"), "a.txt"),
            file(d.join("one/b.txt"), "b.txt"),
            file(d.join("two/../one/b.txt"), "b.txt"),
        ];
        let mut warnings = Vec::new();
        let kept = drop_repeats(files.clone(), &mut warnings);
        assert_eq!(kept, [files[0].clone(), files[1].clone(), files[3].clone()]);
        let said: Vec<(&Path, &str)> = warnings
            .iter()
            .map(|w| (w.path.as_path(), w.message.as_str()))
            .collect();
        let first =
            |i: usize| format!("already listed as {}; read once", files[i].path().display());
        assert_eq!(
            said,
            [
                (files[2].path(), first(0).as_str()),
                (files[4].path(), first(3).as_str())
            ]
        );
    }

    /// The walk that trusts the directories' types lists what the walk that follows
    /// links lists, in the same order, with the same names, paths and sizes, and the
    /// same warnings: on a tree whose files and directories interleave by name
    /// (`a`, `a-b`, `a.txt`, `a/…`), with hidden entries, a FIFO, non-ASCII names, and
    /// several roots.
    #[test]
    fn the_typed_walk_lists_what_the_followed_walk_lists() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("corpus");
        let rels = [
            "a.txt",
            "a-b",
            "a/z.txt",
            "a/b/c.txt",
            "a/b.txt",
            "a/.hidden.txt",
            ".hid/x.txt",
            "b/deep/er/still/f.txt",
            "b/e.txt",
            "é/ü.txt",
            "Z.txt",
        ];
        for (i, rel) in rels.iter().enumerate() {
            let path = base.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "x".repeat(i)).unwrap();
        }
        fs::create_dir_all(base.join("empty/dir")).unwrap();
        #[cfg(unix)]
        {
            let fifo =
                std::ffi::CString::new(base.join("a/fifo").into_os_string().into_encoded_bytes())
                    .unwrap();
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        }
        let other = dir.path().join("other");
        fs::create_dir_all(&other).unwrap();
        fs::write(other.join("o.txt"), "o").unwrap();
        for hidden in [false, true] {
            for prefix in [None, Some(base.as_path())] {
                let mut typed_warned = Vec::new();
                let typed = walk_dir(&base, prefix, hidden, &mut typed_warned);
                let mut followed_warned = Vec::new();
                let followed =
                    sort_listing(walk_followed(&base, prefix, hidden, &mut followed_warned));
                let case = format!("hidden {hidden}, prefix {prefix:?}");
                assert_eq!(typed, followed, "{case}");
                typed_warned.sort_by(|a, b| a.path.cmp(&b.path));
                followed_warned.sort_by(|a, b| a.path.cmp(&b.path));
                assert_eq!(typed_warned, followed_warned, "{case}");
                assert_eq!(typed.len(), if hidden { 11 } else { 9 }, "{case}");
            }
        }
        let (files, _) = list_files(&[base.clone(), other.clone()], false).unwrap();
        let names: Vec<String> = files.iter().map(|f| f.name().to_string()).collect();
        let b = base.to_str().unwrap();
        let o = other.to_str().unwrap();
        assert_eq!(names.first().unwrap(), &format!("{b}/Z.txt"));
        assert_eq!(names.last().unwrap(), &format!("{o}/o.txt"));
    }

    /// A listing of many batches of sizes ([`SIZED_BATCH`]) is in path order, with every
    /// file's own size, on one thread or several, and after the walk starts again at a
    /// link.
    #[test]
    fn a_listing_of_many_batches_is_ordered_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut expected = Vec::new();
        for i in 0..3 * SIZED_BATCH + 7 {
            let rel = format!("d{}/f{i:05}.txt", i % 3);
            let path = root.join(&rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "x".repeat(i % 50)).unwrap();
            expected.push((rel, (i % 50) as u64));
        }
        expected.sort();
        let listed = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (files, warnings) = pool
                .install(|| list_files(&[root.to_path_buf()], false))
                .unwrap();
            assert!(warnings.is_empty(), "{warnings:?}");
            files
                .into_iter()
                .map(|f| (f.name().to_string(), f.len.unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(listed(1), expected);
        assert_eq!(listed(3), expected);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("d0/f00000.txt"), root.join("d1/link.txt"))
                .unwrap();
            expected.push(("d1/link.txt".to_string(), 0));
            expected.sort();
            assert_eq!(listed(2), expected);
        }
    }

    /// The listing's names and relative paths, however the root is spelled, are those of
    /// the path's components below it joined by `/`, as [`Path::components`] parses
    /// them.
    #[test]
    fn listed_names_are_the_components_below_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("corpus");
        for rel in ["a.txt", "sub/b.txt", "sub/deeper/c d.txt", "z/é.txt"] {
            let path = base.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "text\n").unwrap();
        }
        let spelled = base.to_str().unwrap();
        let roots = [
            spelled.to_string(),
            format!("{spelled}/"),
            format!("{spelled}//"),
            format!("{spelled}/."),
            format!("{spelled}/../corpus"),
        ];
        for root in roots {
            let (files, warnings) = list_files(&[PathBuf::from(&root)], false).unwrap();
            assert!(warnings.is_empty(), "{root}: {warnings:?}");
            let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
            assert_eq!(
                names,
                ["a.txt", "sub/b.txt", "sub/deeper/c d.txt", "z/é.txt"],
                "{root}"
            );
            for f in &files {
                let below = f.path().strip_prefix(&root).unwrap();
                let parts: Vec<String> = below
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                assert_eq!(f.name(), parts.join("/"), "{root}");
                assert_eq!(f.rel_path(), relative_parts(below), "{root}");
                assert_eq!(f.len, Some(5));
            }
        }
    }

    /// Paths cut below a root by bytes, when the rest is plain.
    #[test]
    fn plain_paths_below_a_root() {
        // (path, root, plain rest)
        let table = [
            ("corpus/a.txt", "corpus", Some("a.txt")),
            ("corpus/a.txt", "corpus/", Some("a.txt")),
            ("corpus//a.txt", "corpus//", Some("a.txt")),
            ("./corpus/sub/a.txt", "./corpus", Some("sub/a.txt")),
            ("/a.txt", "/", Some("a.txt")),
            ("corpus/./a.txt", "corpus", None),
            ("corpus/sub//a.txt", "corpus", None),
            ("corpus/../a.txt", "corpus", None),
            ("corpus/sub/", "corpus", None),
            ("corpusx/a.txt", "corpus", None),
            ("corpus", "corpus", None),
        ];
        for (path, root, want) in table {
            assert_eq!(
                plain_below(Path::new(path), Path::new(root)),
                want,
                "{path} below {root}"
            );
        }
    }

    #[test]
    fn names_of_records_keep_only_their_ids() {
        // (name, its file's name, the bytes kept, whether it is made again)
        let table = [
            ("a.jsonl#7", "a.jsonl", "7", true),
            ("dir/a.jsonl#doc-1#2", "dir/a.jsonl", "doc-1#2", true),
            ("a.jsonl#", "a.jsonl", "", true),
            ("a.jsonl", "a.jsonl", "", false),
            ("dir/b.txt", "dir/b.txt", "", false),
            ("a.jsonlx#7", "a.jsonl", "a.jsonlx#7", false),
            ("b.txt", "a.jsonl", "b.txt", false),
            ("#7", "", "#7", false),
            ("", "", "", false),
        ];
        let mut names = Names::default();
        for (name, file, _, _) in table {
            names.push_in(name, file);
        }
        names.push("plain");
        for (i, (name, file, kept, made)) in table.into_iter().enumerate() {
            assert_eq!(names.get_in(i, file), name, "{name}");
            assert_eq!(names.get(i), kept, "{name}");
            assert_eq!(
                matches!(names.get_in(i, file), Cow::Owned(_)),
                made,
                "{name}"
            );
        }
        assert_eq!(names.get_in(table.len(), "a.jsonl"), "plain");
        let stored: usize = table.iter().map(|(_, _, kept, _)| kept.len()).sum();
        assert_eq!(names.all.len(), stored + "plain".len());
    }

    #[test]
    fn invalid_utf8_keeps_offsets() {
        let bytes = b"ab\xffcd\xe2\x82".to_vec();
        let doc = Document::from_bytes(0, "x".into(), bytes.clone());
        assert_eq!(doc.text.len(), bytes.len());
        assert_eq!(doc.text, "ab\u{1a}cd\u{1a}\u{1a}");
        assert_eq!(doc.bytes(), &bytes[..]);
        assert_eq!(doc.slice(3, 5), b"cd");
    }

    #[test]
    fn valid_utf8_keeps_no_copy() {
        let doc = Document::from_bytes(0, "x".into(), "سلام".as_bytes().to_vec());
        assert!(doc.raw.is_none());
        assert_eq!(doc.bytes(), "سلام".as_bytes());
    }
}
