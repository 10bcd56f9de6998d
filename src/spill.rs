//! The pipeline for corpora larger than memory.
//!
//! [`find_duplicates_spilled`] runs the same stages as
//! [`find_duplicates`](crate::pipeline::find_duplicates), with the same results, but
//! holds neither the corpus nor its intermediate data in memory:
//!
//! ```text
//! map (files in batches of at most batch_bytes, each batch in parallel)
//!   read → segment → tokenize ──> texts, tokens, paragraphs   (stores, read back by offset)
//!                             ──> exact, band, seed records   (BUCKETS files per kind)
//! reduce, one bucket at a time (partitions inside a bucket in parallel)
//!   exact buckets → exact groups, joined in a union-find
//!   band buckets  → candidate pairs → exact Jaccard (tokens read back) → union-find
//!   linked sets, a chunk at a time → paragraph clusters ──> clusters.bin
//!   seed buckets  → seed matches ──> match buckets (by paragraph pair)
//!   match buckets → X-drop alignment → span pairs ──> aligned buckets, union-find of paragraphs
//!   span pairs ──> component buckets; each bucket → passage clusters ──> clusters.bin
//! ```
//!
//! Every file starts with a [`Header`] (magic, format version, kind, and a fingerprint of
//! the parameters) and holds fixed-width little-endian records; a file that does not
//! carry the expected header is refused. A record goes to the bucket of its key's
//! [`partition`] (the top [`BUCKET_BITS`] of it), so a bucket holds whole partitions and
//! its reduce is the in-memory one. What stays in memory is per paragraph (its token
//! count, a few flags, and the union-find of the paragraph stage), per document (its
//! text offset and name), and the span pairs of one component bucket of the passage
//! stage with their index. The clusters found go to disk as they are made
//! ([`ClusterRuns`]).
//!
//! The directory is the caller's: it creates it, and removes it after the report and
//! the cleaned output have been written (they read the stores).

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;

use crate::cluster::{Interval, UnionFind};
use crate::config::Config;
use crate::corpus::{Batching, Document, InputFile, InputRead, Names, Warning};
use crate::error::{Error, Result};
use crate::lsh::{candidate_pairs, runs_by, sort_into_partitions, weighted_runs};
use crate::normalize::TokenHash;
use crate::passage::{
    align_all, raw_seed_matches, seed_postings, SeedMatch, TokenSource, TokenTable,
};
use crate::pipeline::{
    aligned_pairs, analyze, band_records, group_passages_into, mark_reported,
    paragraph_clusters_of, passage_clusters_of, passage_params, peak_rss, release_free_memory,
    sequence_key, split_paragraph_sets, verify_candidates, DocAnalysis, Findings, Layout, Placed,
    Stats,
};
use crate::records::{
    partition, BandRecord, CandidatePair, FixedRecord, Header, RecordKind, SeedPosting, SpanPair,
    PARTITION_BITS,
};
use crate::report::DocSource;
use crate::results::{ClusterRuns, ClusterStore};

/// Number of key bits that pick a bucket file: 2^6 = 64 files per kind of record, each
/// holding 2^([`PARTITION_BITS`] − 6) = 4 whole partitions.
pub const BUCKET_BITS: u32 = 6;
/// Bucket files per kind of record.
pub const BUCKETS: usize = 1 << BUCKET_BITS;

/// Partitions per bucket file: a bucket's records are written partition by partition
/// in each append, so that a reduce can read one partition at a time.
pub const PARTS_PER_BUCKET: usize = 1 << (PARTITION_BITS - BUCKET_BITS);

/// Every (bucket, partition in the bucket), in the order of the partitions: what the
/// keyed reduces of a spilled run read, one at a time.
fn bucket_partitions() -> impl Iterator<Item = (usize, usize)> {
    (0..BUCKETS).flat_map(|b| (0..PARTS_PER_BUCKET).map(move |q| (b, q)))
}

/// A key of bucket `b`: records appended with it all go to bucket `b`.
pub(crate) fn bucket_key(b: usize) -> u64 {
    (b as u64) << (64 - BUCKET_BITS)
}

/// The bucket of a key: the top [`BUCKET_BITS`] of its [`partition`].
#[inline]
pub fn bucket(key: u64) -> usize {
    partition(key) >> (PARTITION_BITS - BUCKET_BITS)
}

/// Bytes of text a word is counted for when a batch's records are made a slice of
/// words at a time (news text: 6 to 7 bytes a word with its space).
const BYTES_PER_WORD: u64 = 6;

/// `paras` cut into runs of at most `words` words of `table` (a longer paragraph is a
/// run of its own).
fn word_slices<'p>(table: &TokenTable, paras: &'p [u32], words: u64) -> Vec<&'p [u32]> {
    let lens = paras.iter().map(|&p| table.get(p as usize).len());
    let words = usize::try_from(words).unwrap_or(usize::MAX);
    weighted_runs(lens, usize::MAX, words)
        .into_iter()
        .map(|r| &paras[r])
        .collect()
}

/// How a spilled run uses memory.
#[derive(Clone, Copy, Debug)]
pub struct SpillOptions {
    /// Bytes of input read, analyzed and mapped at a time (a JSON Lines file larger than
    /// this is read a batch of records at a time, a text file in parts of about this
    /// size, cut at paragraph breaks). The map holds about eight times this at its peak
    /// (text, token hashes, seeds and their encoded copies), on top of the per-paragraph
    /// state (about 7 bytes a paragraph) and the per-document state (its name and 24
    /// bytes). A line longer than this is one part: its text and token hashes are held
    /// while it is analyzed, and then its records a batch's worth of words at a time.
    pub batch_bytes: u64,
    /// Occurrences (report rows) of the clusters sorted in memory at a time before they
    /// are written; a run holds about 64 bytes a row.
    pub run_rows: usize,
    /// Bytes of the occurrences of passages made into clusters at a time (counted as
    /// [`crate::pipeline::OCCURRENCE_BYTES`] an occurrence; their paragraphs are read
    /// a few megabytes at a time by each thread).
    pub holder_bytes: usize,
}

