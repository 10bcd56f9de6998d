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
//! The decoded records of JSON Lines files are held in memory: the text of a record is a
//! decoded JSON string, not a range of the file (and a compressed file cannot be read by
//! offset).

use std::borrow::Cow;
use std::fs;
use std::io;
use std::time::SystemTime;

use crate::corpus::{self, Document, InputFile};
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
    /// Held in memory.
    Documents(Vec<Document>),
}

impl Held {
    /// How to hold `docs`, read from `file` when it had `stamp` (taken before the
    /// read). Only a text file read whole, as one document of the stamped size, is left
    /// on disk.
    pub fn new(file: &InputFile, stamp: Option<FileStamp>, docs: Vec<Document>) -> Held {
        match (stamp, docs.as_slice()) {
            (Some(stamp), [doc])
                if jsonl::format_of(&file.path).is_none()
                    && doc.bytes().len() as u64 == stamp.len =>
            {
                Held::File(stamp)
            }
            _ => Held::Documents(docs),
        }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        match self {
            Held::File(_) => 1,
            Held::Documents(docs) => docs.len(),
        }
    }

    /// True if the file gave no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Marks a document that is not held in memory.
const ON_DISK: u32 = u32::MAX;

/// One document: its file, and its place in [`FileTexts::held`] if it is held.
#[derive(Clone, Copy, Debug)]
struct Entry {
    file: u32,
    held: u32,
}

/// The documents of a run, in input order, read back from their files when not held.
#[derive(Debug)]
pub struct FileTexts<'a> {
    files: &'a [InputFile],
    docs: Vec<Entry>,
    /// Stamp of each listed file whose document is on disk.
    stamps: Vec<Option<FileStamp>>,
    held: Vec<Document>,
    total_bytes: u64,
}

impl<'a> FileTexts<'a> {
    /// No documents yet, from the listed `files`.
    pub fn new(files: &'a [InputFile]) -> FileTexts<'a> {
        FileTexts {
            files,
            docs: Vec::new(),
            stamps: vec![None; files.len()],
            held: Vec::new(),
            total_bytes: 0,
        }
    }

    /// Appends the documents of listed file `file` (files are appended in list order).
    /// `bytes` is their total size.
    pub fn push(&mut self, file: u32, held: Held, bytes: u64) {
        self.total_bytes += bytes;
        match held {
            Held::File(stamp) => {
                if let Some(s) = self.stamps.get_mut(file as usize) {
                    *s = Some(stamp);
                }
                self.docs.push(Entry {
                    file,
                    held: ON_DISK,
                });
            }
            Held::Documents(docs) => {
                for mut doc in docs {
                    doc.id = u32::try_from(self.docs.len()).unwrap_or(u32::MAX);
                    let held = u32::try_from(self.held.len()).unwrap_or(ON_DISK);
                    self.docs.push(Entry { file, held });
                    self.held.push(doc);
                }
            }
        }
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

    /// The held document `doc`, or the listed file to read it from.
    fn place(&self, doc: u32) -> Place<'_> {
        let Some(entry) = self.docs.get(doc as usize) else {
            return Place::Missing;
        };
        if let Some(d) = self.held.get(entry.held as usize) {
            return Place::Held(d);
        }
        match (
            self.files.get(entry.file as usize),
            self.stamps.get(entry.file as usize).copied().flatten(),
        ) {
            (Some(file), Some(stamp)) => Place::Disk(file, stamp),
            _ => Place::Missing,
        }
    }
}

/// Where a document is.
enum Place<'t> {
    Held(&'t Document),
    Disk(&'t InputFile, FileStamp),
    Missing,
}

/// A file opened again, checked to be as it was read.
struct Reopened<'t> {
    file: &'t InputFile,
    handle: fs::File,
    len: u64,
}

impl<'t> Reopened<'t> {
    /// Opens `file` again and checks that it still has `stamp`.
    fn open(file: &'t InputFile, stamp: FileStamp) -> Result<Reopened<'t>> {
        let (handle, meta) =
            corpus::open_with_metadata(&file.path).map_err(|e| Error::io(&file.path, e))?;
        if FileStamp::of(&meta) != stamp {
            return Err(Error::io(
                &file.path,
                io::Error::other(
                    "changed during the run (size, modification time or inode); \
                     its spans cannot be quoted",
                ),
            ));
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
            .map_err(|e| Error::io(&self.file.path, e))?;
        Ok(buf)
    }
}

/// Spans of one file closer than this are read as one range.
const READ_GAP: u32 = 4096;

impl DocSource for FileTexts<'_> {
    fn name(&self, doc: u32) -> &str {
        match self.place(doc) {
            Place::Held(d) => &d.name,
            Place::Disk(file, _) => &file.name,
            Place::Missing => "",
        }
    }

    fn document(&self, doc: u32) -> Result<Cow<'_, Document>> {
        match self.place(doc) {
            Place::Held(d) => Ok(Cow::Borrowed(d)),
            Place::Disk(file, stamp) => {
                let bytes = Reopened::open(file, stamp)?.read(0, u64::MAX)?;
                Ok(Cow::Owned(Document::from_bytes(
                    doc,
                    file.name.clone(),
                    bytes,
                )))
            }
            Place::Missing => Ok(Cow::Owned(Document::from_bytes(
                doc,
                String::new(),
                Vec::new(),
            ))),
        }
    }

