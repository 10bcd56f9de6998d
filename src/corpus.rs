//! Finding and reading input files.
//!
//! This is one of the two I/O edges of the pipeline. It turns paths into [`Document`]s
//! (original bytes plus a same-length UTF-8 view) and reports, without failing the run,
//! every file it had to skip.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Files at or above this size are skipped: spans are stored as `u32` byte offsets.
pub const MAX_FILE_BYTES: u64 = u32::MAX as u64;

/// Stands in, in [`Document::text`], for each byte of the input that is not valid UTF-8.
/// It is one byte wide, so offsets into the text are offsets into the file, and the
/// normalizer treats it as a word separator.
pub const INVALID_BYTE: char = '\u{1A}';

/// An input file found by [`list_files`], not yet read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// Where to read it.
    pub path: PathBuf,
    /// Its name in the report: the path relative to the scanned directory with `/`
    /// separators, or the path as given for a file named directly.
    pub name: String,
}

/// Something a run could not do fully, reported on stderr; the run goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The file or directory concerned.
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

/// One input file, read.
#[derive(Clone, Debug)]
pub struct Document {
    /// Position of the file in the sorted input list: the stable file id.
    pub id: u32,
    /// Name in the report.
    pub name: String,
    /// Where it was read from.
    pub path: PathBuf,
    /// The text, byte for byte the file except that each invalid UTF-8 byte is replaced
    /// by [`INVALID_BYTE`]. Offsets into it are offsets into the file.
    pub text: String,
    /// The original bytes, kept only when they differ from `text` (invalid UTF-8).
    pub raw: Option<Vec<u8>>,
}

impl Document {
    /// Builds a document from the original bytes.
    pub fn from_bytes(id: u32, name: String, path: PathBuf, bytes: Vec<u8>) -> Document {
        match String::from_utf8(bytes) {
            Ok(text) => Document {
                id,
                name,
                path,
                text,
                raw: None,
            },
            Err(err) => {
                let bytes = err.into_bytes();
                let text = decode_keeping_offsets(&bytes);
                Document {
                    id,
                    name,
                    path,
                    text,
                    raw: Some(bytes),
                }
            }
        }
    }

    /// The original bytes of the file.
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
/// unreadable below a root is a warning.
pub fn list_files(roots: &[PathBuf], hidden: bool) -> Result<(Vec<InputFile>, Vec<Warning>)> {
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    for root in roots {
        let meta = fs::metadata(root).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::MissingPath(root.clone()),
            _ => Error::io(root, e),
        })?;
        if meta.is_dir() {
            let prefix = if roots.len() > 1 {
                Some(display_name(root))
            } else {
                None
            };
            walk_dir(root, prefix.as_deref(), hidden, &mut files, &mut warnings);
        } else if meta.is_file() {
            files.push(InputFile {
                path: root.clone(),
                name: display_name(root),
            });
        } else {
            warnings.push(Warning {
                path: root.clone(),
                message: "not a regular file".to_string(),
                skipped: true,
            });
        }
    }
    Ok((files, warnings))
}

fn walk_dir(
    root: &Path,
    prefix: Option<&str>,
    hidden: bool,
    files: &mut Vec<InputFile>,
    warnings: &mut Vec<Warning>,
) {
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by(|a, b| a.file_name().cmp(b.file_name()))
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
                message: "not a regular file (FIFO, socket or device)".to_string(),
                skipped: true,
            });
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let mut name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if let Some(prefix) = prefix {
            name = format!("{}/{name}", prefix.trim_end_matches('/'));
        }
        files.push(InputFile {
            path: entry.path().to_path_buf(),
            name,
        });
    }
}

fn describe_io(err: &std::io::Error, path: &Path) -> String {
    if err.kind() == std::io::ErrorKind::NotFound && path.is_symlink() {
        "broken symlink".to_string()
    } else {
        err.to_string()
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
/// Special files are checked for before opening, so a FIFO never blocks the scan.
pub fn read_file(id: u32, file: &InputFile) -> ReadOutcome {
    let skip = |message: String| {
        ReadOutcome::Skipped(Warning {
            path: file.path.clone(),
            message,
            skipped: true,
        })
    };
    let meta = match fs::metadata(&file.path) {
        Ok(meta) => meta,
        Err(err) => return skip(describe_io(&err, &file.path)),
    };
    if !meta.is_file() {
        return skip("not a regular file (FIFO, socket or device)".to_string());
    }
    if meta.len() >= MAX_FILE_BYTES {
        return skip(format!(
            "file of {} bytes is too large (limit {} bytes)",
            meta.len(),
            MAX_FILE_BYTES - 1
        ));
    }
    let bytes = match read_bytes(&file.path, meta.len()) {
        Ok(bytes) => bytes,
        Err(err) => return skip(err.to_string()),
    };
    if bytes.len() as u64 >= MAX_FILE_BYTES {
        return skip("file grew past the size limit while being read".to_string());
    }
    if bytes.contains(&0) {
        return skip("binary file (contains NUL bytes)".to_string());
    }
    let doc = Document::from_bytes(id, file.name.clone(), file.path.clone(), bytes);
    let warning = doc.raw.as_ref().map(|_| Warning {
        path: file.path.clone(),
        message: "invalid UTF-8, decoded lossily (offsets refer to the original bytes)".to_string(),
        skipped: false,
    });
    ReadOutcome::Read(doc, warning)
}

/// Reads `files` in parallel. Returns the documents read, in input order, and the
/// warnings in input order. A document's `id` is its file's position in `files`.
pub fn read_all(files: &[InputFile]) -> (Vec<Document>, Vec<Warning>) {
    use rayon::prelude::*;
    let outcomes: Vec<ReadOutcome> = files
        .par_iter()
        .enumerate()
        .map(|(i, f)| read_file(i as u32, f))
        .collect();
    let mut docs = Vec::new();
    let mut warnings = Vec::new();
    for outcome in outcomes {
        match outcome {
            ReadOutcome::Read(doc, warning) => {
                docs.push(doc);
                warnings.extend(warning);
            }
            ReadOutcome::Skipped(warning) => warnings.push(warning),
        }
    }
    (docs, warnings)
}

fn read_bytes(path: &Path, size_hint: u64) -> std::io::Result<Vec<u8>> {
    let mut f = fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(size_hint as usize);
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_keeps_offsets() {
        let bytes = b"ab\xffcd\xe2\x82".to_vec();
        let doc = Document::from_bytes(0, "x".into(), "x".into(), bytes.clone());
        assert_eq!(doc.text.len(), bytes.len());
        assert_eq!(doc.text, "ab\u{1a}cd\u{1a}\u{1a}");
        assert_eq!(doc.bytes(), &bytes[..]);
        assert_eq!(doc.slice(3, 5), b"cd");
    }

    #[test]
    fn valid_utf8_keeps_no_copy() {
        let doc = Document::from_bytes(0, "x".into(), "x".into(), "سلام".as_bytes().to_vec());
        assert!(doc.raw.is_none());
        assert_eq!(doc.bytes(), "سلام".as_bytes());
    }
}