impl SpillOptions {
    /// Options for `limit` bytes of memory (what the memory limit leaves after the list
    /// of input files): batches of a sixty-fourth of it, runs of clusters of about a
    /// sixteenth, holders of passages of a sixteenth.
    pub fn for_limit(limit: u64) -> SpillOptions {
        let sixteenth = usize::try_from(limit / 16).unwrap_or(usize::MAX);
        SpillOptions {
            batch_bytes: (limit / 64).max(1 << 20),
            run_rows: (sixteenth / 64).max(1 << 12),
            holder_bytes: sixteenth.max(1 << 20),
        }
    }
}

/// Estimated bytes of text in a listed file: its size, times the usual compression
/// ratio of text for a compressed JSON Lines file (4 for gzip, 5 for zstd), so that a
/// compressed corpus is not taken for a small one.
pub fn decoded_bytes(file: &InputFile) -> u64 {
    let len = file.len.unwrap_or(0);
    match crate::jsonl::format_of(file.path()) {
        Some(crate::jsonl::Compression::Gzip) => len.saturating_mul(4),
        Some(crate::jsonl::Compression::Zstd) => len.saturating_mul(5),
        _ => len,
    }
}

/// Estimated peak memory of an in-memory run over `corpus_bytes` of input, used to
/// decide when to spill. Measured (BENCHMARKS.md): 1.6 to 1.9 times the corpus on news
/// text, with room here for the results of duplicate-heavy corpora (and for compressed
/// JSON Lines whose texts cannot go to a [`crate::texts::TextStore`] and are held);
/// Japanese boilerplate reaches 5 times, so such a corpus just under the estimate can
/// pass the limit.
pub fn in_memory_estimate(corpus_bytes: u64) -> u64 {
    corpus_bytes.saturating_mul(6).saturating_add(64 << 20)
}