    fn slice(&self, doc: u32, start: u32, end: u32) -> Result<Cow<'_, [u8]>> {
        match self.place(doc) {
            Place::Held(d) => Ok(Cow::Borrowed(d.slice(start, end))),
            Place::Disk(_, _) if start >= end => Ok(Cow::Borrowed(&[])),
            Place::Disk(file, stamp) => Ok(Cow::Owned(
                Reopened::open(file, stamp)?.read(start.into(), end.into())?,
            )),
            Place::Missing => Ok(Cow::Borrowed(&[])),
        }
    }

    fn slices(&self, wanted: &[(u32, u32, u32)]) -> Result<Vec<Cow<'_, [u8]>>> {
        let mut out: Vec<Cow<'_, [u8]>> = vec![Cow::Borrowed(&[][..]); wanted.len()];
        let mut order: Vec<usize> = (0..wanted.len()).collect();
        order.sort_unstable_by_key(|&i| wanted[i]);
        for run in order.chunk_by(|&a, &b| wanted[a].0 == wanted[b].0) {
            let doc = wanted[run[0]].0;
            let (file, stamp) = match self.place(doc) {
                Place::Disk(file, stamp) => (file, stamp),
                Place::Held(_) | Place::Missing => {
                    for &i in run {
                        let (doc, start, end) = wanted[i];
                        out[i] = self.slice(doc, start, end)?;
                    }
                    continue;
                }
            };
            // One open per document; spans that overlap or lie close are one read.
            let reopened = Reopened::open(file, stamp)?;
            let mut k = 0;
            while k < run.len() {
                let (_, from, mut to) = wanted[run[k]];
                let mut m = k + 1;
                while m < run.len() && wanted[run[m]].1 <= to.saturating_add(READ_GAP) {
                    to = to.max(wanted[run[m]].2);
                    m += 1;
                }
                let bytes = reopened.read(from.into(), to.into())?;
                for &i in &run[k..m] {
                    let (_, start, end) = wanted[i];
                    let (s, e) = ((start - from) as usize, (end.max(start) - from) as usize);
                    out[i] = Cow::Owned(
                        bytes
                            .get(s.min(bytes.len())..e.min(bytes.len()))
                            .unwrap_or(&[])
                            .to_vec(),
                    );
                }
                k = m;
            }
        }
        Ok(out)
    }

    fn file_of(&self, doc: u32) -> Option<u32> {
        self.docs.get(doc as usize).map(|e| e.file)
    }

    fn documents(&self) -> usize {
        self.docs.len()
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
            let stamp = FileStamp::read(&f.path).ok();
            let (docs, _) = corpus::read_input(f, &corpus::ReadOptions::default());
            let bytes = docs.iter().map(|d| d.bytes().len() as u64).sum();
            texts.push(i as u32, Held::new(f, stamp, docs), bytes);
        }
        texts
    }

    #[test]
    fn text_files_are_read_again_and_records_held() {
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
        assert_eq!(texts.held.len(), 2);
        assert_eq!(texts.total_bytes(), 13 + 3 + 7 + 8);
        assert_eq!(texts.name(0), "a.txt");
        assert_eq!(texts.name(2), "b.jsonl#2");
        assert_eq!(texts.file_of(2), Some(1));
        assert_eq!(texts.file_of(3), Some(2));
        assert_eq!(&*texts.slice(0, 5, 8).unwrap(), b" \xff ");
        assert_eq!(&*texts.slice(2, 4, 7).unwrap(), b"two");
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
    fn a_file_changed_during_the_run_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![listed(dir.path(), "a.txt", b"some words here\n")];
        let texts = hold(&files);
        assert_eq!(&*texts.slice(0, 0, 4).unwrap(), b"some");
        fs::write(&files[0].path, b"other words, longer now\n").unwrap();
        let err = texts.slice(0, 0, 4).unwrap_err().to_string();
        assert!(err.contains("a.txt") && err.contains("changed"), "{err}");
        assert!(texts.document(0).is_err());
        fs::remove_file(&files[0].path).unwrap();
        let err = texts.slice(0, 0, 4).unwrap_err().to_string();
        assert!(err.contains("a.txt"), "{err}");
    }
}