/// Fingerprint of the parameters that shape spilled records: files of another run are
/// never mixed in.
fn fingerprint(config: &Config) -> u64 {
    let text = format!(
        "{}/{}/{}/{}/{}/{}/{:?}",
        config.shingle_size,
        config.num_perm,
        config.threshold,
        config.seed_k,
        config.seed_window,
        config.min_words,
        config.paragraph_mode
    );
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// A spill file being written: header first, then records.
pub(crate) struct SpillWriter {
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes written after the header.
    pub(crate) len: u64,
}

impl SpillWriter {
    pub(crate) fn create(path: PathBuf, kind: RecordKind, fingerprint: u64) -> Result<SpillWriter> {
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut out = BufWriter::with_capacity(128 << 10, file);
        out.write_all(&Header { kind, fingerprint }.encode())
            .map_err(|e| Error::io(&path, e))?;
        Ok(SpillWriter { path, out, len: 0 })
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(&self.path, e))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Flushes and reopens the file for reading, checking its header.
    pub(crate) fn finish(self) -> Result<Store> {
        let SpillWriter { path, out, .. } = self;
        // Temporary data: flushed to the page cache, never synced.
        drop(
            out.into_inner()
                .map_err(|e| Error::io(&path, e.into_error()))?,
        );
        Store::open(path)
    }
}

/// A finished spill file, read back by offset.
pub(crate) struct Store {
    pub(crate) path: PathBuf,
    file: File,
    kind: RecordKind,
    fingerprint: u64,
}

impl Store {
    fn open(path: PathBuf) -> Result<Store> {
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut head = [0u8; Header::SIZE];
        read_at(&file, &mut head, 0).map_err(|e| Error::io(&path, e))?;
        let header = Header::decode(&head)
            .map_err(|m| Error::io(&path, io::Error::new(io::ErrorKind::InvalidData, m)))?;
        Ok(Store {
            path,
            file,
            kind: header.kind,
            fingerprint: header.fingerprint,
        })
    }

    pub(crate) fn check(&self, kind: RecordKind, fingerprint: u64) -> Result<()> {
        if self.kind != kind || self.fingerprint != fingerprint {
            return Err(self.invalid("spill file of another kind or another run"));
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes at `offset` past the header.
    pub(crate) fn read(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        read_at(&self.file, buf, Header::SIZE as u64 + offset)
    }

    /// The error of a damaged file: `what` is wrong with it.
    pub(crate) fn invalid(&self, what: &str) -> Error {
        Error::io(&self.path, io::Error::new(io::ErrorKind::InvalidData, what))
    }
}

#[cfg(unix)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
pub(crate) fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn write_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_write(buf, offset)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => {
                buf = &buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// One file per bucket for records of one kind.
pub(crate) struct Buckets<R> {
    files: Vec<SpillWriter>,
    /// Per bucket, the records of each of its partitions in each append that wrote to
    /// it, in file order.
    runs: Vec<Vec<PartCounts>>,
    kind: RecordKind,
    fingerprint: u64,
    _records: PhantomData<R>,
}

/// The records of each partition of a bucket in one run of a bucket file (one
/// [`Buckets::append`]), written in partition order.
type PartCounts = [u32; PARTS_PER_BUCKET];

impl<R: FixedRecord + Send + Sync> Buckets<R> {
    pub(crate) fn create(
        dir: &Path,
        name: &str,
        kind: RecordKind,
        fingerprint: u64,
    ) -> Result<Self> {
        let files = (0..BUCKETS)
            .map(|b| SpillWriter::create(dir.join(format!("{name}-{b:02}.bin")), kind, fingerprint))
            .collect::<Result<Vec<_>>>()?;
        Ok(Buckets {
            files,
            runs: vec![Vec::new(); BUCKETS],
            kind,
            fingerprint,
            _records: PhantomData,
        })
    }

    /// Appends `records`, each to the bucket of `key(record)`; buckets are written in
    /// parallel, each bucket's records partition by partition (so that
    /// [`BucketFiles::read_partition`] can read one).
    ///
    /// `records` are reordered (by partition) in place, and encoded a slice at a time: no
    /// second copy of them is made.
    pub(crate) fn append(
        &mut self,
        records: &mut [R],
        key: impl Fn(&R) -> u64 + Sync,
    ) -> Result<()> {
        records.par_sort_unstable_by_key(|r| partition(key(r)));
        let mut slices: Vec<&[R]> = vec![&[]; BUCKETS];
        for run in runs_by(records, |r| bucket(key(r))) {
            let b = bucket(key(&run[0]));
            slices[b] = run;
            let mut counts = [0u32; PARTS_PER_BUCKET];
            for part in runs_by(run, |r| partition(key(r)) % PARTS_PER_BUCKET) {
                let q = partition(key(&part[0])) % PARTS_PER_BUCKET;
                counts[q] = u32::try_from(part.len()).map_err(|_| {
                    Error::io(&self.files[b].path, io::Error::other("run too long"))
                })?;
            }
            self.runs[b].push(counts);
        }
        self.files
            .par_iter_mut()
            .zip(slices.par_iter())
            .try_for_each(|(f, slice)| {
                let mut buf = Vec::with_capacity(64 << 10);
                for chunk in slice.chunks((64 << 10) / R::SIZE) {
                    buf.clear();
                    for r in chunk {
                        r.encode(&mut buf);
                    }
                    f.write(&buf)?;
                }
                Ok(())
            })
    }

    pub(crate) fn finish(self) -> Result<BucketFiles<R>> {
        let stores = self
            .files
            .into_iter()
            .map(SpillWriter::finish)
            .collect::<Result<Vec<_>>>()?;
        Ok(BucketFiles {
            stores,
            runs: self.runs,
            kind: self.kind,
            fingerprint: self.fingerprint,
            _records: PhantomData,
        })
    }
}

/// The finished bucket files of one kind of record.
pub(crate) struct BucketFiles<R> {
    stores: Vec<Store>,
    /// Per bucket, its runs' records by partition (see [`Buckets`]).
    runs: Vec<Vec<PartCounts>>,
    kind: RecordKind,
    fingerprint: u64,
    _records: PhantomData<R>,
}

impl<R: FixedRecord + Ord + Send> BucketFiles<R> {
    /// The distinct records of partition `q` of bucket `b`, sorted (the same record may
    /// have been written by several partitions or batches).
    fn read_distinct_partition(&self, b: usize, q: usize) -> Result<Vec<R>> {
        let mut records = self.read_partition(b, q, |_| true)?;
        records.par_sort_unstable();
        records.dedup();
        Ok(records)
    }
}

impl<R: FixedRecord> BucketFiles<R> {
    /// The records of partition `q` (0 to [`PARTS_PER_BUCKET`] − 1) of bucket `b` that
    /// pass `keep`: a quarter of the bucket, read from each of its runs by offset.
    pub(crate) fn read_partition(
        &self,
        b: usize,
        q: usize,
        keep: impl Fn(&R) -> bool,
    ) -> Result<Vec<R>> {
        let (Some(store), Some(runs)) = (self.stores.get(b), self.runs.get(b)) else {
            return Ok(Vec::new());
        };
        store.check(self.kind, self.fingerprint)?;
        let bad = |e: io::Error| Error::io(&store.path, e);
        let size = R::SIZE as u64;
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let mut offset = Header::SIZE as u64;
        for counts in runs {
            let before: u64 = counts.iter().take(q).map(|&n| u64::from(n)).sum();
            let n = counts.get(q).copied().map_or(0, u64::from);
            // Read a megabyte at a time.
            let mut at = offset + before * size;
            let mut left = n;
            while left > 0 {
                let take = left.min((1 << 20) / size).max(1);
                buf.resize((take * size) as usize, 0);
                read_at(&store.file, &mut buf, at).map_err(bad)?;
                decode_kept(&buf, &keep, &mut out).map_err(bad)?;
                at += take * size;
                left -= take;
            }
            offset += counts.iter().map(|&n| u64::from(n)).sum::<u64>() * size;
        }
        Ok(out)
    }

    /// The records of bucket `b` that pass `keep`.
    pub(crate) fn read(&self, b: usize, keep: impl Fn(&R) -> bool) -> Result<Vec<R>> {
        let Some(store) = self.stores.get(b) else {
            return Ok(Vec::new());
        };
        store.check(self.kind, self.fingerprint)?;
        let bad = |e: io::Error| Error::io(&store.path, e);
        // One reader of a bucket at a time: the file's own cursor is used.
        let mut handle = &store.file;
        handle.seek(SeekFrom::Start(0)).map_err(bad)?;
        let mut file = BufReader::with_capacity(1 << 20, handle);
        let mut head = [0u8; Header::SIZE];
        file.read_exact(&mut head).map_err(bad)?;
        let mut out = Vec::new();
        let mut chunk = vec![0u8; R::SIZE * 4096];
        loop {
            let n = read_full(&mut file, &mut chunk).map_err(bad)?;
            decode_kept(&chunk[..n], &keep, &mut out).map_err(bad)?;
            if n % R::SIZE != 0 {
                return Err(bad(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated record",
                )));
            }
            if n < chunk.len() {
                return Ok(out);
            }
        }
    }
}

/// Writes `values` little-endian to `out`, encoded 64 KiB at a time in `buf`: a
/// document of many megabytes is not copied whole.
fn write_u32s(
    out: &mut SpillWriter,
    values: impl Iterator<Item = u32>,
    buf: &mut Vec<u8>,
) -> Result<()> {
    const FLUSH: usize = 64 << 10;
    buf.clear();
    for v in values {
        buf.extend_from_slice(&v.to_le_bytes());
        if buf.len() >= FLUSH {
            out.write(buf)?;
            buf.clear();
        }
    }
    out.write(buf)
}

/// Decodes the whole records of `bytes`, appending those that pass `keep` to `out`; a
/// record that does not decode is an error.
fn decode_kept<R: FixedRecord>(
    bytes: &[u8],
    keep: impl Fn(&R) -> bool,
    out: &mut Vec<R>,
) -> io::Result<()> {
    for bytes in bytes.chunks_exact(R::SIZE) {
        let r = R::decode(bytes)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad record"))?;
        if keep(&r) {
            out.push(r);
        }
    }
    Ok(())
}

/// Reads until `buf` is full or the end of the input; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Token offsets of paragraphs in about 4 bytes each: every paragraph's count, and the
/// offset of every [`Offsets::BLOCK`]-th paragraph.
#[derive(Clone, Debug, Default)]
struct Offsets {
    counts: Vec<u32>,
    /// Offset of paragraph `i * BLOCK`.
    blocks: Vec<u64>,
    total: u64,
}

impl Offsets {
    const BLOCK: usize = 64;

    fn push(&mut self, count: u32) {
        if self.counts.len() % Self::BLOCK == 0 {
            self.blocks.push(self.total);
        }
        self.counts.push(count);
        self.total += u64::from(count);
    }

    /// Offset and count of paragraph `p`.
    fn get(&self, p: usize) -> Option<(u64, u32)> {
        let count = *self.counts.get(p)?;
        let block = p / Self::BLOCK;
        let before: u64 = self.counts[block * Self::BLOCK..p]
            .iter()
            .map(|&c| u64::from(c))
            .sum();
        Some((self.blocks[block] + before, count))
    }
}

/// The first error met by readers that cannot return one (a [`TokenSource`] or a
/// [`Layout`]), reported after the stage that met it.
#[derive(Default)]
struct FirstError(Mutex<Option<Error>>);

impl FirstError {
    fn set(&self, e: Error) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert(e);
    }

    fn take(&self) -> Result<()> {
        let first = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        first.map_or(Ok(()), Err)
    }
}

/// The token hashes of every paragraph, spilled; read back per paragraph.
pub struct TokenStore {
    store: Store,
    offsets: Offsets,
    failed: FirstError,
}

impl TokenStore {
    fn error(&self) -> Result<()> {
        self.failed.take()
    }

    fn len_of(&self, p: u32) -> u32 {
        self.offsets.counts.get(p as usize).copied().unwrap_or(0)
    }
}

impl TokenSource for TokenStore {
    fn tokens(&self, p: u32) -> Cow<'_, [TokenHash]> {
        const WIDTH: usize = std::mem::size_of::<TokenHash>();
        let Some((s, n)) = self.offsets.get(p as usize) else {
            return Cow::Owned(Vec::new());
        };
        let mut bytes = vec![0u8; n as usize * WIDTH];
        if let Err(err) = self.store.read(&mut bytes, s * WIDTH as u64) {
            self.failed.set(Error::io(&self.store.path, err));
            return Cow::Owned(Vec::new());
        }
        Cow::Owned(
            bytes
                .chunks_exact(WIDTH)
                .map(|b| TokenHash::from_le_bytes(b.try_into().unwrap_or([0; WIDTH])))
                .collect(),
        )
    }

    fn token_count(&self, p: u32) -> usize {
        self.len_of(p) as usize
    }
}

/// The documents of a spilled run: their bytes in one file, read back by offset.
pub struct TextStore {
    store: Store,
    /// Byte offset of each document in the store, and the end.
    offsets: Vec<u64>,
    /// Every document's name (a record's without its file's name).
    names: Names,
    /// The name of every listed file.
    file_names: Names,
    /// Index, in the listed input files, of the file each document was read from.
    files: Vec<u32>,
    /// Dense index of each document's first paragraph, and the total at the end.
    first_paragraph: Vec<u32>,
}

impl TextStore {
    /// Number of documents.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True if no document was read.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Total bytes of all documents.
    pub fn total_bytes(&self) -> u64 {
        self.offsets.last().copied().unwrap_or(0)
    }

    fn bytes(&self, doc: u32, start: u64, end: u64) -> Result<Vec<u8>> {
        let i = doc as usize;
        let (Some(&s), Some(&e)) = (self.offsets.get(i), self.offsets.get(i + 1)) else {
            return Ok(Vec::new());
        };
        let (from, to) = (s.saturating_add(start).min(e), s.saturating_add(end).min(e));
        let mut buf = vec![0u8; (to.saturating_sub(from)) as usize];
        self.store
            .read(&mut buf, from)
            .map_err(|e| Error::io(&self.store.path, e))?;
        Ok(buf)
    }
}

impl DocSource for TextStore {
    fn name(&self, doc: u32) -> Cow<'_, str> {
        let file = self.files.get(doc as usize).copied().unwrap_or(u32::MAX);
        self.names
            .get_in(doc as usize, self.file_names.get(file as usize))
    }

    fn document(&self, doc: u32) -> Result<Cow<'_, Document>> {
        let bytes = self.bytes(doc, 0, u64::MAX)?;
        Ok(Cow::Owned(Document::from_bytes(
            doc,
            self.name(doc).to_string(),
            bytes,
        )))
    }

    fn slice(&self, doc: u32, start: u32, end: u32) -> Result<Cow<'_, [u8]>> {
        Ok(Cow::Owned(self.bytes(doc, start.into(), end.into())?))
    }

    fn documents(&self) -> usize {
        self.len()
    }

    fn file_of(&self, doc: u32) -> Option<u32> {
        self.files.get(doc as usize).copied()
    }

    fn document_len(&self, doc: u32) -> Option<u64> {
        let i = doc as usize;
        let (s, e) = (self.offsets.get(i)?, self.offsets.get(i + 1)?);
        Some(e.saturating_sub(*s))
    }
}

/// Where the paragraphs of a spilled run are.
struct SpilledLayout<'a> {
    texts: &'a TextStore,
    tokens: &'a TokenStore,
    /// Start, end and first line of every paragraph, [`PARAGRAPH_RECORD`] bytes each.
    spans: &'a Store,
    failed: FirstError,
}

impl SpilledLayout<'_> {
    fn fail(&self, e: Error) {
        self.failed.set(e);
    }

    /// The document holding paragraph `p`.
    fn doc_of(&self, p: u32) -> u32 {
        let first = &self.texts.first_paragraph;
        first.partition_point(|&f| f <= p).saturating_sub(1) as u32
    }

    /// Start, end and first line of paragraph `p`.
    fn span(&self, p: u32) -> [u32; 3] {
        let mut span = [0u8; PARAGRAPH_RECORD];
        if let Err(e) = self
            .spans
            .read(&mut span, u64::from(p) * PARAGRAPH_RECORD as u64)
        {
            self.fail(Error::io(&self.spans.path, e));
        }
        let at = |i: usize| u32::from_le_bytes([span[i], span[i + 1], span[i + 2], span[i + 3]]);
        [at(0), at(4), at(8)]
    }
}

/// Bytes of a paragraph record in `paragraphs.bin`: start, end and first line, `u32`
/// each.
const PARAGRAPH_RECORD: usize = 12;

impl Layout for SpilledLayout<'_> {
    fn paragraph(&self, p: u32) -> Placed {
        let doc = self.doc_of(p);
        let first = self.texts.first_paragraph.get(doc as usize).copied();
        let [start, end, line] = self.span(p);
        Placed {
            doc,
            ordinal: p - first.unwrap_or(0),
            start,
            end,
            line,
        }
    }

    fn words(&self, p: u32) -> u32 {
        self.tokens.len_of(p)
    }

    fn texts(&self, ps: &[u32]) -> Result<Vec<Cow<'_, [u8]>>> {
        ps.iter()
            .map(|&p| {
                let at = self.paragraph(p);
                let bytes = self.texts.bytes(at.doc, at.start.into(), at.end.into())?;
                Ok(Cow::Owned(bytes))
            })
            .collect()
    }
}

/// What a spilled run found, with the stores the report and the cleaner read from.
pub struct Spilled {
    /// Counts; `clusters` and `analyses` are empty (clusters are read from `clusters`,
    /// documents from `texts`).
    pub findings: Findings,
    /// The clusters found, on disk in report order.
    pub clusters: ClusterStore,
    /// The documents read.
    pub texts: TextStore,
    /// Files skipped or read with a caveat.
    pub warnings: Vec<Warning>,
}

/// Reads one listed input file, as [`crate::corpus::read_input_batched`] does: its
/// documents go to the callback in batches as [`Batching`] says, and what went wrong is
/// returned.
pub type ReadFn<'a> = dyn Fn(&InputFile, Batching, &mut dyn FnMut(Vec<Document>) -> ControlFlow<()>) -> InputRead
    + Sync
    + 'a;

/// [`ReadFn`] for a whole file: its documents in one vector.
pub(crate) fn read_whole(read: &ReadFn<'_>, file: &InputFile) -> InputRead {
    let mut docs = Vec::new();
    let done = read(file, Batching::WHOLE, &mut |batch| {
        docs.extend(batch);
        ControlFlow::Continue(())
    });
    InputRead { docs, ..done }
}

/// Runs the whole pipeline over `files` with its intermediate data spilled under `dir`
/// (an existing directory, removed by the caller when done with the result). `read`
/// reads one listed file into its documents. Findings are the same as those of
/// [`find_duplicates`](crate::pipeline::find_duplicates) over the same documents.
pub fn find_duplicates_spilled(
    files: &[InputFile],
    read: &ReadFn<'_>,
    config: &Config,
    options: &SpillOptions,
    dir: &Path,
    on_stage: &(dyn Fn(&'static str) + Sync),
) -> Result<Spilled> {
    let fp = fingerprint(config);
    let mut clock = Instant::now();
    let mut timings = Vec::new();
    let mut lap = |name: &'static str, next: Option<&'static str>| {
        let now = Instant::now();
        timings.push((name, now - clock, peak_rss()));
        clock = now;
        if let Some(next) = next {
            on_stage(next);
        }
    };
    on_stage("read+map");

    // ---- Map: files in batches.
    let mut text_out = SpillWriter::create(dir.join("texts.bin"), RecordKind::Texts, fp)?;
    let mut token_out = SpillWriter::create(dir.join("tokens.bin"), RecordKind::Tokens, fp)?;
    let mut span_out = SpillWriter::create(dir.join("paragraphs.bin"), RecordKind::Paragraphs, fp)?;
    let mut exact_out = Buckets::<BandRecord>::create(dir, "exact", RecordKind::Exact, fp)?;
    let mut band_out = Buckets::<BandRecord>::create(dir, "bands", RecordKind::Band, fp)?;
    let mut seed_out = Buckets::<SeedPosting>::create(dir, "seeds", RecordKind::Seed, fp)?;
    let params = passage_params(config);

    let mut warnings = Vec::new();
    let mut text_offsets = vec![0u64];
    let mut names = Names::default();
    let mut doc_files = Vec::new();
    let mut first_paragraph = vec![0u32];
    let mut token_offsets = Offsets::default();
    let mut eligible_flags: Vec<bool> = Vec::new();
    let mut buf = Vec::new();
    // Analyzes documents (each with the index of its file) and writes what they give.
    let mut map = |docs: Vec<(u32, Document)>| -> Result<()> {
        let analyses: Vec<DocAnalysis> = docs.par_iter().map(|(_, d)| analyze(d, config)).collect();
        let base = first_paragraph.last().copied().unwrap_or(0);
        let mut table = TokenTable::new();
        // Each document and its analysis are freed as soon as they are written. A part of
        // a text file after its first goes on its document: its text after the text
        // before, its paragraphs after those before, their offsets and lines moved.
        for ((file, doc), an) in docs.into_iter().zip(analyses) {
            let (offset, lines) = doc.part.map_or((0, 0), |p| (p.offset, p.lines));
            let continued = offset > 0 && !doc_files.is_empty();
            text_out.write(doc.bytes())?;
            let last = first_paragraph.last().copied().unwrap_or(0);
            let count = last + an.paragraphs.len() as u32;
            match (text_offsets.last_mut(), first_paragraph.last_mut()) {
                (Some(text_end), Some(paragraph_end)) if continued => {
                    *text_end = text_out.len;
                    *paragraph_end = count;
                }
                _ => {
                    text_offsets.push(text_out.len);
                    first_paragraph.push(count);
                    names.push_in(&doc.name, files.get(file as usize).map_or("", |f| f.name()));
                    doc_files.push(file);
                }
            }
            drop(doc);
            let spans = an
                .paragraphs
                .iter()
                .flat_map(|p| [p.start + offset, p.end + offset, p.line + lines]);
            write_u32s(&mut span_out, spans, &mut buf)?;
            write_u32s(&mut token_out, an.hashes.iter().copied(), &mut buf)?;
            table.push_chunk(an.hashes, &an.token_counts);
        }
        for p in 0..table.len() {
            let n = table.get(p).len();
            token_offsets.push(n as u32);
            eligible_flags.push(n >= config.min_words);
        }
        let eligible: Vec<u32> = (0..table.len() as u32)
            .filter(|&p| eligible_flags[base as usize + p as usize])
            .collect();
        // The records are made a batch's worth of words at a time: a document larger than
        // a batch (a text file of many megabytes) holds one slice's records at a time, not
        // all of its own.
        for slice in word_slices(&table, &eligible, options.batch_bytes / BYTES_PER_WORD) {
            let mut exact: Vec<BandRecord> = slice
                .par_iter()
                .map(|&p| BandRecord {
                    key: sequence_key(table.get(p as usize)),
                    para: u64::from(base + p),
                })
                .collect();
            exact_out.append(&mut exact, |r| r.key)?;
            drop(exact);
            let mut bands = band_records(&table, slice, config, u64::from(base));
            band_out.append(&mut bands, |r| r.key)?;
            drop(bands);
            if config.passages {
                let mut seeds = seed_postings(&table, slice, &params);
                for s in &mut seeds {
                    s.para += u64::from(base);
                }
                seed_out.append(&mut seeds, |s| s.hash)?;
            }
        }
        Ok(())
    };
    let mut next = 0;
    while next < files.len() {
        if decoded_bytes(&files[next]) > options.batch_bytes {
            // A file larger than a batch is mapped alone, a batch of its records (a JSON
            // Lines file) or a part of about a batch (a text file) at a time as they are
            // read.
            let file = next as u32;
            let mut failed = None;
            let read = read(
                &files[next],
                Batching::parts(options.batch_bytes, config.paragraph_mode),
                &mut |docs| match map(docs.into_iter().map(|d| (file, d)).collect()) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(e) => {
                        failed = Some(e);
                        ControlFlow::Break(())
                    }
                },
            );
            if let Some(e) = failed {
                return Err(e);
            }
            warnings.extend(read.warnings);
            next += 1;
            continue;
        }
        let mut end = next;
        let mut bytes = 0u64;
        while end < files.len()
            && (end == next
                || bytes.saturating_add(decoded_bytes(&files[end])) <= options.batch_bytes)
        {
            bytes += decoded_bytes(&files[end]);
            end += 1;
        }
        let batch: Vec<InputRead> = files[next..end]
            .par_iter()
            .map(|f| read_whole(read, f))
            .collect();
        let mut docs = Vec::new();
        for (i, read) in batch.into_iter().enumerate() {
            warnings.extend(read.warnings);
            for doc in read.docs {
                docs.push(((next + i) as u32, doc));
            }
        }
        next = end;
        map(docs)?;
    }
    let texts = TextStore {
        store: text_out.finish()?,
        offsets: text_offsets,
        names,
        file_names: {
            let mut file_names = Names::default();
            for f in files {
                file_names.push(f.name());
            }
            file_names
        },
        files: doc_files,
        first_paragraph,
    };
    let tokens = TokenStore {
        store: token_out.finish()?,
        offsets: token_offsets,
        failed: FirstError::default(),
    };
    let spans = span_out.finish()?;
    let exact_in = exact_out.finish()?;
    let band_in = band_out.finish()?;
    let seed_in = seed_out.finish()?;
    let n = eligible_flags.len();
    let mut stats = Stats {
        paragraphs: n,
        tokens: tokens.offsets.total as usize,
        ..Stats::default()
    };
    release_free_memory();
    lap("read+map", Some("paragraphs"));

    // ---- Paragraph stage: exact groups, then LSH candidates among distinct paragraphs.
    // Exact groups are joined as they are found: each is its own set, whose root is its
    // first paragraph, so the others are the duplicates left out of LSH.
    let mut linked = UnionFind::new(n);
    for (b, q) in bucket_partitions() {
        let mut records = exact_in.read_partition(b, q, |_| true)?;
        for part in sort_into_partitions(&mut records, |r| r.key) {
            for run in part.chunk_by(|x, y| x.key == y.key) {
                for r in &run[1..] {
                    linked.union(run[0].para as u32, r.para as u32);
                }
            }
        }
    }
    let duplicate: Vec<bool> = (0..n as u32).map(|p| linked.find(p) != p).collect();
    // Candidate pairs are shuffled by pair: one pair comes from up to one band per
    // bucket, and near-duplicate-heavy corpora give many times more raw pairs than
    // distinct ones, so they are deduplicated one pair bucket at a time.
    let mut pair_out = Buckets::<CandidatePair>::create(dir, "pairs", RecordKind::Pair, fp)?;
    for (b, q) in bucket_partitions() {
        let records = band_in.read_partition(b, q, |r| {
            !duplicate.get(r.para as usize).copied().unwrap_or(true)
        })?;
        let mut pairs: Vec<CandidatePair> = candidate_pairs(vec![records])
            .into_iter()
            .map(|(a, b)| CandidatePair {
                a: a as u32,
                b: b as u32,
            })
            .collect();
        pair_out.append(&mut pairs, |p| pair_key(p.a, p.b))?;
    }
    drop(duplicate);
    let pair_in = pair_out.finish()?;
    let mut verified = Vec::new();
    for (b, q) in bucket_partitions() {
        let pairs = pair_in.read_distinct_partition(b, q)?;
        stats.candidates_verified += pairs.len();
        let candidates: Vec<(u32, u32)> = pairs.iter().map(|p| (p.a, p.b)).collect();
        drop(pairs);
        verified.extend(verify_candidates(&tokens, &candidates, config));
        tokens.error()?;
    }
    stats.pairs_accepted = verified.len();
    for &(a, b) in &verified {
        linked.union(a, b);
    }
    drop(verified);
    // The linked sets are split and their clusters written a chunk at a time, before
    // the passage stage, which needs only which paragraphs they report.
    let sets = linked.into_sets();
    let layout = SpilledLayout {
        texts: &texts,
        tokens: &tokens,
        spans: &spans,
        failed: FirstError::default(),
    };
    let mut clusters = ClusterRuns::create(dir, fp, options.run_rows, texts.len())?;
    let mut reported = vec![false; n];
    for chunk in sets.chunks(1 << 18) {
        let groups = split_paragraph_sets(&tokens, &chunk, config);
        tokens.error()?;
        mark_reported(&mut reported, &groups);
        clusters.push(paragraph_clusters_of(&groups, &layout))?;
    }
    layout.failed.take()?;
    drop(sets);
    release_free_memory();
    lap(
        "paragraphs",
        Some(if config.passages {
            "passages"
        } else {
            "assemble"
        }),
    );

    // ---- Passage stage: seed matches, shuffled by paragraph pair, then aligned.
    if config.passages {
        let mut match_out = Buckets::<SeedMatch>::create(dir, "matches", RecordKind::Match, fp)?;
        for (b, q) in bucket_partitions() {
            let postings = seed_in.read_partition(b, q, |s| {
                !reported.get(s.para as usize).copied().unwrap_or(true)
            })?;
            stats.seed_postings += postings.len();
            let mut matches = raw_seed_matches(vec![postings], config.min_words);
            match_out.append(&mut matches, |m| pair_key(m.a, m.b))?;
        }
        let match_in = match_out.finish()?;
        // The aligned pairs go to disk, and a union-find over paragraphs follows them: a
        // passage group only ever holds spans linked through pairs, so each component of
        // paragraphs is grouped on its own (its pairs, and none else, in one bucket).
        let mut components = UnionFind::new(n);
        let mut aligned_out =
            Buckets::<SpanPair>::create(dir, "aligned", RecordKind::SpanPair, fp)?;
        for (b, q) in bucket_partitions() {
            let matches = match_in.read_distinct_partition(b, q)?;
            stats.seed_matches += matches.len();
            let aligned = align_all(&tokens, &matches, &params);
            tokens.error()?;
            drop(matches);
            stats.alignments += aligned.len();
            let mut pairs: Vec<SpanPair> = aligned_pairs(&aligned)
                .into_iter()
                .map(|(x, y)| {
                    components.union(x.para, y.para);
                    SpanPair { a: x, b: y }
                })
                .collect();
            aligned_out.append(&mut pairs, |_| bucket_key(b))?;
        }
        drop(match_in);
        let aligned_in = aligned_out.finish()?;
        let roots = components.into_roots();
        let component = |p: &SpanPair| {
            let root = roots.get(p.a.para as usize).copied().unwrap_or(p.a.para);
            crate::shingle::mix(&[root])
        };
        let mut by_component =
            Buckets::<SpanPair>::create(dir, "components", RecordKind::SpanPair, fp)?;
        for b in 0..BUCKETS {
            by_component.append(&mut aligned_in.read(b, |_| true)?, component)?;
        }
        drop(roots);
        let by_component = by_component.finish()?;
        release_free_memory();
        // Each bucket's groups are written as clusters as soon as they are made; the
        // report's order depends on the clusters alone, not on the order they come in.
        for b in 0..BUCKETS {
            let pairs: Vec<(Interval, Interval)> = by_component
                .read(b, |_| true)?
                .into_iter()
                .map(|p| (p.a, p.b))
                .collect();
            group_passages_into(&tokens, pairs, config, &mut |groups| {
                tokens.error()?;
                // Nothing is kept for the report: it reads the spilled texts store.
                let holders = options.holder_bytes;
                passage_clusters_of(groups, &layout, 0, holders, &mut |done, _| {
                    clusters.push(done)
                })
            })?;
            tokens.error()?;
        }
        layout.failed.take()?;
        release_free_memory();
        lap("passages", Some("assemble"));
    }
    drop(reported);
    let clusters = clusters.finish()?;
    lap("assemble", None);
    stats.timings = timings;
    Ok(Spilled {
        findings: Findings {
            stats,
            ..Findings::default()
        },
        clusters,
        texts,
        warnings,
    })
}

/// Key of a paragraph pair: all candidate pairs, or all seed matches, of one pair share
/// a bucket.
fn pair_key(a: u32, b: u32) -> u64 {
    crate::shingle::mix(&[a, b])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: u64) -> Vec<BandRecord> {
        (0..n)
            .map(|i| BandRecord {
                key: i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                para: i,
            })
            .collect()
    }

    #[test]
    fn buckets_hold_whole_partitions_and_read_back_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Buckets::<BandRecord>::create(dir.path(), "t", RecordKind::Band, 7).unwrap();
        let all = records(10_000);
        out.append(&mut all[..6000].to_vec(), |r| r.key).unwrap();
        out.append(&mut all[6000..].to_vec(), |r| r.key).unwrap();
        let files = out.finish().unwrap();
        let mut back = Vec::new();
        for b in 0..BUCKETS {
            let part = files.read(b, |_| true).unwrap();
            assert!(part.iter().all(|r| bucket(r.key) == b));
            back.extend(part);
        }
        back.sort_unstable_by_key(|r| r.para);
        assert_eq!(back, all);
        let odd = files.read(3, |r| r.para % 2 == 1).unwrap();
        assert!(odd.iter().all(|r| r.para % 2 == 1 && bucket(r.key) == 3));
        // Each partition alone, from both runs: its records and no other.
        let mut by_partition = Vec::new();
        for (b, q) in bucket_partitions() {
            let part = files.read_partition(b, q, |_| true).unwrap();
            let p = b * PARTS_PER_BUCKET + q;
            assert!(part.iter().all(|r| partition(r.key) == p), "partition {p}");
            assert_eq!(
                part.len(),
                all.iter().filter(|r| partition(r.key) == p).count()
            );
            by_partition.extend(part);
        }
        by_partition.sort_unstable_by_key(|r| r.para);
        assert_eq!(by_partition, all);
        let odd = files.read_partition(3, 2, |r| r.para % 2 == 1).unwrap();
        assert!(odd
            .iter()
            .all(|r| r.para % 2 == 1 && partition(r.key) == 14));
    }

    #[test]
    fn foreign_truncated_or_other_run_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Buckets::<BandRecord>::create(dir.path(), "t", RecordKind::Band, 7).unwrap();
        out.append(&mut records(1000), |r| r.key).unwrap();
        let files = out.finish().unwrap();
        // Another run's parameters.
        let other = BucketFiles::<BandRecord> {
            stores: vec![Store::open(files.stores[0].path.clone()).unwrap()],
            runs: files.runs.clone(),
            kind: RecordKind::Band,
            fingerprint: 8,
            _records: PhantomData,
        };
        assert!(other.read(0, |_| true).is_err());
        assert!(other.read_partition(0, 0, |_| true).is_err());
        // A truncated record.
        let path = files.stores[1].path.clone();
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len > Header::SIZE as u64);
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 3).unwrap();
        let err = files.read(1, |_| true).unwrap_err().to_string();
        assert!(
            err.contains("truncated") && err.contains("t-01.bin"),
            "{err}"
        );
        // Read by partition, the last one runs past the end.
        let last = PARTS_PER_BUCKET - 1;
        let err = files
            .read_partition(1, last, |_| true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("t-01.bin"), "{err}");
        // Not a neardup file at all.
        let foreign = dir.path().join("foreign.bin");
        std::fs::write(&foreign, b"PK\x03\x04 something else entirely").unwrap();
        let err = Store::open(foreign)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("magic") && err.contains("foreign.bin"),
            "{err}"
        );
    }

    #[test]
    fn compressed_json_lines_count_as_their_decoded_size() {
        let file =
            |name: &str| InputFile::new(PathBuf::from(name), name.to_string()).with_len(Some(100));
        assert_eq!(decoded_bytes(&file("a.txt")), 100);
        assert_eq!(decoded_bytes(&file("a.jsonl")), 100);
        assert_eq!(decoded_bytes(&file("a.jsonl.gz")), 400);
        assert_eq!(decoded_bytes(&file("A.JSONL.ZST")), 500);
        assert_eq!(
            decoded_bytes(&InputFile::new("b.jsonl.gz".into(), "b".into())),
            0
        );
    }

    #[test]
    fn token_store_reads_back_each_paragraph() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SpillWriter::create(dir.path().join("tok.bin"), RecordKind::Tokens, 1).unwrap();
        // More paragraphs than one offset block.
        let mut paras: Vec<Vec<TokenHash>> = vec![vec![1, 2, 3], vec![], vec![TokenHash::MAX, 0]];
        paras.extend((0..200).map(|i| (0..i % 7).map(|j| i * 10 + j).collect()));
        let mut offsets = Offsets::default();
        for p in &paras {
            let bytes: Vec<u8> = p.iter().flat_map(|h| h.to_le_bytes()).collect();
            w.write(&bytes).unwrap();
            offsets.push(p.len() as u32);
        }
        let store = TokenStore {
            store: w.finish().unwrap(),
            offsets,
            failed: FirstError::default(),
        };
        for (i, p) in paras.iter().enumerate() {
            assert_eq!(store.tokens(i as u32).as_ref(), &p[..]);
            assert_eq!(store.len_of(i as u32) as usize, p.len());
        }
        assert!(store.tokens(paras.len() as u32).is_empty());
        assert!(store.error().is_ok());
    }
}
